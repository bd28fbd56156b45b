"""The storefront CORS policy at unit level: origins validated with the settings, the functions'
answers (a refusal before routing too), and what the local gateway answers for API Gateway."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudtill.api import create_app, handle
from cloudtill.cors import ALLOW_HEADERS, allow_headers
from cloudtill.settings import ShopSettings
from pydantic import ValidationError

from localrt.gateway import Gateway

STOREFRONT = "https://shop.example.com"


@pytest.mark.parametrize(
    "origin",
    [
        "https://shop.example.com/",  # a trailing slash never equals a browser's Origin
        "https://shop.example.com/path",
        "https://Shop.Example.com",  # browsers send the host in lower case
        "*",
        "shop.example.com",
        "http://shop.example.com",  # plain http only for a local storefront
        "https://*.example.com",
    ],
)
def test_a_cors_origin_that_no_browser_sends_fails_the_settings(origin: str) -> None:
    with pytest.raises(ValidationError, match="cors_origins"):
        ShopSettings(cors_origins=[STOREFRONT, origin])


def test_origins_are_exact_and_listed_once() -> None:
    assert ShopSettings(cors_origins=[STOREFRONT, "http://localhost:3000"]).cors_origins[0] == STOREFRONT
    with pytest.raises(ValidationError, match="twice"):
        ShopSettings(cors_origins=[STOREFRONT, STOREFRONT])


def _event(origin: str | None, body: str = "", path: str = "/nothing-here") -> dict[str, Any]:
    headers = {"origin": origin} if origin else {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": "r", "resourcePath": path, "httpMethod": "POST"},
        "body": body,
        "isBase64Encoded": False,
    }


def _headers(response: dict[str, Any]) -> dict[str, str]:
    merged = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged[name] = ",".join(values)
    return merged


def test_a_refusal_before_routing_still_names_the_allowed_origin() -> None:
    # Given a function for the storefront / When the body is too large (refused before routing)
    app = create_app([STOREFRONT])
    response = handle(app, _event(STOREFRONT, body="x" * 2048), None, max_body_bytes=1024)
    # Then the 413 is readable by the storefront, and caches keep answers apart per origin
    assert response["statusCode"] == 413
    headers = _headers(response)
    assert headers["Access-Control-Allow-Origin"] == STOREFRONT
    assert headers["Vary"] == "Origin"
    assert "Location" in headers["Access-Control-Expose-Headers"]


def test_a_routed_answer_names_only_an_allowed_origin() -> None:
    app = create_app([STOREFRONT])
    allowed = _headers(handle(app, _event(STOREFRONT), None, max_body_bytes=1024))
    assert allowed["Access-Control-Allow-Origin"] == STOREFRONT
    assert set(ALLOW_HEADERS) <= set(allowed["Access-Control-Allow-Headers"].split(","))
    foreign = _headers(handle(app, _event("https://evil.example.com"), None, max_body_bytes=1024))
    assert "Access-Control-Allow-Origin" not in foreign and foreign["Vary"] == "Origin"


# --- the local gateway: what API Gateway answers before any function runs ----------------------------


def _gateway() -> Gateway:
    return Gateway({}, "token", [STOREFRONT, "http://localhost:3000"])


def _local_headers(response: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers}


def test_the_local_preflight_is_the_stacks_mock_integration() -> None:
    gateway = _gateway()
    for path in ("/checkouts", "/checkouts/chk_1", "/admin", "/"):
        response = gateway.dispatch("OPTIONS", path, {"origin": "http://localhost:3000"}, b"", "127.0.0.1")
        assert response.status == 204, path
        headers = _local_headers(response)
        assert headers["access-control-allow-origin"] == "http://localhost:3000"
        assert headers["access-control-allow-headers"] == ",".join(allow_headers())
        assert "POST" in headers["access-control-allow-methods"].split(",")
    # A foreign origin: the static first origin, never the caller's
    foreign = gateway.dispatch("OPTIONS", "/checkouts", {"origin": "https://evil.example"}, b"", "1.2.3.4")
    assert _local_headers(foreign)["access-control-allow-origin"] == STOREFRONT
    # No resource there: the missing-route gateway response
    assert gateway.dispatch("OPTIONS", "/nowhere/at/all", {}, b"", "1.2.3.4").status == 404


@pytest.mark.parametrize("method", ["TRACE", "PATCH", "CONNECT", "BREW"])
def test_a_method_no_route_has_is_the_missing_route_gateway_response(method: str) -> None:
    response = _gateway().dispatch(method, "/products", {}, b"", "1.2.3.4")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    body = json.loads(response.body)
    assert body["type"] == "https://cloudtill.dev/problems/not-found" and body["status"] == 404
    assert body["detail"] == "Missing Authentication Token"
    assert _local_headers(response)["access-control-allow-origin"] == "*"
