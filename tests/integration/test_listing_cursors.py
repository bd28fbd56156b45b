"""Every cursor-paginated listing over HTTP refuses a cursor it did not issue with 400 naming `cursor`
(DynamoDB would refuse a start key outside the query with a 500; moto silently answers [], so the
listing checks it: tests/unit/test_cursors.py). Admin orders by status and day, stock movements of a
SKU; the product listings are in test_catalog_api.py."""

from __future__ import annotations

import httpx

from tests.integration.checkout_support import assert_problem
from tests.integration.conftest import RunningBackend
from tests.integration.orders_support import create_checkout, get_order, pay, stocked_sku, wait_for_order_id


def test_an_order_listing_cursor_is_refused_by_another_day_status_or_listing(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given two confirmed orders of today
    sku = stocked_sku(backend, admin, unique, 5)
    order_ids = []
    for _ in range(2):
        checkout = create_checkout(api, (sku, 1))
        pay(api, checkout)
        order_ids.append(wait_for_order_id(api, checkout))
    day = get_order(admin, order_ids[0])["created_at"][:10]
    of_day = admin.get("/admin/orders", params={"status": "confirmed", "date": day, "limit": 1})
    assert of_day.status_code == 200, of_day.text
    cursor = of_day.json()["next_cursor"]
    assert cursor
    # When the cursor is used with another day or status: 400 on `cursor`
    for params in (
        {"status": "confirmed", "date": "2000-01-01", "cursor": cursor},
        {"status": "shipped", "date": day, "cursor": cursor},
        {"status": "shipped", "cursor": cursor},
    ):
        assert_problem(admin.get("/admin/orders", params=params), 400, "cursor")
    # A stock ledger's cursor, or a forged one, is no order cursor either
    for _ in range(2):
        receive = {"type": "receive", "quantity": 1, "unit_cost": 1, "reason": "cursor test"}
        assert admin.post(f"/admin/stock/{sku}/movements", json=receive).status_code == 201
    ledger = admin.get(f"/admin/stock/{sku}/movements", params={"limit": 1}).json()["next_cursor"]
    assert ledger
    assert_problem(admin.get("/admin/orders", params={"cursor": ledger}), 400, "cursor")
    assert_problem(admin.get(f"/admin/stock/{sku}/movements", params={"cursor": cursor}), 400, "cursor")
    assert_problem(admin.get("/admin/orders", params={"cursor": "eyJQSyI6IngifQ"}), 400, "cursor")
    # And in its own listing, or the same status without a day, it pages on
    for params in ({"status": "confirmed", "date": day, "cursor": cursor}, {"cursor": cursor}):
        page = admin.get("/admin/orders", params=params)
        assert page.status_code == 200, page.text
