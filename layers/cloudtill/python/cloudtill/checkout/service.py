"""Checkout use cases. Knows nothing of Lambda or DynamoDB: it gets repositories and a clock.

Creating a checkout prepares it against a fresh read (`cloudtill.checkout.creation`: prices from the
catalog, never from the client; promotion; reservation plan; totals) and then writes everything in one
all-or-nothing step (`CheckoutRepository.create`): checkout, stock reservations, promotion redemption
and outbox events. The reads before that step only produce good error messages; the step's
conditions are what keep stock and promotion limits exact under concurrency. Expiry is
`cloudtill.checkout.expiry`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from cloudtill.checkout.api import (
    CheckoutIn,
    CheckoutOut,
    CreatedCheckoutOut,
    ExpirySweepResult,
    ShippingMethodsOut,
    checkout_out,
)
from cloudtill.checkout.creation import CheckoutPreparer
from cloudtill.checkout.events import created_events, stock_released
from cloudtill.checkout.expiry import SWEEP_LIMIT, CheckoutExpiry
from cloudtill.checkout.ports import (
    CheckoutRepository,
    PaymentStarter,
    PaymentStartFailed,
    ReservationRejected,
)
from cloudtill.checkout.pricing import shipping_options
from cloudtill.checkout.records import AWAITING_PAYMENT, CANCELLED, EXPIRED, CheckoutRecord
from cloudtill.checkout.tokens import token_hash, token_matches
from cloudtill.clock import Clock, iso
from cloudtill.errors import NotFound, ServiceUnavailable
from cloudtill.promotions.service import PromotionService
from cloudtill.settings import ShopSettings
from cloudtill.workflow import Workflow

__all__ = [
    "AWAITING_PAYMENT",
    "CANCELLED",
    "EXPIRED",
    "CheckoutService",
    "PromotionService",
    "checkout_out",
    "new_checkout_id",
    "stock_released",
]

# A cancelled transaction is answered by reading again: the fresh read explains the refusal (409/422)
# or, when the competing change is gone, the next attempt succeeds.
MAX_ATTEMPTS = 3


def new_checkout_id() -> str:
    return "chk_" + uuid.uuid4().hex


class CheckoutService:
    def __init__(
        self,
        repository: CheckoutRepository,
        clock: Clock,
        shop: ShopSettings,
        ttl_seconds: int,
        payments: PaymentStarter,
        new_id: Callable[[], str] = new_checkout_id,
        backoff: Callable[[int], None] = lambda attempt: time.sleep(0.02 * attempt),
        *,
        lifecycle: Workflow | None = None,
    ) -> None:
        self._repository = repository
        # The order lifecycle (Step Functions): one execution per checkout, started once it is paid for
        # (stock held, PaymentIntent open). None only where no order may follow (unit tests, tools).
        self._lifecycle = lifecycle
        self._payments = payments
        self._clock = clock
        self._shop = shop
        self._ttl = timedelta(seconds=ttl_seconds)
        self._new_id = new_id
        self._backoff = backoff
        self._preparer = CheckoutPreparer(repository, clock, shop, self._ttl)
        self._expiry = CheckoutExpiry(repository, clock)

    # -- queries ---------------------------------------------------------------------------------------

    def shipping_methods(self, country: str) -> ShippingMethodsOut:
        options = shipping_options(self._shop, country, field="country")
        return ShippingMethodsOut(
            country=country.strip().upper(), currency=self._shop.currency, methods=options
        )

    def get_checkout(self, checkout_id: str, token: str | None) -> CheckoutOut:
        record = self._repository.get(checkout_id)
        # A missing and a wrong token look exactly like an unknown checkout: never reveal it exists.
        if record is None or not token_matches(token, record.token_hash):
            raise NotFound("No such checkout.")
        return with_current_payment(checkout_out(record), self._repository)

    # -- create ----------------------------------------------------------------------------------------

    def create_checkout(self, body: CheckoutIn, token: str) -> CreatedCheckoutOut:
        checkout_id = self._new_id()
        rejection: ReservationRejected | None = None
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                self._backoff(attempt)
            record, snapshots = self._preparer.prepare(body, checkout_id, token_hash(token))
            try:
                self._repository.create(record, created_events(record))
            except ReservationRejected as rejected:
                rejection = rejected
                continue
            record = replace(record, payment=self._open_payment(record))
            self._start_lifecycle(record)
            return CreatedCheckoutOut(**checkout_out(record).model_dump(), token=token)
        assert rejection is not None
        raise self._preparer.explain(rejection, body, snapshots)

    def _open_payment(self, record: CheckoutRecord) -> dict[str, str]:
        """The stock is held; now the payment. If the provider fails, the checkout is cancelled at once
        (its stock and promotion given back) and the shopper may simply try again."""
        try:
            payment = self._payments.start(record.id, record.total, record.currency)
        except PaymentStartFailed:
            self._cancel(record)
            raise ServiceUnavailable(
                "The payment provider is unavailable; nothing was reserved. Please try again."
            ) from None
        self._repository.attach_payment(record.id, payment)
        return payment

    def _start_lifecycle(self, record: CheckoutRecord) -> None:
        """Start the checkout's order workflow (named after the checkout: a second start is a no-op).
        It waits for the payment until the reservation expires. If it cannot start, the checkout is
        cancelled before its client secret leaves, so nobody can pay a checkout no workflow watches."""
        if self._lifecycle is None:
            return
        payload = {
            "checkout_id": record.id,
            "expires_at": record.expires_at,
            # One second past `expires_at`, so the expiry it then triggers is due.
            "payment_timeout_seconds": int(self._ttl.total_seconds()) + 1,
        }
        try:
            self._lifecycle.start(record.id, payload)
        except Exception:
            self._cancel(record)
            raise ServiceUnavailable(
                "The order workflow could not be started; nothing was reserved. Please try again."
            ) from None

    def _cancel(self, record: CheckoutRecord) -> None:
        """Give a checkout's stock and promotion back at once (it never got its client secret), with
        the StockReleased every release emits."""
        now = self._clock.now()
        self._repository.release(record, CANCELLED, iso(now), [stock_released(record, CANCELLED, now)])

    # -- expiry ----------------------------------------------------------------------------------------

    def expire_checkout(self, checkout_id: str) -> bool:
        """See `CheckoutExpiry.expire_checkout`: True when this call expired the checkout."""
        return self._expiry.expire_checkout(checkout_id)

    def release_expired(self, limit: int = SWEEP_LIMIT) -> ExpirySweepResult:
        """One run of the `release-expired-checkouts` schedule (`CheckoutExpiry.release_expired`)."""
        return self._expiry.release_expired(limit)


# The payment record's status (kept by the payments webhooks) in Stripe's words for a PaymentIntent.
_STRIPE_STATUS = {
    "requires_action": "requires_action",
    "payment_failed": "requires_payment_method",
    "canceled": "canceled",
    "succeeded": "succeeded",
}


def with_current_payment(out: CheckoutOut, repository: CheckoutRepository) -> CheckoutOut:
    """The answer with the payment's current status (what the webhooks recorded so far)."""
    if out.payment is None:
        return out
    state = repository.payment_state(out.payment.payment_intent_id)
    if state is None or state[0] not in _STRIPE_STATUS:
        return out
    status, failure_code = state
    payment = out.payment.model_copy(
        update={
            "status": _STRIPE_STATUS[status],
            "failure_code": failure_code if status == "payment_failed" else None,
        }
    )
    return out.model_copy(update={"payment": payment})
