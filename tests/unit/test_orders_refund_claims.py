"""A refund claim left `requesting` by an attempt that died between claim and settle is finished later,
exactly once (docs/orders.md "Refunds").

`Claims` is an in-memory stand-in for the refund-claim part of `OrderRepository` with the DynamoDB
adapter's semantics: every write is one conditional step, a takeover is conditioned on the timestamp
the retrier read, and a claim is listed as pending from its claim until it is settled or freed.
(The ledger's amounts are the adapter's, tested in test_refund_ledger.py.)
`between_read_and_takeover` lets a test run a second retrier in the gap a real race would use. The
adapter's own conditions are exercised against DynamoDB in tests/integration/test_orders_refund_sweep.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cloudtill.clock import iso
from cloudtill.errors import DomainError, TransientError
from cloudtill.payments.ports import RefundRef
from cloudtill.payments.records import RefundClaim, TakenClaim
from cloudtill.payments.refund_ledger import (
    REFUND_CLAIM_STALE_AFTER,
    request_refund_once,
    settle_stuck_refunds,
)

from tests.fakes import FakePaymentGateway, FixedClock

OWNER = ("ORDER#ord_1", "ORDER")
CLAIM = "cancel"
KEY = f"{CLAIM}-{OWNER[0]}"
PI = "pi_1"
AMOUNT = 2500
META = {"order_id": "ord_1", "reason": "order cancelled"}


class Claims:
    def __init__(self) -> None:
        self.state: dict[tuple[tuple[str, str], str], dict[str, str]] = {}
        self.pending: dict[str, RefundClaim] = {}
        self.between_read_and_takeover: Callable[[], None] | None = None

    # -- the port ------------------------------------------------------------------------------

    def claim_refund(self, refund: RefundClaim, at: str, stale_before: str) -> TakenClaim | None:
        if self._take(refund, at, lambda current: current is None):
            return TakenClaim("first", refund)
        read = dict(self.state[(refund.owner, refund.claim)])
        if self.between_read_and_takeover is not None:
            interleave, self.between_read_and_takeover = self.between_read_and_takeover, None
            interleave()
        condition: Callable[[dict[str, str] | None], bool]
        if read["state"] == "failed":
            condition = lambda current: current is not None and current["state"] == "failed"  # noqa: E731
        elif read["state"] == "requesting" and read["at"] < stale_before:
            condition = lambda current: current == read  # noqa: E731 - still the stuck holder's claim
        else:
            return None
        return TakenClaim("again", refund) if self._take(refund, at, condition) else None

    def settle_refund_claim(
        self, refund: RefundClaim, at: str, refund_id: str | None, refunded: int | None = None
    ) -> None:
        current = self.state.get((refund.owner, refund.claim))
        if current != {"state": "requesting", "at": at}:
            return  # taken over: the new holder settles
        self.state[(refund.owner, refund.claim)] = {"state": refund_id or "failed", "at": at}
        self.pending.pop(refund.idempotency_key, None)

    def stuck_refund_claims(self, stale_before: str, limit: int) -> list[RefundClaim]:
        stuck = sorted(
            (r for r in self.pending.values() if r.requested_at < stale_before), key=lambda r: r.requested_at
        )
        return stuck[:limit]

    # -- helpers -------------------------------------------------------------------------------

    def _take(self, refund: RefundClaim, at: str, condition: Callable[[dict[str, str] | None], bool]) -> bool:
        key = (refund.owner, refund.claim)
        if not condition(self.state.get(key)):
            return False
        self.state[key] = {"state": "requesting", "at": at}
        self.pending[refund.idempotency_key] = replace(refund, requested_at=at)
        return True

    def stuck(self, at: str) -> None:
        """What an attempt that died after claiming leaves behind."""
        refund = RefundClaim(OWNER, CLAIM, PI, AMOUNT, META)
        self.state[(OWNER, CLAIM)] = {"state": "requesting", "at": at}
        self.pending[KEY] = replace(refund, requested_at=at)

    def claim_state(self) -> dict[str, str]:
        return self.state[(OWNER, CLAIM)]


class FailingGateway(FakePaymentGateway):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def refund(self, *args: Any, **kwargs: Any) -> RefundRef:
        if self.failures:
            self.failures -= 1
            self.refund_calls[args[3]] += 1
            raise DomainError("Stripe is down")
        return super().refund(*args, **kwargs)


def retry(claims: Claims, gateway: FakePaymentGateway, clock: FixedClock) -> bool:
    return request_refund_once(claims, gateway, OWNER, CLAIM, PI, AMOUNT, META, clock)  # type: ignore[arg-type]


def sweep(claims: Claims, gateway: FakePaymentGateway, clock: FixedClock) -> dict[str, Any]:
    return settle_stuck_refunds(claims, gateway, clock)  # type: ignore[arg-type]


STALE_SECONDS = REFUND_CLAIM_STALE_AFTER.total_seconds()


def test_the_first_request_claims_refunds_once_and_settles_with_one_stripe_call() -> None:
    claims, gateway, clock = Claims(), FakePaymentGateway(), FixedClock()

    assert retry(claims, gateway, clock) is True
    assert retry(claims, gateway, clock) is False  # a retry after success: requested already

    assert gateway.refund_calls == {KEY: 1}
    assert gateway.find_refund_calls == 0  # nothing to look for on a first claim
    assert gateway.refunds[0]["metadata"] == {**META, "refund_claim": KEY}
    assert claims.claim_state()["state"] == "re_fake1"
    assert claims.pending == {}


def test_a_requesting_claim_younger_than_the_safe_age_is_left_alone() -> None:
    claims, gateway, clock = Claims(), FakePaymentGateway(), FixedClock()
    claims.stuck(iso(clock.now()))
    clock.advance(STALE_SECONDS - 1)

    assert retry(claims, gateway, clock) is False
    assert sweep(claims, gateway, clock) == {"settled": 0, "still_pending": []}

    assert gateway.refund_calls == {}
    assert claims.claim_state() == {
        "state": "requesting",
        "at": iso(clock.now() - timedelta(seconds=STALE_SECONDS - 1)),
    }
    assert KEY in claims.pending  # still listed: a later sweep finishes it


@pytest.mark.parametrize("first_call_reached_stripe", [False, True])
def test_an_old_claim_is_taken_over_by_exactly_one_of_two_concurrent_retriers(
    first_call_reached_stripe: bool,
) -> None:
    claims, gateway, clock = Claims(), FakePaymentGateway(), FixedClock()
    died_at = iso(clock.now())
    if first_call_reached_stripe:
        # The dead attempt's refund was created (with the claim in its metadata) before it died.
        gateway.refund(PI, AMOUNT, "requested_by_customer", KEY, {**META, "refund_claim": KEY})
    claims.stuck(died_at)
    clock.advance(STALE_SECONDS + 1)

    # Retrier A reads the stuck claim; before its takeover write, retrier B runs all the way through.
    outcomes: dict[str, bool] = {}
    claims.between_read_and_takeover = lambda: outcomes.setdefault("B", retry(claims, gateway, clock))
    outcomes["A"] = retry(claims, gateway, clock)

    assert outcomes == {"B": True, "A": False}
    assert gateway.refund_calls == {KEY: 1}  # one Stripe refund call with this key, ever
    assert len(gateway.refunds) == 1
    assert gateway.find_refund_calls == 1  # the taker looked for the dead attempt's refund first
    assert claims.claim_state() == {"state": "re_fake1", "at": iso(clock.now())}
    assert claims.pending == {}


def test_the_sweep_settles_a_stuck_claim_once_and_a_second_sweep_finds_nothing() -> None:
    claims, gateway, clock = Claims(), FakePaymentGateway(), FixedClock()
    claims.stuck(iso(clock.now()))
    clock.advance(STALE_SECONDS + 60)

    assert sweep(claims, gateway, clock) == {"settled": 1, "still_pending": []}
    assert sweep(claims, gateway, clock) == {"settled": 0, "still_pending": []}
    assert retry(claims, gateway, clock) is False  # a late workflow retry finds it settled

    assert gateway.refund_calls == {KEY: 1}
    assert gateway.refunds[0]["amount"] == AMOUNT
    assert gateway.refunds[0]["metadata"] == {**META, "refund_claim": KEY}
    assert claims.claim_state()["state"] == "re_fake1"


def test_a_sweep_that_fails_again_keeps_the_claim_pending_for_the_next_sweep() -> None:
    claims, gateway, clock = Claims(), FailingGateway(), FixedClock()
    claims.stuck(iso(clock.now()))
    clock.advance(STALE_SECONDS + 60)
    gateway.failures = 1

    assert sweep(claims, gateway, clock) == {"settled": 0, "still_pending": [KEY]}
    assert claims.claim_state()["state"] == "requesting"  # not freed: nothing else would retry it
    assert sweep(claims, gateway, clock) == {"settled": 0, "still_pending": []}  # not stale yet again

    clock.advance(STALE_SECONDS + 1)
    assert sweep(claims, gateway, clock) == {"settled": 1, "still_pending": []}
    assert len(gateway.refunds) == 1
    assert claims.claim_state()["state"] == "re_fake1"
    assert claims.pending == {}


def test_a_failed_request_frees_the_claim_and_the_retry_looks_for_an_earlier_refund_first() -> None:
    claims, gateway, clock = Claims(), FailingGateway(), FixedClock()
    gateway.failures = 1

    with pytest.raises(TransientError):
        retry(claims, gateway, clock)
    assert claims.claim_state()["state"] == "failed"
    assert claims.pending == {}  # freed: the caller's own retry takes it (it got the error)

    assert retry(claims, gateway, clock) is True  # no need to wait: a failed claim is free
    assert gateway.find_refund_calls == 1
    assert len(gateway.refunds) == 1
    assert claims.claim_state()["state"] == "re_fake1"
