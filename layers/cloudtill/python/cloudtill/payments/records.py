"""The payment record of one PaymentIntent, and the status precedence that makes webhooks order-proof.

Stripe delivers webhooks at least once and in any order. The record therefore never moves "back":
a status only replaces one of lower rank, or one of equal rank reported by an OLDER event (Stripe's
`created`). `succeeded` outranks every failure, so a late `payment_failed` (an earlier attempt of the
same intent) never undoes a payment. Refunds are keyed by Stripe's refund id, so a redelivered or
cumulative `charge.refunded` counts each refund once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

PaymentStatus = Literal["awaiting_payment", "requires_action", "payment_failed", "canceled", "succeeded"]

# Higher rank wins; equal rank: the newer event wins. `payment_failed` and `requires_action` are not
# final: the shopper can try another card on the same intent, which may still succeed.
STATUS_RANK: dict[str, int] = {
    "awaiting_payment": 0,
    "requires_action": 1,
    "payment_failed": 1,
    "canceled": 2,
    "succeeded": 3,
}


@dataclass(frozen=True)
class PaymentRecord:
    payment_intent_id: str
    checkout_id: str
    amount: int  # expected, minor units
    currency: str  # expected, ISO 4217 upper case
    created_at: str
    updated_at: str
    status: PaymentStatus = "awaiting_payment"
    # Stripe `created` (epoch s) of the event that set `status`: orders events of equal rank.
    status_event_created: int = 0
    amount_received: int | None = None
    currency_received: str | None = None
    flagged_for_review: bool = False
    failure_code: str | None = None
    charge_id: str | None = None
    refunds: dict[str, int] = field(default_factory=dict)  # Stripe refund id -> amount
    disputes: tuple[str, ...] = ()
    version: int = 0

    @property
    def retryable(self) -> bool:
        """The shopper may still pay this intent (a decline or 3-D Secure is not the end)."""
        return self.status in {"awaiting_payment", "requires_action", "payment_failed"}

    @property
    def refunded_amount(self) -> int:
        return sum(self.refunds.values())

    @property
    def paid_amount(self) -> int:
        return self.amount_received if self.amount_received is not None else 0

    def with_status(self, status: PaymentStatus, event_created: int) -> PaymentRecord | None:
        """The record moved to `status`, or None when precedence says the event changes nothing."""
        current, new = STATUS_RANK[self.status], STATUS_RANK[status]
        if new < current or (new == current and event_created < self.status_event_created):
            return None
        if status == self.status and event_created == self.status_event_created:
            return None
        return replace(self, status=status, status_event_created=event_created)
