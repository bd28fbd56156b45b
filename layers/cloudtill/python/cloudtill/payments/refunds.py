"""Refunds requested by ops: resolve the order's PaymentIntent, check what remains, ask Stripe.

The refund is only REQUESTED here; it is recorded (payment record + `RefundIssued`) when Stripe's
`charge.refunded` webhook arrives, like every other payment fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cloudtill.errors import Conflict, FieldError, NotFound, ValidationFailed
from cloudtill.payments.ports import OrderPaymentLookup, PaymentGateway, PaymentStore

# Stripe's refund reasons; ops' free-text explanation goes in `note` (Stripe metadata).
RefundReason = Literal["requested_by_customer", "duplicate", "fraudulent"]


@dataclass(frozen=True)
class RefundRequested:
    order_id: str
    payment_intent_id: str
    refund_id: str
    amount: int
    currency: str
    status: str


def request_refund(
    order_id: str,
    amount: int | None,
    reason: RefundReason,
    note: str | None,
    idempotency_key: str | None,
    orders: OrderPaymentLookup,
    store: PaymentStore,
    gateway: PaymentGateway,
) -> RefundRequested:
    """Refund `amount` (default: all that remains) of the order's payment.

    Unknown order -> 404; payment not succeeded -> 409; more than remains -> 422 naming `amount`.
    The Stripe idempotency key is the client's `Idempotency-Key` if given, else derived from the order,
    the amount and what was refunded so far: a retried request never refunds twice.
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
    remaining = record.paid_amount - record.refunded_amount
    if amount is None:
        if remaining <= 0:
            raise ValidationFailed.for_field("amount", "nothing remains to refund")
        amount = remaining
    elif amount > remaining:
        raise ValidationFailed.for_field("amount", f"at most {remaining} remains to refund")
    key = (
        f"refund-{order_id}-{idempotency_key}"
        if idempotency_key
        else f"refund-{order_id}-{record.refunded_amount}-{amount}"
    )
    metadata = {"order_id": order_id, "checkout_id": record.checkout_id}
    if note:
        metadata["note"] = note
    refund = gateway.refund(payment_intent_id, amount, reason, key, metadata)
    return RefundRequested(
        order_id=order_id,
        payment_intent_id=payment_intent_id,
        refund_id=refund.id,
        amount=refund.amount,
        currency=refund.currency.upper(),
        status=refund.status,
    )
