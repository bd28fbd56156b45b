"""Access control across the whole API: admin routes refuse callers without the admin token, and a
shopper's token opens only that shopper's checkout (and order). Routes come from infra/wiring.py, so a
route added tomorrow is covered without touching this file."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from infra.wiring import ROUTES, Route
from tests.integration.checkout_support import checkout_body, make_skus
from tests.integration.conftest import ADMIN_TOKEN, RunningBackend
from tests.integration.security_support import admin_routes, assert_problem, concrete_path, route_id
from tests.integration.stock_helpers import receive

ADMIN = admin_routes()
WRONG_AUTHORIZATIONS = {
    "missing": None,
    "wrong token": "Bearer not-the-admin-token",
    "token with a suffix": f"Bearer {ADMIN_TOKEN}x",
    "token prefix only": f"Bearer {ADMIN_TOKEN[:-1]}",
    "basic scheme": f"Basic {ADMIN_TOKEN}",
    "token without scheme": ADMIN_TOKEN,
    "bearer without token": "Bearer",
}


def _send(api: httpx.Client, route: Route, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = {} if route.method in {"POST", "PUT", "PATCH"} else None
    return api.request(route.method, concrete_path(route), json=body, headers=headers)


def test_the_wiring_has_admin_routes_to_check() -> None:
    assert len(ADMIN) >= 10
    assert all(r.path.startswith("/admin/") for r in ADMIN)
    # The reverse: nothing under /admin/ is served without the admin check.
    assert all(r.auth == "admin" for r in ROUTES if r.path.startswith("/admin/"))


@pytest.mark.parametrize("route", ADMIN, ids=route_id)
@pytest.mark.parametrize("authorization", list(WRONG_AUTHORIZATIONS.values()), ids=list(WRONG_AUTHORIZATIONS))
def test_admin_route_refuses_a_caller_without_the_admin_token(
    api: httpx.Client, route: Route, authorization: str | None
) -> None:
    # Given no, or a wrong, admin token / When the admin route is called
    response = _send(api, route, authorization)
    # Then 401, before any handler ran (a 404 or 422 here would leak what exists or how bodies look)
    assert_problem(response, 401)


def test_admin_refusal_changes_nothing(api: httpx.Client, admin: httpx.Client, unique: str) -> None:
    # Given a product / When an unauthenticated caller tries to archive it and to create another
    sku = make_skus(admin, unique)[0]
    product = admin.get("/products", params={"category": f"co-{unique}"}).json()["items"][0]
    assert_problem(api.delete(f"/admin/products/{product['id']}"), 401)
    assert_problem(
        api.post(
            "/admin/products",
            json={
                "name": "x",
                "category": f"co-{unique}",
                "variants": [{"sku": f"{sku}-2", "name": "x", "price": 1}],
            },
        ),
        401,
    )
    # Then the product is still public and no second one exists
    items = api.get("/products", params={"category": f"co-{unique}"}).json()["items"]
    assert [p["id"] for p in items] == [product["id"]]


def _checkout(api: httpx.Client, sku: str, email: str) -> dict[str, Any]:
    response = api.post("/checkouts", json=checkout_body((sku, 1), email=email))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def two_checkouts(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 10)
    return _checkout(api, sku, f"alice.{unique}@example.com"), _checkout(
        api, sku, f"bob.{unique}@example.com"
    )


def test_a_checkout_token_opens_only_its_own_checkout(
    api: httpx.Client, two_checkouts: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    alice, bob = two_checkouts
    # Sanity: each owner reads their own checkout
    own = api.get(f"/checkouts/{alice['id']}", headers={"X-Checkout-Token": alice["token"]})
    assert own.status_code == 200 and own.json()["email"] == alice["email"]
    # When Alice asks for Bob's checkout with her token, with no token, or with Bob's id as token
    for headers in ({"X-Checkout-Token": alice["token"]}, {}, {"X-Checkout-Token": bob["id"]}):
        response = api.get(f"/checkouts/{bob['id']}", headers=headers)
        # Then it looks exactly like a checkout that does not exist, and nothing of Bob's leaks
        body = assert_problem(response, 404)
        assert bob["email"] not in response.text and bob["id"] not in body.get("detail", "")
    unknown = api.get("/checkouts/chk_does_not_exist", headers={"X-Checkout-Token": alice["token"]})
    assert (
        assert_problem(unknown, 404)["title"]
        == assert_problem(
            api.get(f"/checkouts/{bob['id']}", headers={"X-Checkout-Token": alice["token"]}), 404
        )["title"]
    )


def _wait_for_order_id(api: httpx.Client, checkout: dict[str, Any]) -> str | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current = api.get(
            f"/checkouts/{checkout['id']}", headers={"X-Checkout-Token": checkout["token"]}
        ).json()
        if current.get("order_id"):
            return str(current["order_id"])
        time.sleep(0.3)
    return None


PUBLIC_ORDER_ROUTES = [
    r for r in ROUTES if r.auth == "public" and "{order_id}" in r.path and r.method == "GET"
]


@pytest.mark.parametrize("route", PUBLIC_ORDER_ROUTES, ids=route_id)
def test_a_shopper_token_opens_only_its_own_order(
    api: httpx.Client, two_checkouts: tuple[dict[str, Any], dict[str, Any]], route: Route
) -> None:
    alice, bob = two_checkouts
    for checkout in (alice, bob):
        paid = api.post(
            f"/_local/payments/{checkout['payment']['payment_intent_id']}/confirm",
            json={"card": "4242424242424242"},
        )
        assert paid.status_code == 200, paid.text
    alice_order, bob_order = _wait_for_order_id(api, alice), _wait_for_order_id(api, bob)
    assert alice_order and bob_order, "paid checkouts never became orders"
    headers = {"X-Checkout-Token": alice["token"], "X-Order-Token": alice["token"]}
    response = api.get(route.path.replace("{order_id}", bob_order), headers=headers)
    assert_problem(response, 404)
    assert bob["email"] not in response.text
