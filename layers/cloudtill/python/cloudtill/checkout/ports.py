"""The checkout domain's data-access ports. `dynamo.py` (and `cloudtill.promotions.dynamo` for codes)
implement them; unit tests use the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cloudtill.checkout.records import CheckoutRecord, SkuSnapshot
from cloudtill.outbox import DomainEvent
from cloudtill.promotions.records import StoredPromotion
from cloudtill.promotions.rules import Promotion


class ReservationRejected(Exception):
    """The checkout transaction was cancelled and nothing was written. Says which parts refused."""

    def __init__(
        self, short_skus: Sequence[str] = (), promotion_refused: bool = False, contended: bool = False
    ) -> None:
        super().__init__(
            f"reservation rejected (short={list(short_skus)}, promotion={promotion_refused}, "
            f"contended={contended})"
        )
        self.short_skus = tuple(short_skus)
        self.promotion_refused = promotion_refused
        # Another transaction touched the same items at the same moment (DynamoDB
        # TransactionConflict): nothing is wrong with the request, trying again may succeed.
        self.contended = contended


class CheckoutRepository(Protocol):
    def skus(self, codes: Sequence[str]) -> dict[str, SkuSnapshot]:
        """Current (strongly consistent) SKU items by code; unknown codes are absent."""

    def promotion(self, code: str) -> StoredPromotion | None:
        """The promotion with its redemption count; None when unknown."""

    def email_redemptions(self, code: str, email_hash: str) -> int:
        """How often the email (by hash) redeemed `code` in checkouts still holding it."""

    def create(self, checkout: CheckoutRecord, events: Sequence[DomainEvent]) -> None:
        """Atomically: store the checkout, reserve `checkout.reserved` per SKU (`available >= q` and
        the SKU active), redeem its promotion (within the limits) and record `events`. All or
        nothing; raises ReservationRejected when a condition fails."""

    def get(self, checkout_id: str) -> CheckoutRecord | None:
        """The checkout (strongly consistent); None when unknown."""

    def expired_checkout_ids(self, now: str, limit: int) -> list[str]:
        """Ids of checkouts holding reservations with `expires_at <= now` (may include some already
        released a moment ago: the release itself is conditional)."""

    def release(
        self,
        checkout: CheckoutRecord,
        new_status: str,
        at: str,
        events: Sequence[DomainEvent],
        *,
        unpaid_only: bool = False,
    ) -> bool:
        """Atomically: move the checkout from awaiting_payment to `new_status`, release its held
        reservations (stock back to available), give its promotion redemption back and record
        `events`. False (and nothing written) when the checkout was no longer awaiting payment, or,
        with `unpaid_only`, when it has a payment outcome (it was paid)."""

    def attach_payment(self, checkout_id: str, payment: dict[str, str]) -> None:
        """Record the checkout's payment (the `payment` object of the API) on the checkout."""

    def payment_state(self, payment_intent_id: str) -> tuple[str, str | None] | None:
        """(status, failure code) of the payment record the payments webhooks keep; None before any."""


class PaymentStarter(Protocol):
    def start(self, checkout_id: str, amount: int, currency: str) -> dict[str, str]:
        """Open the payment for a committed checkout: `{"provider", "payment_intent_id",
        "client_secret", "status"}`. Idempotent per checkout id. Raises PaymentStartFailed."""


class PaymentStartFailed(Exception):
    """The payment provider could not open the payment (outage, refusal)."""


class PromotionRepository(Protocol):
    def create(self, promotion: Promotion, created_at: str) -> None:
        """Store a new promotion with 0 redemptions; Conflict naming `code` when it exists."""

    def get(self, code: str) -> StoredPromotion | None:
        """The promotion and its redemption count; None when unknown."""
