"""`make run` keeps its state: a product, a paid order, the Stripe sandbox, the e-mails and the admin
token survive a stop and a start (`--state-dir`), the order's workflow carries on after the restart, and
`--fresh` (`make run FRESH=1`) starts empty."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import RunningBackend, start_backend
from tests.integration.orders_support import (
    create_checkout,
    get_checkout,
    pay,
    stripe_intent,
    wait_for,
    wait_for_order_id,
    wait_for_order_status,
)

pytestmark = pytest.mark.timeout(600)


def _token(backend: RunningBackend) -> str:
    found = re.search(r"Admin token:\s+(\S+)", backend.log_text())
    assert found, backend.log_text()[-2000:]
    return found.group(1)


def _clients(backend: RunningBackend) -> tuple[httpx.Client, httpx.Client]:
    token = _token(backend)
    assert not token.startswith("-"), token
    api = httpx.Client(base_url=backend.base_url, timeout=60)
    admin = httpx.Client(base_url=backend.base_url, timeout=60, headers={"Authorization": f"Bearer {token}"})
    return api, admin


def test_state_survives_a_restart_and_fresh_starts_empty(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # No ADMIN_TOKEN: the token comes from the state folder.
    env = {"ADMIN_TOKEN": ""}
    args = ("--state-dir", str(state), "--no-seed")
    (tmp_path / "first").mkdir()
    with start_backend(tmp_path / "first", env, args) as first:
        token = _token(first)
        api, admin = _clients(first)
        created = admin.post(
            "/admin/products",
            json={
                "name": "Kept mug",
                "category": "kept",
                "variants": [{"sku": "KEPT-1", "name": "One", "price": 1500}],
            },
        )
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]
        received = admin.post(
            "/admin/stock/KEPT-1/movements",
            json={"type": "receive", "quantity": 5, "unit_cost": 500, "reason": "test"},
        )
        assert received.status_code == 201, received.text
        checkout = create_checkout(api, ("KEPT-1", 2))
        assert pay(api, checkout)["status"] == "succeeded"
        order_id = wait_for_order_id(api, checkout)
        wait_for(
            lambda: api.get("/_local/emails", params={"recipient": "shopper@example.com"}).json()["items"],
            bool,
            "the confirmation e-mail",
        )
    assert (state / "admin-token").read_text().strip() == token

    (tmp_path / "second").mkdir()
    with start_backend(tmp_path / "second", env, args) as second:
        assert "kept from the last run" in second.log_text()
        assert _token(second) == token
        api, admin = _clients(second)
        product = api.get(f"/products/{product_id}")
        assert product.status_code == 200, product.text
        assert product.json()["name"] == "Kept mug"
        assert admin.get("/admin/stock/KEPT-1").json()["available"] == 3
        assert get_checkout(api, checkout)["order_id"] == order_id
        order = admin.get(f"/admin/orders/{order_id}")
        assert order.status_code == 200, order.text
        assert order.json()["status"] == "confirmed"
        assert stripe_intent(api, checkout["payment"]["payment_intent_id"])["status"] == "succeeded"
        assert api.get("/_local/emails", params={"recipient": "shopper@example.com"}).json()["items"]
        # Handled outbox records are not published again: one OrderConfirmed on the bus since the start.
        assert not [
            e for e in api.get("/_local/events").json()["items"] if e["detail"].get("order_id") == order_id
        ]
        # The workflow goes on: shipping and delivering the order after the restart completes it.
        shipped = admin.post(
            f"/admin/orders/{order_id}/fulfillments", json={"carrier": "dhl", "tracking_number": "K1"}
        )
        assert shipped.status_code == 201, shipped.text
        wait_for_order_status(admin, order_id, "shipped")
        assert admin.post(f"/admin/orders/{order_id}/delivered").status_code in (200, 202)
        wait_for_order_status(admin, order_id, "completed")  # the workflow completed it

    (tmp_path / "third").mkdir()
    with start_backend(tmp_path / "third", env, (*args, "--fresh")) as third:
        assert "kept from the last run" not in third.log_text()
        api, admin = _clients(third)
        assert api.get(f"/products/{product_id}").status_code == 404
        assert admin.get(f"/admin/orders/{order_id}").status_code == 404
        assert api.get("/_local/emails").json()["items"] == []
