"""Refunds requested by ops: resolve the order's PaymentIntent, claim the amount in the order's refund
ledger, ask Stripe.

Every refund of an order, this route's like the workflow's (cancel, returns), is a claim against the
order's one refund ledger (`refund_ledger.refund_with_claim`): what remains refundable
is what was captured less every claim requesting or settled, checked by a conditional write. The
refund is only REQUESTED here; it is recorded (payment record + `RefundIssued`) when Stripe's
`charge.refunded` webhook arrives, like every other payment fact.

Idempotency: a request is the claim of its `Idempotency-Key` (`keyed_claim`). The same key again is
the same refund: answered from the claim once settled, finished (looking for the refund at Stripe
first) if it failed or was left half done, 409 while another request holds it. A request without the
header is a new refund: two equal refunds without a key are two refunds. Either way the answer (and
a 502 problem) carries the key to retry with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from cloudtill import keys
from cloudtill.clock import Clock
from cloudtill.errors import Conflict, FieldError, NotFound, TransientError, ValidationFailed
from cloudtill.payments.ports import (
    NothingToRefund,
    OrderPaymentLookup,
    PaymentGateway,
    PaymentProviderError,
    PaymentStore,
    RefundClaims,
)
from cloudtill.payments.records import NO_REFUND, RefundClaim, keyed_claim
from cloudtill.payments.refund_ledger import refund_with_claim

# Stripe's refund reasons; ops' free-text explanation goes in `note` (Stripe metadata).
RefundReason = Literal["requested_by_customer", "duplicate", "fraudulent"]
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IN_FLIGHT = {"requesting", "failed"}


@dataclass(frozen=True)
class RefundRequested:
    order_id: str
    payment_intent_id: str
    refund_id: str
    amount: int
    currency: str
    status: str
    idempotency_key: str


def request_refund(
    order_id: str,
    amount: int | None,
    reason: RefundReason,
    note: str | None,
    idempotency_key: str | None,
    orders: OrderPaymentLookup,
    store: PaymentStore,
    gateway: PaymentGateway,
    claims: RefundClaims,
    clock: Clock,
) -> RefundRequested:
    """Refund `amount` (default: all that remains) of the order's payment, once per idempotency key.

    Unknown order -> 404; payment not succeeded -> 409; more than remains -> 422 naming `amount`;
    the key reused for another amount, or held by a request still running -> 409 naming
    `Idempotency-Key`; Stripe failing -> 502 with the key to retry with.
    """
    payment_intent_id = orders.payment_intent_of_order(order_id)
    if payment_intent_id is None:
        raise NotFound(
            f"Order {order_id} does not exist or has no payment.", [FieldError("order_id", "unknown")]
        )
    record = store.get(payment_intent_id)
    if record is None or record.status != "succeeded":
        raise Conflict(
            f"Order {order_id} has no succeeded payment to refund.",
            [FieldError("order_id", "payment not succeeded")],
        )
    key = idempotency_key or uuid.uuid4().hex
    owner = keys.order(order_id)
    claim = keyed_claim(key)
    existing = claims.refund_claim(owner, claim) if idempotency_key else None
    if existing is not None:
        if amount is not None and existing.amount is not None and amount != existing.amount:
            raise Conflict(
                f"{IDEMPOTENCY_HEADER} {key} was used for a refund of {existing.amount}.",
                [FieldError(IDEMPOTENCY_HEADER, "reused with another amount")],
            )
        if existing.state not in _IN_FLIGHT:
            return _answer(
                order_id,
                payment_intent_id,
                record.currency,
                key,
                existing.state,
                existing.amount or 0,
                gateway,
                owner,
                claim,
            )
    paid = record.paid_amount
    # Refunds Stripe reported (the webhook's record) bound what remains too: they include refunds
    # made outside cloudtill. Claims are the ledger; the record is only this early check.
    remaining = paid - record.refunded_amount
    if existing is None:
        if amount is None and remaining <= 0:
            raise ValidationFailed.for_field("amount", "nothing remains to refund")
        if amount is not None and amount > remaining:
            raise ValidationFailed.for_field("amount", f"at most {max(remaining, 0)} remains to refund")
    metadata = {"order_id": order_id, "checkout_id": record.checkout_id, "idempotency_key": key}
    if note:
        metadata["note"] = note
    refund = RefundClaim(
        owner,
        claim,
        payment_intent_id,
        amount if amount is not None else max(remaining, 0),
        metadata,
        reason=reason,
        captured=paid,
        exact=amount is not None,
    )
    try:
        done = refund_with_claim(claims, gateway, refund, clock)
    except NothingToRefund as short:
        if short.remaining <= 0:
            raise ValidationFailed.for_field("amount", "nothing remains to refund") from None
        raise ValidationFailed.for_field("amount", f"at most {short.remaining} remains to refund") from None
    except TransientError:
        raise PaymentProviderError(
            f"Stripe did not accept the refund; retry with the header {IDEMPOTENCY_HEADER}: {key} "
            "(the same refund, never a second one).",
            idempotency_key=key,
        ) from None
    if done is None:
        raise Conflict(
            f"A refund with {IDEMPOTENCY_HEADER} {key} is being requested right now; retry in a moment.",
            [FieldError(IDEMPOTENCY_HEADER, "in progress")],
        )
    if done.id == NO_REFUND:
        raise ValidationFailed.for_field("amount", "nothing remains to refund (Stripe)")
    return RefundRequested(
        order_id=order_id,
        payment_intent_id=payment_intent_id,
        refund_id=done.id,
        amount=done.amount,
        currency=(done.currency or record.currency).upper(),
        status=done.status,
        idempotency_key=key,
    )


def _answer(
    order_id: str,
    payment_intent_id: str,
    currency: str,
    key: str,
    refund_id: str,
    amount: int,
    gateway: PaymentGateway,
    owner: tuple[str, str],
    claim: str,
) -> RefundRequested:
    """A settled claim asked for again: the refund it made, with Stripe's current status."""
    found = (
        gateway.find_refund(
            payment_intent_id, RefundClaim(owner, claim, payment_intent_id, amount).idempotency_key
        )
        if refund_id != NO_REFUND
        else None
    )
    return RefundRequested(
        order_id=order_id,
        payment_intent_id=payment_intent_id,
        refund_id=refund_id,
        amount=amount,
        currency=currency.upper(),
        status=found.status if found is not None else "none" if refund_id == NO_REFUND else "pending",
        idempotency_key=key,
    )
