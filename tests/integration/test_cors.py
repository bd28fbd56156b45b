"""CORS as a browser storefront sees it: the preflight API Gateway answers, the headers on function
responses (GET, POST, a 4xx) and on the gateway's own errors, and a foreign origin left out.

The local backend runs with the default shop settings, whose only storefront origin is
http://localhost:3000."""

from __future__ import annotations

import httpx
from cloudtill.cors import ALLOW_HEADERS, EXPOSE_HEADERS

from tests.integration.checkout_support import checkout_body, make_skus
from tests.integration.conftest import RunningBackend
from tests.integration.security_support import assert_problem
from tests.integration.stock_helpers import receive

STOREFRONT = "http://localhost:3000"
FOREIGN = "https://evil.example.com"


def _names(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def _assert_storefront_may_read(response: httpx.Response) -> None:
    assert response.headers.get("access-control-allow-origin") == STOREFRONT, response.headers
    assert "origin" in _names(response.headers.get("vary", "")), response.headers
    assert {h.lower() for h in EXPOSE_HEADERS} <= _names(response.headers["access-control-expose-headers"])


def test_the_preflight_allows_the_storefront_headers_and_methods(api: httpx.Client) -> None:
    # Given the storefront origin / When the browser asks before a POST /checkouts with our headers
    response = api.options(
        "/checkouts",
        headers={
            "Origin": STOREFRONT,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key,x-checkout-token",
        },
    )
    # Then 204 naming the origin, every header a storefront sends, and the methods
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == STOREFRONT
    allowed = _names(response.headers["access-control-allow-headers"])
    assert {"content-type", "authorization", "x-checkout-token", "idempotency-key", "x-cart-token"} <= allowed
    assert {h.lower() for h in ALLOW_HEADERS} <= allowed
    assert {"GET", "POST", "OPTIONS"} <= set(response.headers["access-control-allow-methods"].split(","))
    assert "origin" in _names(response.headers["vary"])
    assert int(response.headers["access-control-max-age"]) > 0
    # A path with parameters (the checkout read with its token) has its preflight too
    nested = api.options(
        "/checkouts/chk_probe",
        headers={"Origin": STOREFRONT, "Access-Control-Request-Method": "GET"},
    )
    assert nested.status_code == 204 and nested.headers["access-control-allow-origin"] == STOREFRONT


def test_a_get_carries_the_allowed_origin(api: httpx.Client) -> None:
    response = api.get("/products", headers={"Origin": STOREFRONT})
    assert response.status_code == 200, response.text
    _assert_storefront_may_read(response)


def test_a_post_and_its_4xx_carry_the_allowed_origin(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    # Given a SKU on hand
    (sku,) = make_skus(admin, unique)
    receive(backend, admin, sku, 5)
    # When the storefront checks out (with an idempotency key, as browsers retry)
    created = api.post(
        "/checkouts",
        json=checkout_body((sku, 1)),
        headers={"Origin": STOREFRONT, "Idempotency-Key": f"cors-{unique}"},
    )
    # Then the 201 is readable by the storefront
    assert created.status_code == 201, created.text
    _assert_storefront_may_read(created)
    # And so is a validation problem from the function
    invalid = api.post("/checkouts", json=checkout_body((sku, 0)), headers={"Origin": STOREFRONT})
    assert_problem(invalid, 422)
    _assert_storefront_may_read(invalid)
    # And the checkout read with a wrong token (a 4xx of the function)
    checkout_id = created.json()["id"]
    refused = api.get(
        f"/checkouts/{checkout_id}", headers={"Origin": STOREFRONT, "X-Checkout-Token": "not-the-token"}
    )
    assert 400 <= refused.status_code < 500, refused.text
    _assert_storefront_may_read(refused)


def test_gateway_errors_are_readable_cross_origin(api: httpx.Client) -> None:
    # API Gateway's own answers (no function ran): any origin may read these generic problems
    unknown = api.get("/no-such-route", headers={"Origin": STOREFRONT})
    assert_problem(unknown, 404)
    assert unknown.headers["access-control-allow-origin"] == "*"
    unauthorized = api.get("/admin/orders", headers={"Origin": STOREFRONT})
    assert_problem(unauthorized, 401)
    assert unauthorized.headers["access-control-allow-origin"] == "*"


def test_a_method_no_route_has_is_the_gateways_problem_not_an_html_page(api: httpx.Client) -> None:
    # Given a path the API serves / When a method no route has is sent (TRACE, as fuzzers do)
    for method in ("TRACE", "PATCH", "PUT"):
        response = api.request(method, "/products", headers={"Origin": STOREFRONT})
        # Then it is the stack's MISSING_AUTHENTICATION_TOKEN gateway response: a 404 problem
        body = assert_problem(response, 404)
        assert body["type"].endswith("/not-found"), body
        assert response.headers["access-control-allow-origin"] == "*"


def test_a_foreign_origin_is_not_allowed(api: httpx.Client) -> None:
    # A function response names no origin for a foreign one
    response = api.get("/products", headers={"Origin": FOREIGN})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers, response.headers
    # The preflight (API Gateway's mock integration) never names the foreign origin, so the browser
    # refuses the request
    preflight = api.options(
        "/checkouts", headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers.get("access-control-allow-origin") != FOREIGN
    assert preflight.headers.get("access-control-allow-origin") != "*"
