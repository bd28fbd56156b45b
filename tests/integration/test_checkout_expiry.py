"""Checkout expiry through HTTP on a backend whose checkouts expire after 2 s: the
`release-expired-checkouts` schedule gives stock and promotion redemptions back, exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.checkout_support import (
    assert_event_matches_schema,
    assert_problem,
    checkout_body,
    make_skus,
    outbox_events,
)
from tests.integration.conftest import ADMIN_TOKEN, RunningBackend, start_backend
from tests.integration.invariants import assert_reservations_reconcile
from tests.integration.stock_helpers import counters, receive

TTL_SECONDS = 2
SWEEP = "/_local/schedules/release-expired-checkouts/run"


@pytest.fixture(scope="module")
def short_ttl_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    with start_backend(
        tmp_path_factory.mktemp("localrt-short-ttl"),
        {"CHECKOUT_TTL_SECONDS": str(TTL_SECONDS)},
        extra_args=("--no-seed",),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def short_api(short_ttl_backend: RunningBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=short_ttl_backend.base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def short_admin(short_ttl_backend: RunningBackend) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=short_ttl_backend.base_url, timeout=60, headers=headers) as client:
        yield client


def _wait_until_past(moment: str) -> None:
    due = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    remaining = (due - datetime.now(UTC)).total_seconds()
    time.sleep(max(remaining, 0) + 0.2)


def _state(backend: RunningBackend, admin: httpx.Client, sku: str, code: str) -> dict[str, Any]:
    return {
        "stock": counters(backend, sku),
        "redeemed": admin.get(f"/admin/promotions/{code}").json()["redeemed"],
    }


def test_expired_checkouts_give_stock_and_redemptions_back_once(
    short_ttl_backend: RunningBackend, short_api: httpx.Client, short_admin: httpx.Client, unique: str
) -> None:
    backend, api, admin = short_ttl_backend, short_api, short_admin
    # Given 10 units, a code usable once per email, and two checkouts holding 3 (+ code) and 2 units
    (sku,) = make_skus(admin, unique)
    receive(backend, admin, sku, 10)
    code = f"ONCE-{unique}".upper()
    promo = {"code": code, "kind": "percentage", "value": 1500, "max_redemptions": 10, "max_per_email": 1}
    assert admin.post("/admin/promotions", json=promo).status_code == 201
    with_code = api.post("/checkouts", json=checkout_body((sku, 3), promo_code=code, email="eve@example.com"))
    plain = api.post("/checkouts", json=checkout_body((sku, 2)))
    assert with_code.status_code == plain.status_code == 201, (with_code.text, plain.text)
    held = _state(backend, admin, sku, code)
    assert held == {
        "stock": {"on_hand": 10, "reserved": 5, "available": 5, "backorder_limit": 0},
        "redeemed": 1,
    }
    # The same email cannot use the code again while the first checkout holds it
    assert_problem(
        api.post("/checkouts", json=checkout_body((sku, 1), promo_code=code, email="eve@example.com")),
        422,
        "promo_code",
    )

    # When both are past their expiry and the schedule runs
    _wait_until_past(max(with_code.json()["expires_at"], plain.json()["expires_at"]))
    run = admin.post(SWEEP)
    assert run.status_code == 200, run.text

    # Then the units are available again, the redemption is given back, both checkouts are expired
    released = _state(backend, admin, sku, code)
    assert released == {
        "stock": {"on_hand": 10, "reserved": 0, "available": 10, "backorder_limit": 0},
        "redeemed": 0,
    }
    for created in (with_code.json(), plain.json()):
        read = api.get(f"/checkouts/{created['id']}", headers={"X-Checkout-Token": created["token"]})
        assert read.json()["status"] == "expired"
        events = outbox_events(backend, created["id"])
        assert sorted(e["detail_type"] for e in events) == [
            "CheckoutCreated",
            "CheckoutExpired",
            "StockReleased",
            "StockReserved",
        ]
        for event in events:
            assert_event_matches_schema(event)
    assert_reservations_reconcile(backend, [sku], admin)

    # And running the schedule again changes nothing
    again = admin.post(SWEEP)
    assert again.status_code == 200 and again.json()["result"]["expired"] == 0, again.text
    assert _state(backend, admin, sku, code) == released
    assert len(outbox_events(backend, with_code.json()["id"])) == 4

    # And the email may use the code again
    reuse = api.post("/checkouts", json=checkout_body((sku, 1), promo_code=code, email="eve@example.com"))
    assert reuse.status_code == 201, reuse.text
