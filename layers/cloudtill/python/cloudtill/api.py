"""The HTTP side every API function shares: one resolver factory and one entry point.

`create_app()` gives a Powertools REST resolver with request validation (pydantic models -> OpenAPI),
the problem+json error mapping and the storefront CORS policy (cloudtill.cors) for the region's
`cors_origins`. `handle()` refuses, before any parsing, oversized bodies, admin calls without the
admin group and bodies that are not JSON (a form post: 415 "send JSON"), then resolves; every answer,
a refusal too, carries the CORS headers of an allowed `Origin` and `Vary: Origin`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from re import Match
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig

from cloudtill.cors import cors_config
from cloudtill.errors import (
    DomainError,
    FieldError,
    MalformedRequest,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from cloudtill.problems import domain_problem_proxy, register_problem_handlers
from cloudtill.settings import get_settings

ADMIN_PREFIX = "/admin/"
ADMIN_GROUP = "admin"
JSON_MEDIA_TYPE = "application/json"


def caller_groups(event: dict[str, Any]) -> set[str]:
    """Groups of the caller as API Gateway's Cognito authorizer (or the local gateway) passes them."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    groups = (authorizer.get("claims") or {}).get("cognito:groups", "")
    if isinstance(groups, list):
        return {str(g) for g in groups}
    # API Gateway flattens the claim to a string such as "[admin ops]" or "admin,ops".
    return {g for g in str(groups).strip("[]").replace(",", " ").split() if g}


class _DecodingRestResolver(APIGatewayRestResolver):
    """API Gateway REST delivers `path` still percent-encoded (only `pathParameters` are decoded), and
    Powertools takes path parameters from `path`: `/admin/stock/A%20B` would reach the handler as the
    SKU `A%20B`. Routes are matched on the encoded path (so `%2F` stays inside one segment); each
    parameter is decoded afterwards, as API Gateway decodes `pathParameters`."""

    def __init__(self, cors: CORSConfig | None) -> None:
        super().__init__(cors=cors, enable_validation=True)
        self.storefront_cors = cors

    def _convert_matches_into_route_keys(self, match: Match[str]) -> dict[str, str]:
        return {name: unquote(value) for name, value in match.groupdict().items()}


def create_app(cors_origins: Sequence[str] | None = None) -> APIGatewayRestResolver:
    """The resolver of an API function; `cors_origins` defaults to the region's settings."""
    origins = get_settings().shop_settings.cors_origins if cors_origins is None else cors_origins
    app = _DecodingRestResolver(cors_config(origins))
    register_problem_handlers(app)
    return app


def _header(event: dict[str, Any], wanted: str) -> str | None:
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == wanted:
            return str(value)
    return None


def _request_origin(event: dict[str, Any]) -> str | None:
    return _header(event, "origin")


def _not_json(event: dict[str, Any]) -> UnsupportedMediaType | None:
    """A body sent as anything but JSON (a form, multipart, text): no body is given a Content-Type
    (JSON is assumed then, as Powertools does)."""
    content_type = _header(event, "content-type")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not media_type or media_type == JSON_MEDIA_TYPE:
        return None
    return UnsupportedMediaType(
        f"Send the request body as JSON with `Content-Type: {JSON_MEDIA_TYPE}`; "
        f"this one was sent as {media_type}.",
        [FieldError("body", f"send JSON (Content-Type: {JSON_MEDIA_TYPE}), not {media_type}")],
    )


def _with_cors(response: dict[str, Any], event: dict[str, Any], cors: CORSConfig | None) -> dict[str, Any]:
    """Adds what the resolver cannot (a refusal never reaches it) and `Vary: Origin` (the answer
    depends on the origin, so a cache must not hand one origin's answer to another)."""
    if cors is None:
        return response
    headers = dict(response.get("headers") or {})
    origin = _request_origin(event)
    multi = response.get("multiValueHeaders") or {}
    if origin is not None and "Access-Control-Allow-Origin" not in multi:
        allowed = cors.allowed_origin(origin)
        if allowed is not None:
            headers.update(cors.to_dict(allowed))
    headers["Vary"] = "Origin"
    response["headers"] = headers
    return response


def _refusal(event: dict[str, Any], max_body_bytes: int) -> DomainError | None:
    body = event.get("body") or ""
    if len(body.encode() if isinstance(body, str) else body) > max_body_bytes:
        return PayloadTooLarge(
            f"The request body is larger than {max_body_bytes} bytes.",
            [FieldError("body", f"at most {max_body_bytes} bytes")],
        )
    # Every body this API accepts is UTF-8 JSON; a binary (base64-delivered) body that is not UTF-8
    # text would make Powertools' body decoding raise (a 500) instead of a client error.
    if body and event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return MalformedRequest(
                "The request body is not UTF-8 text.", [FieldError("body", "must be UTF-8 encoded JSON")]
            )
    # Defence in depth behind the authorizer: a valid user token is not enough, the admin group is.
    if str(event.get("path", "")).startswith(ADMIN_PREFIX) and ADMIN_GROUP not in caller_groups(event):
        return Unauthorized("Admin routes need a token of the admin group.")
    return _not_json(event) if body else None


def handle(
    app: APIGatewayRestResolver, event: dict[str, Any], context: Any, max_body_bytes: int
) -> dict[str, Any]:
    cors = app.storefront_cors if isinstance(app, _DecodingRestResolver) else None
    refusal = _refusal(event, max_body_bytes)
    if refusal is not None:
        return _with_cors(domain_problem_proxy(refusal), event, cors)
    return _with_cors(app.resolve(event, context), event, cors)
