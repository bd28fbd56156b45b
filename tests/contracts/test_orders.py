"""Contract of `cloudtill.orders.ports.OrderRepository` (its refund ledger part, `RefundClaims`: see
test_refund_claims.py).

The port has no in-memory fake (the unit tests use the adapter on moto), so its contract runs on the
two DynamoDB implementations only, where it pins what moto and ministack must agree on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cloudtill import keys
from cloudtill.errors import InvalidCursor
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.ports import OrderWorkflowStore
from cloudtill.orders.ports import (
    OrderWrite,
    StaleOrder,
)
from cloudtill.orders.records import OrderLine, OrderRecord
from cloudtill.orders.rules import StatusStep

from tests.contracts.conftest import Backend

OWNER = keys.order("o1")
T0, T1, T2 = (f"2026-11-23T12:0{n}:00Z" for n in range(3))
ADAPTERS = pytest.mark.parametrize("backend", ["moto", "ministack"], indirect=True)


def order(
    order_id: str = "o1", *, status: str = "confirmed", created_at: str = T0, **changes: Any
) -> OrderRecord:
    record = OrderRecord(
        id=order_id,
        checkout_id=f"c_{order_id}",
        token_hash="t" * 64,
        status=status,
        email="shopper@example.com",
        email_hash="e" * 64,
        lines=(OrderLine("A", "Item A", 2, 1000, 2000, 0, 0, unit_cost=400),),
        currency="EUR",
        subtotal=2000,
        discount=0,
        shipping=0,
        tax=0,
        total=2000,
        prices_include_tax=True,
        shipping_method="standard",
        shipping_address={"name": "A Shopper", "line1": "1 Street", "city": "Town", "country": "DE"},
        promo_code=None,
        payment_intent_id="pi_1",
        created_at=created_at,
        updated_at=created_at,
    )
    return replace(record, **changes)


@pytest.fixture
def orders(backend: Backend) -> OrderWorkflowStore:
    # The order store with the workflow's bookkeeping (task tokens, step markers) on the same items.
    return DynamoOrderWorkflowStore(backend.table, backend.client)


@ADAPTERS
def test_a_new_order_is_written_once(orders: OrderWorkflowStore) -> None:
    orders.write(OrderWrite(order(), None))
    view = orders.get("o1")
    assert view is not None and view.order == order()
    assert (view.fulfilments, view.returns, view.task_token) == ((), (), None)
    with pytest.raises(StaleOrder):
        orders.write(OrderWrite(order(status="cancelled"), None))
    stored = orders.get_order("o1")
    assert stored is not None and stored.order.status == "confirmed"
    assert orders.get("o2") is None and orders.get_order("o2") is None


@ADAPTERS
def test_a_change_is_written_only_at_the_version_read(orders: OrderWorkflowStore) -> None:
    orders.write(OrderWrite(order(), None))
    shipped = order(status="shipped", version=1, updated_at=T1)
    orders.write(OrderWrite(shipped, 0))
    with pytest.raises(StaleOrder):
        orders.write(OrderWrite(order(status="cancelled", version=1), 0))
    stored = orders.get_order("o1")
    assert stored is not None and stored.order == shipped


@ADAPTERS
def test_a_status_step_applies_once_from_its_status(orders: OrderWorkflowStore) -> None:
    orders.write(OrderWrite(order(status="shipped"), None))
    step = StatusStep("shipped", "delivered", "delivered", T1)
    assert orders.advance("o1", step) == "delivered"
    assert orders.advance("o1", step) == "delivered"  # a retry: says where the order is
    assert orders.advance("o1", StatusStep("confirmed", "cancelled", "cancelled", T2)) == "delivered"
    assert orders.advance("o2", step) is None
    stored = orders.get_order("o1")
    assert stored is not None
    assert (stored.order.status, stored.order.version, stored.order.updated_at) == ("delivered", 1, T1)
    assert [e.event for e in stored.order.timeline] == ["delivered"]


@ADAPTERS
def test_a_stored_task_token_bumps_the_version_so_older_writes_fail(orders: OrderWorkflowStore) -> None:
    orders.write(OrderWrite(order(), None))
    after = orders.store_order_token("o1", "token-1")
    assert after is not None and after.version == 1
    view = orders.get("o1")
    assert view is not None and view.task_token == "token-1"
    with pytest.raises(StaleOrder):
        orders.write(OrderWrite(order(status="shipped", version=1), 0))
    assert orders.store_order_token("o2", "token-2") is None


@ADAPTERS
def test_a_marker_is_set_once(orders: OrderWorkflowStore) -> None:
    orders.write(OrderWrite(order(), None))
    assert orders.is_marked(OWNER, "confirmed_email") is False
    assert orders.mark(OWNER, "confirmed_email", T0) is True
    assert orders.mark(OWNER, "confirmed_email", T1) is False
    assert orders.is_marked(OWNER, "confirmed_email") is True
    assert orders.mark(keys.order("o2"), "confirmed_email", T0) is False  # no such item


@ADAPTERS
def test_orders_by_status_page_newest_first_within_a_day(orders: OrderWorkflowStore) -> None:
    for n in range(4):
        orders.write(OrderWrite(order(f"o{n}", created_at=f"2026-11-23T1{n}:00:00Z"), None))
    orders.write(OrderWrite(order("o9", created_at="2026-11-24T09:00:00Z"), None))
    orders.write(OrderWrite(order("o8", status="shipped"), None))
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page, cursor = orders.list_by_status("confirmed", "2026-11-23", 3, cursor)
        ids += [o.id for o in page]
        if cursor is None:
            break
    assert ids == ["o3", "o2", "o1", "o0"]
    everything, _ = orders.list_by_status("confirmed", None, 10, None)
    assert [o.id for o in everything] == ["o9", "o3", "o2", "o1", "o0"]


@ADAPTERS
def test_a_cursor_of_another_status_or_day_is_refused(orders: OrderWorkflowStore) -> None:
    for n in range(3):
        orders.write(OrderWrite(order(f"o{n}", created_at=f"2026-11-23T1{n}:00:00Z"), None))
        orders.write(OrderWrite(order(f"s{n}", status="shipped", created_at=f"2026-11-24T1{n}:00:00Z"), None))
    _, confirmed_cursor = orders.list_by_status("confirmed", None, 1, None)
    _, shipped_cursor = orders.list_by_status("shipped", "2026-11-24", 1, None)
    assert confirmed_cursor is not None and shipped_cursor is not None
    with pytest.raises(InvalidCursor):
        orders.list_by_status("shipped", None, 1, confirmed_cursor)
    with pytest.raises(InvalidCursor):
        orders.list_by_status("shipped", "2026-11-25", 1, shipped_cursor)
