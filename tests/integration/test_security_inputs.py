"""Hostile input across the API: oversized bodies on every POST/PUT route (from the wiring) are refused
before any work; injection-shaped strings are plain data — stored and returned verbatim, without effect."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cloudtill.catalog.api import Sku
from pydantic import TypeAdapter, ValidationError

from infra.wiring import Route
from tests.integration.checkout_support import checkout_body, make_skus
from tests.integration.conftest import ADMIN_TOKEN, RunningBackend
from tests.integration.security_support import assert_problem, body_routes, concrete_path, route_id
from tests.integration.stock_helpers import counters, receive

LIMIT = 256 * 1024
INJECTIONS = (
    "' OR '1'='1",
    '"; DROP TABLE orders; --',
    "{{7*7}}",
    "${jndi:ldap://x}",
    "<img src=x onerror=alert(1)>",
    "#{7*7} %s %n \\u0000",
    "begins_with(PK, :p) OR attribute_exists(PK)",
)


def _oversized_body() -> bytes:
    """Valid JSON, just too large: the refusal must be about the size, not the syntax."""
    return json.dumps({"padding": "x" * (LIMIT + 1024)}).encode()


@pytest.mark.parametrize("route", body_routes(), ids=route_id)
def test_a_body_over_256_kib_is_refused_on_every_body_route(api: httpx.Client, route: Route) -> None:
    headers = {"Content-Type": "application/json"}
    if route.auth == "admin":
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    response = api.request(route.method, concrete_path(route), content=_oversized_body(), headers=headers)
    assert_problem(response, {413, 400})


def test_an_oversized_checkout_reserves_nothing(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 3)
    body = checkout_body((sku, 1))
    body["shipping_address"]["line2"] = "x" * (LIMIT + 10)
    assert_problem(api.post("/checkouts", json=body), {413, 400})
    assert counters(backend, sku)["reserved"] == 0


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_strings_in_product_fields_are_stored_verbatim(
    api: httpx.Client, admin: httpx.Client, unique: str, payload: str
) -> None:
    # Given a product whose name, description and variant name are injection-shaped strings
    body = {
        "name": payload,
        "description": f"desc {payload}",
        "category": f"inj-{unique}",
        "variants": [{"sku": f"INJ-{unique}", "name": payload, "price": 999}],
    }
    created = admin.post("/admin/products", json=body)
    assert created.status_code == 201, created.text
    # Then they come back exactly as sent, publicly, and nothing else was matched or evaluated
    product = api.get(f"/products/{created.json()['id']}").json()
    assert (product["name"], product["description"], product["variants"][0]["name"]) == (
        payload,
        f"desc {payload}",
        payload,
    )
    listed = api.get("/products", params={"category": f"inj-{unique}"}).json()["items"]
    assert [p["id"] for p in listed] == [created.json()["id"]]
    assert "49" not in product["name"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_strings_as_skus_are_stored_verbatim_or_refused_by_the_documented_pattern(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str, payload: str
) -> None:
    # SKUs shops already use are kept verbatim, odd characters included; only characters that cannot
    # travel in a URL path segment are refused (422 naming the field), never a 5xx.
    sku = f"{payload} {unique}"
    body = {"name": "x", "category": f"inj-{unique}", "variants": [{"sku": sku, "name": "x", "price": 100}]}
    created = admin.post("/admin/products", json=body)
    try:
        TypeAdapter(Sku).validate_python(sku)
    except ValidationError:
        assert_problem(created, 422)
        assert assert_problem(api.post("/checkouts", json=checkout_body((sku, 1))), 422)
        return
    assert created.status_code == 201, created.text
    assert created.json()["variants"][0]["sku"] == sku
    # The SKU works as an ordinary key: stock, a checkout, its counters; nothing else is touched
    receive(backend, admin, sku, 2)
    stock = admin.get(f"/admin/stock/{quote(sku, safe='')}")
    assert stock.status_code == 200, stock.text
    assert stock.json()["sku"] == sku
    checkout = api.post("/checkouts", json=checkout_body((sku, 1)))
    assert checkout.status_code == 201, checkout.text
    assert [line["sku"] for line in checkout.json()["lines"]] == [sku]
    assert counters(backend, sku) == {"on_hand": 2, "reserved": 1, "available": 1, "backorder_limit": 0}


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_strings_in_addresses_and_emails_are_stored_verbatim(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str, payload: str
) -> None:
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 2)
    address = {
        "name": payload,
        "line1": payload,
        "line2": payload,
        "city": payload[:100],
        "postal_code": payload[:20],
        "country": "IE",
    }
    response = api.post("/checkouts", json=checkout_body((sku, 1), shipping_address=address))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    read = api.get(f"/checkouts/{created['id']}", headers={"X-Checkout-Token": created["token"]})
    assert read.status_code == 200
    assert read.json()["shipping_address"] == address
    assert counters(backend, sku)["reserved"] == 1  # exactly this checkout's unit, nothing else touched


@pytest.mark.parametrize(
    "email", ["o'reilly+'or'1'='1@example.com", "{{7*7}}@example.com", "${jndi}@example.com"]
)
def test_injection_shaped_emails_are_data(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str, email: str
) -> None:
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 1)
    response = api.post("/checkouts", json=checkout_body((sku, 1), email=email))
    # Valid addresses by RFC 5322 (quotes, braces and dollars are allowed in the local part)
    if response.status_code == 422:
        assert_problem(response, 422)
        return
    assert response.status_code == 201, response.text
    assert response.json()["email"] == email
