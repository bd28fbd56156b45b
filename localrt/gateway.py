"""API Gateway's part: HTTP on loopback -> REST proxy event -> the real handler -> HTTP response.

It serves exactly the routes of `infra/wiring.py` (see `served_routes()`, compared with the synthesized
template by tests/infra) with the same auth rule as the stack: admin routes need a bearer token (the
local admin token here, a Cognito token of the admin group in AWS). What API Gateway answers by itself
is answered here from the same definitions (infra/gateway_responses.py): the CORS preflight of every
resource, and the gateway responses (an unknown path or method, a missing token, a failed function).
Local-only routes live under `/_local/` and are never part of the deployed API or its OpenAPI document.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.gateway_responses import (
    GATEWAY_RESPONSE_HEADERS,
    preflight_headers,
    preflight_methods,
    problem_document,
)
from infra.wiring import ROUTES, Route
from localrt.functions import FunctionPool, InvocationError

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def served_routes() -> set[tuple[str, str, str, str]]:
    """(method, path, function, auth) of every route this gateway serves (local-only routes excluded)."""
    return {(r.method, r.path, r.function, r.auth) for r in ROUTES}


@dataclass(frozen=True)
class LocalResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LocalRequest:
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


LocalRoute = Callable[[LocalRequest], LocalResponse]


def json_response(status: int, data: Any) -> LocalResponse:
    return LocalResponse(status, json.dumps(data, default=str).encode())


def problem(status: int, title: str, detail: str, **extra: Any) -> LocalResponse:
    body: dict[str, Any] = {"type": f"https://cloudtill.dev/problems/{title.lower().replace(' ', '-')}"}
    body["title"] = title
    body.update({"status": status, "detail": detail, **extra})
    return LocalResponse(status, json.dumps(body).encode(), "application/problem+json")


def gateway_problem(response_type: str, status: int, message: str) -> LocalResponse:
    """API Gateway's gateway response `response_type`, as the stack defines it."""
    body = problem_document(response_type, status, message, str(uuid.uuid4()))
    status = int(body["status"])
    headers = tuple((k, v) for k, v in GATEWAY_RESPONSE_HEADERS.items() if k.lower() != "content-type")
    return LocalResponse(status, json.dumps(body).encode(), GATEWAY_RESPONSE_HEADERS["Content-Type"], headers)


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


def _resource_paths(routes: Sequence[Route]) -> set[str]:
    """Every API Gateway resource the routes create: their paths and each parent, the root too."""
    paths = {"/"}
    for route in routes:
        segments = route.path.strip("/").split("/")
        paths.update("/" + "/".join(segments[:n]) for n in range(1, len(segments) + 1))
    return paths


