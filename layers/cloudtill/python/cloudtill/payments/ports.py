"""What the payments domain needs from the outside world: small Protocols, adapters elsewhere.

`PaymentGateway` is Stripe (`stripe_adapter.StripePaymentGateway`, pointed at api.stripe.com in AWS and at
localstripe locally); `PaymentStore` and `OrderPaymentLookup` are DynamoDB (`dynamo`), `RefundClaims`
too (`claims_dynamo`); unit tests use the in-memory fakes of `tests/fakes.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cloudtill.errors import DomainError
from cloudtill.outbox import DomainEvent
from cloudtill.payments.records import ClaimState, PaymentRecord, RefundClaim, TakenClaim

# Metadata key of a refund naming the claim it was requested for (`PaymentGateway.find_refund`).
REFUND_CLAIM_METADATA = "refund_claim"


class PaymentProviderError(DomainError):
    """The payment provider refused a request or failed (what `PaymentGateway` raises besides an
    amount it refuses, `ValidationFailed` on `amount`)."""

    status = 502
    type_slug = "payment-provider-error"
    title = "The payment provider refused or failed"


@dataclass(frozen=True)
class PaymentIntentRef:
    """What the checkout keeps and returns: the client secret goes to the shopper's browser only."""

    id: str
    client_secret: str = field(repr=False)
    status: str


@dataclass(frozen=True)
class RefundRef:
    id: str
    amount: int
    currency: str
    status: str


class PaymentGateway(Protocol):
    def create_payment_intent(
        self, checkout_id: str, amount: int, currency: str, capture_manual: bool
    ) -> PaymentIntentRef:
        """One intent per checkout: the idempotency key is `checkout-<checkout_id>`, so a retried
        checkout gets the same intent back. Metadata carries `checkout_id`."""
        ...

    def cancel_payment_intent(self, payment_intent_id: str) -> str:
        """Cancel (checkout expired or cancelled); returns the intent's status."""
        ...

    def capture(self, payment_intent_id: str, amount: int | None = None) -> str:
        """Capture a manually captured intent (all of it, or `amount`); returns the status."""
        ...

    def refund(
        self,
        payment_intent_id: str,
        amount: int,
        reason: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundRef: ...

    def find_refund(self, payment_intent_id: str, refund_claim: str) -> RefundRef | None:
        """The refund of `payment_intent_id` whose metadata `refund_claim` is `refund_claim`, if one
        was created: what a retried refund looks for first, so it never refunds twice even where
        Stripe's idempotency key cannot help (after 24 hours; localstripe ignores the key)."""
        ...

    def refunded_total(self, payment_intent_id: str) -> int:
        """What Stripe has refunded of `payment_intent_id` so far (pending refunds included): its
        view, that a refund it refused is reconciled with."""
        ...


class SignatureVerifier(Protocol):
    def is_valid(self, payload: str, header: str | None, secret: str, tolerance_seconds: int) -> bool:
        """True when `header` (Stripe-Signature) holds a v1 signature of `payload` by `secret`, made
        at most `tolerance_seconds` ago."""
        ...


class StaleRecord(Exception):
    """The payment record changed since it was read: read it again and re-plan."""


@dataclass(frozen=True)
class WebhookEffect:
    """Everything one webhook event changes, committed in ONE transaction (or not at all)."""

    event_id: str
    event_type: str
    received_at: str
    payment_intent_id: str | None
    # The new state of the payment record (None: unchanged), written only if still at `expected_version`.
    record: PaymentRecord | None = None
    expected_version: int | None = None
    events: Sequence[DomainEvent] = ()
    # charge id -> payment intent, remembered for webhooks that name only the charge.
    charge_link: tuple[str, str] | None = None
    orphan: bool = False
    # The payment succeeded with this event: tell its checkout in the same transaction (the order
    # workflow's AwaitPayment stores its token only while the checkout has no payment outcome).
    settles_checkout: bool = False


class PaymentStore(Protocol):
    def create(self, record: PaymentRecord) -> PaymentRecord | None:
        """Write a new record; if one exists already, write nothing and return the existing one."""
        ...

    def get(self, payment_intent_id: str) -> PaymentRecord | None: ...

    def payment_intent_of_charge(self, charge_id: str) -> str | None: ...

    def is_processed(self, event_id: str) -> bool: ...

    def lookup(self, event_id: str, payment_intent_id: str | None) -> tuple[bool, PaymentRecord | None]:
        """`is_processed(event_id)` and `get(payment_intent_id)` in one round trip (strongly
        consistent): what a webhook reads before planning its effect."""
        ...

    def commit(self, effect: WebhookEffect) -> bool:
        """Dedupe put + record update + outbox events, atomically. False (nothing written) when the
        event id was processed before; raises `StaleRecord` when the record moved on meanwhile."""
        ...


class OrderPaymentLookup(Protocol):
    def payment_intent_of_order(self, order_id: str) -> str | None: ...


class PaymentSucceededListener(Protocol):
    """Told about every verified `payment_intent.succeeded` (first delivery and redeliveries alike,
    so a follow-up that failed once runs again when Stripe retries), with the payment record as
    committed or read (strongly consistent) by the webhook: no need to read it again. The order
    lifecycle resumes the checkout's workflow, or refunds a payment that came after the checkout
    closed."""

    def payment_succeeded(self, record: PaymentRecord) -> str: ...


class NothingToRefund(Exception):
    """The owner's ledger has less room than the claim needs: `remaining` is what is left."""

    def __init__(self, remaining: int) -> None:
        super().__init__(f"{remaining} remains to refund")
        self.remaining = remaining


class RefundClaims(Protocol):
    """The refund ledger's storage: what every refund path claims through (`refund_ledger`)."""

    def claim_refund(self, refund: RefundClaim, at: str, stale_before: str) -> TakenClaim | None:
        """Claim the right to request `refund` (claim `refund_<claim>` on the item `refund.owner`),
        recording `at` as its `requested_at`, count its amount in the owner's ledger, and list it as
        pending (the stuck-refund sweep's index), all in one conditional write, so concurrent claims
        never count more than `refund.cap`. The amount counted: `refund.amount` if it fits, else (not
        `exact`) what remains; a claim taken again keeps the amount it was first counted with.
        `first`: never claimed before. `again`: it had failed, or it was stuck `requesting` since
        before `stale_before` and is taken over (conditional on the old `requested_at`: of two
        retriers one wins). None: requested already, or another attempt holds it (younger than
        `stale_before`). Raises NothingToRefund when the ledger has no room for it."""
        ...

    def settle_refund_claim(
        self, refund: RefundClaim, at: str, refund_id: str | None, refunded: int | None = None
    ) -> None:
        """`refund_id` set: the refund was requested (no longer pending), for `refunded` (default
        `refund.amount`; the ledger follows when it differs). None: it failed, the claim may be taken
        again and no longer counts. Only the holder that claimed at `at` settles (a no-op otherwise)."""
        ...

    def refund_claim(self, owner: tuple[str, str], claim: str) -> ClaimState | None:
        """The claim as stored (strongly consistent), None when never claimed."""
        ...

    def stuck_refund_claims(self, stale_before: str, limit: int) -> list[RefundClaim]:
        """Pending refunds claimed before `stale_before` (oldest first, at most `limit`)."""
        ...
