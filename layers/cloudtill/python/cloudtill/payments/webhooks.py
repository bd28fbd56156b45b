"""Stripe webhooks: verify the signature over the raw body, deduplicate by event id, apply the effect.

Each handled event type becomes one `WebhookEffect`: the new payment record (status precedence of
`records`), at most a few outbox events, and the dedupe record, committed together. A second delivery
of the same event id commits nothing. Events of other types are acknowledged and ignored; events for a
PaymentIntent we never registered are acknowledged and kept as orphans for ops (see docs/payments.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import ValidationError

from cloudtill.clock import Clock, iso
from cloudtill.errors import DomainError, FieldError, MalformedRequest
from cloudtill.outbox import DomainEvent
from cloudtill.payments.ports import (
    PaymentIntentRef,
    PaymentStore,
    PaymentSucceededListener,
    SignatureVerifier,
    StaleRecord,
    WebhookEffect,
)
from cloudtill.payments.records import PaymentRecord, PaymentStatus
from cloudtill.payments.stripe_objects import Charge, Dispute, Event, PaymentIntent

SIGNATURE_HEADER = "Stripe-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
DOMAIN = "payments"
MAX_ATTEMPTS = 5  # optimistic concurrency: two webhooks of one intent racing

HANDLED_TYPES = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "charge.refunded",
        "charge.dispute.created",
    }
)


class InvalidSignature(DomainError):
    status = 400
    type_slug = "invalid-signature"
    title = "Invalid webhook signature"


def verify_event(
    payload: str,
    signature_header: str | None,
    secrets: Sequence[str],
    verifier: SignatureVerifier,
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
) -> Event:
    """The event, if `signature_header` signs `payload` with one of `secrets` (current, previous).

    Stripe signs with every active secret during a rotation (several `v1=` in one header); we accept
    a match of any of them with any configured secret. Anything else: `InvalidSignature` (400).
    """
    if not any(verifier.is_valid(payload, signature_header, s, tolerance_seconds) for s in secrets if s):
        raise InvalidSignature(
            "The Stripe-Signature header is missing, does not sign this body, or is older than "
            f"{tolerance_seconds} s.",
            [FieldError(SIGNATURE_HEADER, "missing, invalid or expired signature")],
        )
    try:
        return Event.model_validate(json.loads(payload))
    except (ValueError, ValidationError):
        raise MalformedRequest(
            "The body is not a Stripe event.", [FieldError("body", "not a Stripe event")]
        ) from None


@dataclass(frozen=True)
class WebhookOutcome:
    result: Literal["applied", "duplicate", "ignored", "orphan", "unchanged"]
    event_types: tuple[str, ...] = ()
    # The payment record as committed (applied) or as read (duplicate, unchanged); None when unknown.
    record: PaymentRecord | None = field(default=None, repr=False)


def register_payment_intent(
    store: PaymentStore,
    clock: Clock,
    checkout_id: str,
    intent: PaymentIntentRef,
    amount: int,
    currency: str,
) -> PaymentRecord:
    """Remember what `checkout_id` expects `intent` to collect, before the shopper can pay it.

    Called by the checkout right after `PaymentGateway.create_payment_intent`. Idempotent: a retried
    checkout (same intent, same amount) gets the existing record back.
    """
    now = iso(clock.now())
    record = PaymentRecord(
        payment_intent_id=intent.id,
        checkout_id=checkout_id,
        amount=amount,
        currency=currency.upper(),
        created_at=now,
        updated_at=now,
    )
    existing = store.create(record)
    if existing is None:
        return record
    if (existing.checkout_id, existing.amount, existing.currency) != (checkout_id, amount, currency.upper()):
        # A programming error (one intent per checkout): never client input.
        raise ValueError(f"payment intent {intent.id} is registered for another checkout or amount")
    return existing


def receive_webhook(
    payload: str,
    signature_header: str | None,
    secrets: Sequence[str],
    verifier: SignatureVerifier,
    processor: WebhookProcessor,
) -> tuple[Event, WebhookOutcome]:
    """The webhook endpoint's whole job: verify (400 and no write on failure), then process."""
    event = verify_event(payload, signature_header, secrets, verifier)
    return event, processor.process(event)


def _named_payment_intent(event: Event) -> str | None:
    """The PaymentIntent the event names directly (a charge may name only itself: then None, and the
    plan finds the intent through the charge link)."""
    obj = event.data.object
    try:
        if event.type.startswith("payment_intent."):
            return PaymentIntent.model_validate(obj).id
        if event.type == "charge.refunded":
            return Charge.model_validate(obj).payment_intent_id
        return Dispute.model_validate(obj).payment_intent_id
    except ValidationError:
        return None  # the plan reports it


