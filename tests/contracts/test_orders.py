"""Contract of `cloudtill.orders.ports.OrderRepository`.

The refund ledger (`RefundClaims`, a part of the port) runs on every backend: its in-memory fake
(`tests.fakes.InMemoryRefundClaims`) stands in for it in the unit tests. The rest of the port has no
in-memory fake (the unit tests use the adapter on moto), so its contract runs on the two DynamoDB
implementations only, where it pins what moto and ministack must agree on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cloudtill import keys
from cloudtill.errors import InvalidCursor
from cloudtill.orders.dynamo import DynamoOrderRepository
from cloudtill.orders.ports import (
    ClaimState,
    NothingToRefund,
    OrderRepository,
    OrderWrite,
    RefundClaim,
    RefundClaims,
    StaleOrder,
    TakenClaim,
)
from cloudtill.orders.records import OrderLine, OrderRecord
from cloudtill.orders.rules import StatusStep

from tests.contracts.conftest import Backend
from tests.fakes import InMemoryRefundClaims

OWNER = keys.order("o1")
T0, T1, T2, T3 = (f"2026-11-23T12:0{n}:00Z" for n in range(4))
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


# -- the refund ledger: every backend ------------------------------------------------------------------


@pytest.fixture
def claims(backend: Backend) -> RefundClaims:
    if backend.fake:
        return InMemoryRefundClaims()
    repository = DynamoOrderRepository(backend.table, backend.client)
    repository.write(OrderWrite(order(), None))  # the owner of the claims
    return repository


def refund(claim: str = "cancel", amount: int = 1500, **changes: Any) -> RefundClaim:
    return replace(RefundClaim(OWNER, claim, "pi_1", amount, {"order_id": "o1"}, captured=2000), **changes)


def test_a_first_claim_is_held_requesting_with_its_amount(claims: RefundClaims) -> None:
    assert claims.claim_refund(refund(), T0, T0) == TakenClaim("first", refund())
    assert claims.refund_claim(OWNER, "cancel") == ClaimState("requesting", 1500, T0)
    assert claims.refund_claim(OWNER, "late") is None


def test_a_claim_held_by_a_live_attempt_is_not_taken(claims: RefundClaims) -> None:
    claims.claim_refund(refund(), T1, T0)
    assert claims.claim_refund(refund(), T2, T0) is None  # claimed at T1, stale only before T0
    assert claims.refund_claim(OWNER, "cancel") == ClaimState("requesting", 1500, T1)


def test_a_stale_claim_is_taken_over_with_its_first_amount(claims: RefundClaims) -> None:
    claims.claim_refund(refund(), T0, T0)
    taken = claims.claim_refund(refund(amount=1800), T2, T1)
    assert taken == TakenClaim("again", refund(amount=1500))
    assert claims.refund_claim(OWNER, "cancel") == ClaimState("requesting", 1500, T2)
    # The attempt that was taken over cannot settle any more; the new holder can.
    claims.settle_refund_claim(refund(), T0, "re_old")
    assert claims.refund_claim(OWNER, "cancel") == ClaimState("requesting", 1500, T2)
    claims.settle_refund_claim(refund(), T2, "re_1")
    assert claims.refund_claim(OWNER, "cancel") == ClaimState("re_1", 1500, T2)


def test_a_settled_claim_is_never_taken_again(claims: RefundClaims) -> None:
    claims.claim_refund(refund(), T0, T0)
    claims.settle_refund_claim(refund(), T0, "re_1")
    assert claims.claim_refund(refund(), T3, T3) is None
    assert claims.refund_claim(OWNER, "cancel") == ClaimState("re_1", 1500, T0)


def test_a_failed_claim_is_free_again_and_keeps_its_amount(claims: RefundClaims) -> None:
    claims.claim_refund(refund(), T0, T0)
    claims.settle_refund_claim(refund(), T0, None)
    assert claims.refund_claim(OWNER, "cancel") == ClaimState("failed", 1500, T0)
    # Freed, so it no longer counts: the whole capture is room again.
    assert claims.claim_refund(refund(amount=1800), T1, T1) == TakenClaim("again", refund(amount=1500))
    assert claims.claim_refund(refund("late", 500, exact=True), T1, T1) is not None


def test_claims_share_the_owners_ledger_up_to_the_capture(claims: RefundClaims) -> None:
    claims.claim_refund(refund("return_1", 1500), T0, T0)
    # Not exact: takes what remains of its amount.
    assert claims.claim_refund(refund("cancel", 2000), T0, T0) == TakenClaim("first", refund("cancel", 500))
    with pytest.raises(NothingToRefund) as nothing:
        claims.claim_refund(refund("late", 100), T0, T0)
    assert nothing.value.remaining == 0
    assert claims.refund_claim(OWNER, "late") is None


def test_an_exact_claim_beyond_the_room_left_is_refused_naming_the_room(claims: RefundClaims) -> None:
    claims.claim_refund(refund("return_1", 1500), T0, T0)
    with pytest.raises(NothingToRefund) as nothing:
        claims.claim_refund(refund("key_1", 600, exact=True), T0, T0)
    assert nothing.value.remaining == 500
    assert claims.claim_refund(refund("key_1", 500, exact=True), T0, T0) is not None


def test_a_claim_settled_for_less_gives_the_rest_back_to_the_ledger(claims: RefundClaims) -> None:
    claims.claim_refund(refund("return_1", 1500), T0, T0)
    claims.settle_refund_claim(refund("return_1", 1500), T0, "re_1", refunded=1000)
    assert claims.refund_claim(OWNER, "return_1") == ClaimState("re_1", 1000, T0)
    taken = claims.claim_refund(refund("cancel", 2000), T1, T1)
    assert taken == TakenClaim("first", refund("cancel", 1000))


def test_stuck_claims_are_the_requesting_ones_claimed_before_the_bound(claims: RefundClaims) -> None:
    claims.claim_refund(refund("return_1", 500), T1, T0)
    claims.claim_refund(refund("cancel", 500), T0, T0)
    claims.claim_refund(refund("late", 500), T3, T0)
    claims.claim_refund(refund("return_2", 500), T0, T0)
    claims.settle_refund_claim(refund("return_2", 500), T0, "re_2")
    stuck = claims.stuck_refund_claims(T2, 10)
    assert stuck == [refund("cancel", 500, requested_at=T0), refund("return_1", 500, requested_at=T1)]
    assert claims.stuck_refund_claims(T2, 1) == stuck[:1]
    claims.settle_refund_claim(refund("cancel", 500), T0, None)  # freed: not stuck, just free
    assert claims.stuck_refund_claims(T2, 10) == stuck[1:]


# -- the rest of the port: the two DynamoDB implementations -----------------------------------------


@pytest.fixture
def orders(backend: Backend) -> OrderRepository:
    return DynamoOrderRepository(backend.table, backend.client)


@ADAPTERS
def test_a_new_order_is_written_once(orders: OrderRepository) -> None:
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
def test_a_change_is_written_only_at_the_version_read(orders: OrderRepository) -> None:
    orders.write(OrderWrite(order(), None))
    shipped = order(status="shipped", version=1, updated_at=T1)
    orders.write(OrderWrite(shipped, 0))
    with pytest.raises(StaleOrder):
        orders.write(OrderWrite(order(status="cancelled", version=1), 0))
    stored = orders.get_order("o1")
    assert stored is not None and stored.order == shipped


@ADAPTERS
def test_a_status_step_applies_once_from_its_status(orders: OrderRepository) -> None:
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
def test_a_stored_task_token_bumps_the_version_so_older_writes_fail(orders: OrderRepository) -> None:
    orders.write(OrderWrite(order(), None))
    after = orders.store_order_token("o1", "token-1")
    assert after is not None and after.version == 1
    view = orders.get("o1")
    assert view is not None and view.task_token == "token-1"
    with pytest.raises(StaleOrder):
        orders.write(OrderWrite(order(status="shipped", version=1), 0))
    assert orders.store_order_token("o2", "token-2") is None


@ADAPTERS
def test_a_marker_is_set_once(orders: OrderRepository) -> None:
    orders.write(OrderWrite(order(), None))
    assert orders.is_marked(OWNER, "confirmed_email") is False
    assert orders.mark(OWNER, "confirmed_email", T0) is True
    assert orders.mark(OWNER, "confirmed_email", T1) is False
    assert orders.is_marked(OWNER, "confirmed_email") is True
    assert orders.mark(keys.order("o2"), "confirmed_email", T0) is False  # no such item


@ADAPTERS
def test_orders_by_status_page_newest_first_within_a_day(orders: OrderRepository) -> None:
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
def test_a_cursor_of_another_status_or_day_is_refused(orders: OrderRepository) -> None:
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