class Gateway:
    def __init__(
        self, pools: dict[str, FunctionPool], admin_token: str, cors_origins: Sequence[str] = ()
    ) -> None:
        self.pools = pools
        self._admin_token = admin_token
        self._routes = [(route, _pattern(route.path)) for route in ROUTES]
        # Each resource answers the preflight (the stack's default CORS preflight options).
        self._resources = [_pattern(path) for path in sorted(_resource_paths(ROUTES))]
        self._cors_origins = list(cors_origins)
        self._preflight_methods = preflight_methods(route.method for route in ROUTES)
        self.local_routes: list[tuple[str, re.Pattern[str], LocalRoute]] = []

    def add_local_route(self, method: str, path: str, handler: LocalRoute) -> None:
        if not path.startswith("/_local/") and path not in {"/openapi.json", "/docs"}:
            raise ValueError("local-only routes live under /_local/")
        self.local_routes.append((method, _pattern(path), handler))

    def _local(self, method: str, path: str) -> tuple[LocalRoute, dict[str, str]] | None:
        for route_method, pattern, handler in self.local_routes:
            found = pattern.match(path)
            if found and route_method == method:
                return handler, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | LocalResponse:
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found and route.method == method:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        # API Gateway answers an unknown path and a method no route of the path has alike.
        return gateway_problem("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")

    def preflight(self, path: str, headers: dict[str, str]) -> LocalResponse | None:
        """The OPTIONS mock integration of a resource (None: no resource here, or no CORS)."""
        if not self._cors_origins or not any(pattern.match(path) for pattern in self._resources):
            return None
        answer = preflight_headers(self._cors_origins, headers.get("origin"), self._preflight_methods)
        return LocalResponse(204, b"", headers=tuple(answer.items()))

    def authorize(self, route: Route, headers: dict[str, str]) -> dict[str, Any] | LocalResponse:
        if route.auth != "admin":
            return {}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self._admin_token.encode()
        ):
            return gateway_problem("UNAUTHORIZED", 401, "Unauthorized")
        # What API Gateway's Cognito authorizer would pass on for a member of the admin group.
        return {"claims": {"sub": "local-admin", "cognito:groups": "admin", "token_use": "id"}}

    def shown_path(self, method: str, raw_path: str) -> str:
        """The path as a log line shows it: no query string, and a route's `{email}` parameters as the
        placeholder (a log line never carries a customer's address)."""
        path = urlsplit(raw_path).path or "/"
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found and route.method == method:
                shown = route.path
                for name, value in found.groupdict().items():
                    if "email" not in name:
                        shown = shown.replace("{" + name + "}", value)
                return shown
        return path

    def dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> LocalResponse:
        split = urlsplit(raw_path)
        path = split.path or "/"
        local = self._local(method, path)
        if local is not None:
            handler, params = local
            return handler(LocalRequest(params, dict(parse_qsl(split.query)), headers, body))
        if method == "OPTIONS":
            preflight = self.preflight(path, headers)
            if preflight is not None:
                return preflight
        matched = self.match(method, path)
        if isinstance(matched, LocalResponse):
            return matched
        route, path_parameters = matched
        authorizer = self.authorize(route, headers)
        if isinstance(authorizer, LocalResponse):
            return authorizer
        event = proxy_event(
            route, method, path, split.query, headers, body, path_parameters, authorizer, source_ip
        )
        try:
            result = self.pools[route.function].invoke(event)
        except InvocationError:
            # What API Gateway answers when the function fails (see its log for why).
            return gateway_problem("DEFAULT_5XX", 502, "Internal server error")
        return from_proxy_result(result)


def proxy_event(
    route: Route,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    path_parameters: dict[str, str],
    authorizer: dict[str, Any],
    source_ip: str,
) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event."""
    pairs = parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for name, value in pairs:
        multi_query.setdefault(name, []).append(value)
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
            "authorizer": authorizer or None,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def from_proxy_result(result: dict[str, Any]) -> LocalResponse:
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "application/json")
    headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return LocalResponse(int(result.get("statusCode", 200)), body, content_type, tuple(headers))


# (method, path, status or None when the client hung up, seconds)
AccessLog = Callable[[str, str, int | None, float], None]


def make_http_server(
    gateway: Gateway, host: str, port: int, access_log: AccessLog | None = None
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cloudtill-local"

        def _serve(self) -> None:
            started = time.monotonic()
            try:
                status = self._answer()
            except ConnectionError:
                # The client hung up before its answer was written: one line, not a traceback.
                self.close_connection = True
                shown = gateway.shown_path(self.command, self.path)
                if access_log is not None:
                    access_log(self.command, shown, None, time.monotonic() - started)
                else:
                    print(f"{self.command} {shown}: the client hung up", flush=True)
                return
            if access_log is not None:
                access_log(
                    self.command,
                    gateway.shown_path(self.command, self.path),
                    status,
                    time.monotonic() - started,
                )

        def _answer(self) -> int:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                response = gateway_problem("REQUEST_TOO_LARGE", 413, "Request Too Long")
                self.close_connection = True
            else:
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                response = gateway.dispatch(self.command, self.path, headers, body, self.client_address[0])
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return response.status

        def __getattr__(self, name: str) -> Any:
            # Every method reaches the gateway (TRACE, CONNECT, made-up ones), as every method reaches
            # API Gateway, instead of http.server's 501 HTML page for methods without a `do_` handler.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # access lines would carry paths with ids and emails; the handlers log what matters

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # a burst of storefront requests must queue, not be reset
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            if isinstance(sys.exc_info()[1], ConnectionError):
                return  # a client that hung up while its request was read: nothing to answer
            super().handle_error(request, client_address)

    server = Server((host, port), Handler)
    return server