class WebhookProcessor:
    def __init__(
        self, store: PaymentStore, clock: Clock, listener: PaymentSucceededListener | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._listener = listener

    def process(self, event: Event) -> WebhookOutcome:
        outcome = self._apply(event)
        if (
            self._listener is not None
            and event.type == "payment_intent.succeeded"
            and outcome.result in {"applied", "duplicate", "unchanged"}
        ):
            # After the commit, and on duplicates too: the follow-up is idempotent, and a redelivery
            # is the retry of a follow-up that failed (the webhook answered 5xx).
            record = outcome.record
            if record is None:  # a twin delivery committed under us: read what it wrote
                record = self._store.get(str(event.data.object.get("id")))
            if record is not None:
                self._listener.payment_succeeded(record)
        return outcome

    def _apply(self, event: Event) -> WebhookOutcome:
        if event.type not in HANDLED_TYPES:
            return WebhookOutcome("ignored")
        # The dedupe check and the record the plan needs, in one read.
        intent_id = _named_payment_intent(event)
        processed, record = self._store.lookup(event.id, intent_id)
        if processed:
            return WebhookOutcome("duplicate", record=record)
        reads: dict[str, PaymentRecord | None] = {intent_id: record} if intent_id else {}
        for _ in range(MAX_ATTEMPTS):
            effect = self._plan(event, reads)
            try:
                committed = self._store.commit(effect)
            except StaleRecord:
                reads.clear()  # another webhook of this intent committed first: re-read and re-plan
                continue
            if not committed:
                return WebhookOutcome("duplicate")
            if effect.orphan:
                return WebhookOutcome("orphan")
            read = reads.get(effect.payment_intent_id or "")
            if effect.record is None and not effect.events:
                return WebhookOutcome("unchanged", record=read)
            types = tuple(e.detail_type for e in effect.events)
            return WebhookOutcome("applied", types, record=effect.record or read)
        raise RuntimeError(f"payment record kept changing while applying event {event.id}")

    # -- planning: pure given the record read --------------------------------------------------------

    def _plan(self, event: Event, reads: dict[str, PaymentRecord | None]) -> WebhookEffect:
        obj = event.data.object
        if event.type.startswith("payment_intent."):
            intent = PaymentIntent.model_validate(obj)
            return self._plan_intent(event, intent, reads)
        if event.type == "charge.refunded":
            return self._plan_refund(event, Charge.model_validate(obj), reads)
        return self._plan_dispute(event, Dispute.model_validate(obj), reads)

    def _base(self, event: Event, payment_intent_id: str | None) -> WebhookEffect:
        return WebhookEffect(
            event_id=event.id,
            event_type=event.type,
            received_at=iso(self._clock.now()),
            payment_intent_id=payment_intent_id,
        )

    def _record(
        self, event: Event, payment_intent_id: str | None, reads: dict[str, PaymentRecord | None]
    ) -> tuple[WebhookEffect, PaymentRecord | None]:
        """The record to plan from: the one read already (`reads`), else a fresh read (kept)."""
        base = self._base(event, payment_intent_id)
        record = None
        if payment_intent_id:
            if payment_intent_id not in reads:
                reads[payment_intent_id] = self._store.get(payment_intent_id)
            record = reads[payment_intent_id]
        if record is None:
            return replace(base, orphan=True), None
        return base, record

    def _event(self, detail_type: str, detail: dict[str, Any], stripe_event: Event) -> DomainEvent:
        return DomainEvent(
            detail_type=detail_type,
            domain=DOMAIN,
            detail={**detail, "stripe_event_id": stripe_event.id},
            time=self._clock.now(),
        )

    def _changed(
        self, base: WebhookEffect, old: PaymentRecord, new: PaymentRecord, **kw: Any
    ) -> WebhookEffect:
        stamped = replace(new, updated_at=base.received_at, version=old.version + 1)
        return replace(base, record=stamped, expected_version=old.version, **kw)

    def _plan_intent(
        self, event: Event, intent: PaymentIntent, reads: dict[str, PaymentRecord | None]
    ) -> WebhookEffect:
        base, record = self._record(event, intent.id, reads)
        if record is None:
            return base
        status: PaymentStatus = {
            "payment_intent.succeeded": "succeeded",
            "payment_intent.payment_failed": "payment_failed",
            "payment_intent.canceled": "canceled",
            "payment_intent.requires_action": "requires_action",
        }[event.type]  # type: ignore[assignment]
        moved = record.with_status(status, event.created)
        if moved is None:
            return base  # precedence: e.g. a late payment_failed after succeeded changes nothing
        if status == "succeeded":
            received_currency = intent.currency.upper()
            mismatch = intent.received != record.amount or received_currency != record.currency
            moved = replace(
                moved,
                amount_received=intent.received,
                currency_received=received_currency,
                flagged_for_review=mismatch,
                failure_code=None,
                charge_id=intent.latest_charge_id or record.charge_id,
            )
            succeeded = self._event(
                "PaymentSucceeded",
                {
                    "payment_intent_id": intent.id,
                    "checkout_id": record.checkout_id,
                    "amount": intent.received,
                    "currency": received_currency,
                    "expected_amount": record.amount,
                    "expected_currency": record.currency,
                    "amount_mismatch": mismatch,
                },
                event,
            )
            link = (moved.charge_id, intent.id) if moved.charge_id else None
            return self._changed(
                base, record, moved, events=(succeeded,), charge_link=link, settles_checkout=True
            )
        if status in {"payment_failed", "canceled"}:
            failure_code = None
            if intent.last_payment_error is not None:
                failure_code = intent.last_payment_error.decline_code or intent.last_payment_error.code
            if status == "canceled":
                failure_code = "canceled"
            moved = replace(moved, failure_code=failure_code)
            failed = self._event(
                "PaymentFailed",
                {
                    "payment_intent_id": intent.id,
                    "checkout_id": record.checkout_id,
                    "failure_code": failure_code,
                    "retryable": moved.retryable,
                },
                event,
            )
            return self._changed(base, record, moved, events=(failed,))
        return self._changed(base, record, moved)  # requires_action: the record only

    def _plan_refund(
        self, event: Event, charge: Charge, reads: dict[str, PaymentRecord | None]
    ) -> WebhookEffect:
        intent_id = charge.payment_intent_id or self._store.payment_intent_of_charge(charge.id)
        base, record = self._record(event, intent_id, reads)
        if record is None:
            return base
        refunds = dict(record.refunds)
        new: list[tuple[str | None, int]] = []
        if charge.refunds is not None and charge.refunds.data and not charge.refunds.has_more:
            for refund in charge.refunds.data:
                if refund.status in (None, "succeeded", "pending") and refund.id not in refunds:
                    refunds[refund.id] = refund.amount
                    new.append((refund.id, refund.amount))
        else:
            # The charge lists no refunds (API versions since 2022-11-15): its cumulative total is what
            # we know. Recorded under the charge id, so redeliveries never add it twice.
            total_key = f"{charge.id}#total"
            known = sum(v for k, v in refunds.items() if k != total_key)
            delta = charge.amount_refunded - known - refunds.get(total_key, 0)
            if delta > 0:
                refunds[total_key] = refunds.get(total_key, 0) + delta
                new.append((None, delta))
        if not new:
            return base
        moved = replace(record, refunds=refunds)
        refunded_total = moved.refunded_amount
        events = tuple(
            self._event(
                "RefundIssued",
                {
                    "payment_intent_id": record.payment_intent_id,
                    "checkout_id": record.checkout_id,
                    "refund_id": refund_id,
                    "charge_id": charge.id,
                    "amount": amount,
                    "currency": charge.currency.upper(),
                    "refunded_total": refunded_total,
                    "fully_refunded": refunded_total >= charge.amount,
                },
                event,
            )
            for refund_id, amount in new
        )
        return self._changed(base, record, moved, events=events)

    def _plan_dispute(
        self, event: Event, dispute: Dispute, reads: dict[str, PaymentRecord | None]
    ) -> WebhookEffect:
        intent_id = dispute.payment_intent_id
        if intent_id is None and dispute.charge_id:
            intent_id = self._store.payment_intent_of_charge(dispute.charge_id)
        base, record = self._record(event, intent_id, reads)
        if record is None or dispute.id in record.disputes:
            return base
        moved = replace(record, disputes=(*record.disputes, dispute.id))
        opened = self._event(
            "DisputeOpened",
            {
                "payment_intent_id": record.payment_intent_id,
                "checkout_id": record.checkout_id,
                "dispute_id": dispute.id,
                "charge_id": dispute.charge_id,
                "amount": dispute.amount,
                "currency": dispute.currency.upper(),
                "reason": dispute.reason,
                "status": dispute.status,
            },
            event,
        )
        return self._changed(base, record, moved, events=(opened,))
