"""Contract of the refund ledger, `RefundClaims` (claims on an owner item: taken once, taken over when
stale, settled only by their holder, counted against the owner's capture, listed while pending).

In-memory fake: `tests.fakes.InMemoryRefundClaims`; adapter: `DynamoRefundClaims`, through the order
workflow store (the owner item must exist, so the adapter side first writes the order that owns them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cloudtill import keys
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.orders.ports import OrderWrite
from cloudtill.payments.ports import NothingToRefund, RefundClaims
from cloudtill.payments.records import ClaimState, RefundClaim, TakenClaim

from tests.contracts.conftest import Backend
from tests.contracts.test_orders import order
from tests.fakes import InMemoryRefundClaims

OWNER = keys.order("o1")
T0, T1, T2, T3 = (f"2026-11-23T12:0{n}:00Z" for n in range(4))


@pytest.fixture
def claims(backend: Backend) -> RefundClaims:
    if backend.fake:
        return InMemoryRefundClaims()
    repository = DynamoOrderWorkflowStore(backend.table, backend.client)
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
