"""The refund ledger's logic: claim, ask the payment provider, settle (docs/orders.md "Refunds").

Every refund cloudtill requests goes through here: the order workflow's (cancel, a late payment), an
order return's (claimed in the return's own write, then `request_claimed_refund`) and ops' refunds
(`refunds.request_refund`). A claim is taken at most once per (owner item, claim) and counts against
the owner's ledger, so retries, redeliveries and concurrent requests never refund twice or more than
was captured; the `settle-stuck-refunds` schedule finishes claims whose attempt died.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cloudtill.clock import Clock, SystemClock, iso
from cloudtill.errors import DomainError, TransientError, ValidationFailed
from cloudtill.observability import logger
from cloudtill.payments.ports import (
    REFUND_CLAIM_METADATA,
    NothingToRefund,
    PaymentGateway,
    RefundClaims,
    RefundRef,
)
from cloudtill.payments.records import NO_REFUND, RefundClaim, TakenClaim

# A refund claim still `requesting` this long after it was made belongs to an attempt that died
# between claim and settle: every function that claims refunds is stopped by Lambda at its timeout
# (orders 30 s, payments 10 s), so 5 minutes is 10x the longest, with room for clock differences
# between hosts, and still returns the money within minutes. Then a later attempt may take it over.
REFUND_CLAIM_STALE_AFTER = timedelta(minutes=5)
STUCK_REFUNDS_PER_SWEEP = 25


def request_refund_once(
    orders: RefundClaims,
    gateway: PaymentGateway,
    owner: tuple[str, str],
    claim: str,
    payment_intent_id: str,
    amount: int,
    metadata: dict[str, str],
    clock: Clock | None = None,
    captured: int | None = None,
) -> bool:
    """Ask Stripe for a refund exactly once per (`owner` item, `claim`): the claim is a conditional write
    on the item, so a retried task or a redelivered webhook never refunds twice (Stripe's idempotency
    key, derived from the same claim, is the second guard). The claim counts against the owner's
    refund ledger (`captured`, default `amount`, less every other claim requesting or settled): it
    refunds `amount` or, if less remains, what remains; nothing when nothing does. A failed request
    frees the claim and raises TransientError. An attempt that died between claim and settle leaves
    the claim `requesting`: after REFUND_CLAIM_STALE_AFTER any later attempt, or the stuck-refund
    sweep, takes it over and finishes it (docs/orders.md "Refunds"). True when this call requested
    the refund."""
    if amount <= 0:
        return False
    refund = RefundClaim(owner, claim, payment_intent_id, amount, dict(metadata), captured=captured)
    try:
        done = refund_with_claim(orders, gateway, refund, clock or SystemClock())
    except NothingToRefund:
        return False
    return done is not None and done.id != NO_REFUND


def refund_with_claim(
    orders: RefundClaims,
    gateway: PaymentGateway,
    refund: RefundClaim,
    clock: Clock,
    free_on_failure: bool = True,
) -> RefundRef | None:
    """The refund ledger's one entry point: claim `refund` against what remains refundable on its
    owner, ask Stripe, settle. Returns what Stripe refunded for the claim (amount 0: reconciled,
    nothing remained), None when the claim is held or settled already. Raises NothingToRefund when
    the ledger has no room, `ValidationFailed` (amount) when Stripe refuses an `exact` claim, and
    TransientError when Stripe failed (the claim is freed unless `free_on_failure` is False)."""
    return _request_refund(orders, gateway, refund, clock, free_on_failure)


def settle_stuck_refunds(
    orders: RefundClaims,
    gateway: PaymentGateway,
    clock: Clock,
    limit: int = STUCK_REFUNDS_PER_SWEEP,
    stale_after: timedelta = REFUND_CLAIM_STALE_AFTER,
) -> dict[str, Any]:
    """The `settle-stuck-refunds` schedule: finish every refund whose claim has been `requesting` for
    longer than REFUND_CLAIM_STALE_AFTER (its attempt died between claim and settle). Each is taken over
    with the same conditional write as any retry, so a sweep racing a retry refunds once. One that fails
    again stays pending (not freed: nothing else would retry it) and the next sweep tries again.
    `stale_after` is shorter only where a test runs the schedule by hand."""
    stale_before = iso(clock.now() - stale_after)
    settled = 0
    pending: list[str] = []
    for refund in orders.stuck_refund_claims(stale_before, limit):
        try:
            if _request_refund(
                orders, gateway, refund, clock, free_on_failure=False, stale_after=stale_after
            ):
                settled += 1
        except TransientError:
            pending.append(refund.idempotency_key)
        except ValidationFailed:
            # An exact (admin) refund Stripe refuses for good: freed, its caller saw a timeout.
            logger.warning("stuck refund refused by Stripe", extra={"claim": refund.idempotency_key})
    if pending:
        logger.warning("stuck refunds failed again; retried by the next sweep", extra={"claims": pending})
    return {"settled": settled, "still_pending": pending}


def _request_refund(
    orders: RefundClaims,
    gateway: PaymentGateway,
    refund: RefundClaim,
    clock: Clock,
    free_on_failure: bool,
    stale_after: timedelta = REFUND_CLAIM_STALE_AFTER,
) -> RefundRef | None:
    now = clock.now()
    at = iso(now)
    taken = orders.claim_refund(refund, at, iso(now - stale_after))
    if taken is None:
        return None  # requested already, or another attempt is at it right now
    return _request_held(orders, gateway, taken, at, free_on_failure)


def request_claimed_refund(
    orders: RefundClaims, gateway: PaymentGateway, refund: RefundClaim
) -> RefundRef | None:
    """Ask Stripe for a refund whose claim the caller's own write took (`OrderWrite.refund_claim`, at
    `refund.requested_at`), then settle it; failures as `refund_with_claim` (the claim is freed)."""
    return _request_held(orders, gateway, TakenClaim("first", refund), refund.requested_at, True)


def _request_held(
    orders: RefundClaims, gateway: PaymentGateway, taken: TakenClaim, at: str, free_on_failure: bool
) -> RefundRef | None:
    held = taken.refund  # with the amount the ledger counted for it
    key = held.idempotency_key
    metadata = {**held.metadata, REFUND_CLAIM_METADATA: key}
    try:
        # Taken again (an earlier attempt failed or died): that attempt may have reached Stripe, so
        # look for its refund first. Stripe's idempotency key would answer the same within 24 hours,
        # but not later, and localstripe ignores it.
        done = gateway.find_refund(held.payment_intent_id, key) if taken.how == "again" else None
        if done is None:
            try:
                done = gateway.refund(held.payment_intent_id, held.amount, held.reason, key, metadata)
            except ValidationFailed:
                # Stripe refuses the amount for good (more than remains on the charge, or refunded
                # already, e.g. from the dashboard): retrying cannot help. An exact claim is the
                # caller's error; any other settles from Stripe's own view of what remains.
                if held.exact:
                    orders.settle_refund_claim(held, at, None)
                    raise
                done = _refund_what_stripe_has_left(gateway, held, metadata)
    except DomainError as error:
        if isinstance(error, ValidationFailed) and held.exact:
            raise
        if free_on_failure:
            orders.settle_refund_claim(held, at, None)
        raise TransientError(f"refund of {held.payment_intent_id} failed") from None
    if done is None:
        orders.settle_refund_claim(held, at, NO_REFUND, 0)
        return RefundRef(NO_REFUND, 0, "", "none")
    orders.settle_refund_claim(held, at, done.id, done.amount)
    return done


def _refund_what_stripe_has_left(
    gateway: PaymentGateway, held: RefundClaim, metadata: dict[str, str]
) -> RefundRef | None:
    """A claim Stripe refused: refund what Stripe says remains of the charge, up to the claim's
    amount (None when nothing remains). The smaller request gets its own idempotency key (Stripe
    refuses a key reused with other parameters); its metadata still names the claim."""
    remaining = held.cap - gateway.refunded_total(held.payment_intent_id)
    amount = min(held.amount, remaining)
    if amount <= 0:
        return None
    key = f"{held.idempotency_key}-{amount}"
    return gateway.refund(held.payment_intent_id, amount, held.reason, key, metadata)
