"""The payment record of one PaymentIntent, and the status precedence that makes webhooks order-proof.

Stripe delivers webhooks at least once and in any order. The record therefore never moves "back":
a status only replaces one of lower rank, or one of equal rank reported by an OLDER event (Stripe's
`created`). `succeeded` outranks every failure, so a late `payment_failed` (an earlier attempt of the
same intent) never undoes a payment. Refunds are keyed by Stripe's refund id, so a redelivered or
cumulative `charge.refunded` counts each refund once.

Refund claims (`RefundClaim`) are the one refund ledger: every refund cloudtill requests (cancel,
return, late payment, admin) is a claim on the item it belongs to (docs/orders.md "Refunds").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
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


ClaimTaken = Literal["first", "again"]
# A claim settled without a Stripe refund: reconciled against Stripe, nothing remained to refund.
NO_REFUND = "none"


@dataclass(frozen=True)
class RefundClaim:
    """A refund requested at most once per (`owner` item, `claim`), with everything needed to request
    it again after a crash (the stuck-refund sweep reads it back from the pending list).

    Every claim on an owner counts against the owner's refund ledger (`refunded_amount` on the item:
    the sum of its claims that are requesting or settled), which never exceeds `captured`. `exact`:
    this amount or nothing (an admin refund of a stated amount). Otherwise `amount` is an upper bound:
    the claim takes what remains of it (a cancel asks for everything and gets the rest)."""

    owner: tuple[str, str]  # (PK, SK) of the item carrying the claim: the order or the checkout
    claim: str  # e.g. `cancel`, `late`, `return_2`
    payment_intent_id: str
    amount: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    reason: str = "requested_by_customer"
    requested_at: str = ""  # as listed: when its current holder claimed it
    captured: int | None = None  # what the payment captured: the ledger's cap (None: `amount`)
    exact: bool = False

    @property
    def cap(self) -> int:
        return self.amount if self.captured is None else self.captured

    @property
    def idempotency_key(self) -> str:
        """Stripe's idempotency key, also kept in the refund's metadata (`refund_claim`) so a retry
        can find the refund of an earlier attempt (`PaymentGateway.find_refund`)."""
        return f"{self.claim}-{self.owner[0]}"


def keyed_claim(idempotency_key: str) -> str:
    """The claim of a refund asked for with an idempotency key (the admin route's `Idempotency-Key`;
    a return's refund is `return-<n>`): the same key is the same claim, so a retry refunds once.
    Hashed: keys are client text of up to 255 characters, and Stripe's own key must stay short."""
    return "key_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TakenClaim:
    """A claim this attempt holds: `refund.amount` is what the ledger counted for it."""

    how: ClaimTaken
    refund: RefundClaim


@dataclass(frozen=True)
class ClaimState:
    """A claim as stored: `requesting`, `failed`, NO_REFUND or the Stripe refund id; its amount."""

    state: str
    amount: int | None
    requested_at: str | None
