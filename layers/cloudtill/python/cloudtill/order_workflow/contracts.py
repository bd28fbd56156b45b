"""What the order-lifecycle state machine and its tasks exchange (`infra/statemachines/
order_lifecycle.asl.json`; its Choice states and ResultSelectors read these shapes), and the names of
the workflow's bookkeeping attributes on the items it orchestrates."""

from __future__ import annotations

from typing import Any

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.orders.records import OrderRecord
from cloudtill.payments.records import PaymentRecord

# Attribute names of the stored Step Functions task tokens (not secrets: names).
PAYMENT_TOKEN = "payment_task_token"  # noqa: S105 - on the checkout item, while AwaitPayment waits
ORDER_TOKEN = "wait_task_token"  # noqa: S105 - on the order item, while AwaitFulfilment/Delivery waits
# Step marker on the checkout item: its PaymentIntent was cancelled (a cancel happens once).
PAYMENT_CANCELLED = "payment_cancelled_at"
# Refund claims the workflow takes (on the checkout: a payment without an order; on the order: cancel).
LATE_REFUND = "late"
CANCEL_REFUND = "cancel"


def payment_outcome(record: PaymentRecord, checkout: CheckoutRecord) -> dict[str, Any]:
    """What AwaitPayment completes with: `paid`, or `mismatch` (flagged: never confirm it). `skus`
    (the checkout's reserved SKUs) lets ConfirmOrder read the checkout and their stock in one batch."""
    return {
        "outcome": "mismatch" if record.flagged_for_review else "paid",
        "payment_intent_id": record.payment_intent_id,
        "amount": record.paid_amount,
        "skus": list(checkout.reserved),
    }


def order_progress(order: OrderRecord) -> dict[str, Any]:
    """What AwaitFulfilment/AwaitDelivery complete with (the Choice states read it)."""
    return {
        "status": order.status,
        "fulfilments": order.fulfilment_count,
        "cancel_requested": order.cancel_requested,
    }


def paid_in_full(paid: dict[str, Any] | None, payment_intent_id: str) -> bool:
    """True when AwaitPayment's output says this PaymentIntent succeeded with the expected amount
    (`payment_outcome` of a succeeded, unflagged record)."""
    if not paid:
        return False
    return paid.get("outcome") == "paid" and paid.get("payment_intent_id") == payment_intent_id


def payment_intent_of(checkout: CheckoutRecord) -> str | None:
    payment = checkout.payment or {}
    value = payment.get("payment_intent_id")
    return str(value) if value else None
