"""The Stripe adapters: `PaymentGateway` over `stripe.StripeClient`, and webhook signature checks.

The ONLY module importing the Stripe SDK, and only when first used (importing it costs up to 0.25 s of
cold start). The API base is configurable: api.stripe.com in AWS, localstripe locally, same code.
Stripe errors leave as domain errors: an invalid `amount` is the client's 422, anything else a 502.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cloudtill.errors import ValidationFailed
from cloudtill.observability import logger
from cloudtill.payments.ports import (
    REFUND_CLAIM_METADATA,
    PaymentIntentRef,
    PaymentProviderError,
    RefundRef,
)

if TYPE_CHECKING:
    import stripe

DEFAULT_NETWORK_RETRIES = 2


def idempotency_key_for_checkout(checkout_id: str) -> str:
    return f"checkout-{checkout_id}"


class StripePaymentGateway:
    """`api_key` is a callable so a rotated key (Secrets Manager, cached 5 min) is picked up."""

    def __init__(
        self,
        api_key: Callable[[], str],
        api_base: str | None = None,
        max_network_retries: int = DEFAULT_NETWORK_RETRIES,
    ) -> None:
        self._api_key = api_key
        self._api_base = api_base
        self._retries = max_network_retries
        self._lock = threading.Lock()
        self._client: tuple[str, stripe.StripeClient] | None = None

    def _stripe(self) -> stripe.StripeClient:
        key = self._api_key()
        with self._lock:
            if self._client is None or self._client[0] != key:
                import stripe  # the lazy import: see the module docstring

                self._client = (
                    key,
                    stripe.StripeClient(
                        key,
                        base_addresses={"api": self._api_base} if self._api_base else None,
                        max_network_retries=self._retries,
                    ),
                )
            return self._client[1]

    def create_payment_intent(
        self, checkout_id: str, amount: int, currency: str, capture_manual: bool
    ) -> PaymentIntentRef:
        client = self._stripe()
        with _stripe_errors("create_payment_intent"):
            intent = client.v1.payment_intents.create(
                params={
                    "amount": amount,
                    "currency": currency.lower(),
                    "capture_method": "manual" if capture_manual else "automatic",
                    "metadata": {"checkout_id": checkout_id},
                },
                options={"idempotency_key": idempotency_key_for_checkout(checkout_id)},
            )
        return PaymentIntentRef(id=intent.id, client_secret=intent.client_secret or "", status=intent.status)

    def cancel_payment_intent(self, payment_intent_id: str) -> str:
        client = self._stripe()
        with _stripe_errors("cancel_payment_intent"):
            intent = client.v1.payment_intents.cancel(payment_intent_id)
        return str(intent.status)

    def capture(self, payment_intent_id: str, amount: int | None = None) -> str:
        client = self._stripe()
        params: Any = {"amount_to_capture": amount} if amount is not None else {}
        with _stripe_errors("capture"):
            intent = client.v1.payment_intents.capture(payment_intent_id, params=params)
        return str(intent.status)

    def refund(
        self,
        payment_intent_id: str,
        amount: int,
        reason: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundRef:
        client = self._stripe()
        with _stripe_errors("refund"):
            refund = client.v1.refunds.create(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount,
                    "reason": reason,  # type: ignore[typeddict-item]
                    "metadata": dict(metadata or {}),
                },
                options={"idempotency_key": idempotency_key},
            )
        return RefundRef(
            id=refund.id, amount=refund.amount, currency=refund.currency, status=str(refund.status)
        )

    def find_refund(self, payment_intent_id: str, refund_claim: str) -> RefundRef | None:
        client = self._stripe()
        with _stripe_errors("find_refund"):
            # A PaymentIntent has a handful of refunds at most; metadata cannot be filtered server-side.
            found = client.v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
            for refund in found.auto_paging_iter():
                metadata = refund.metadata
                if (
                    metadata
                    and REFUND_CLAIM_METADATA in metadata
                    and metadata[REFUND_CLAIM_METADATA] == refund_claim
                ):
                    return RefundRef(
                        id=refund.id,
                        amount=refund.amount,
                        currency=refund.currency,
                        status=str(refund.status),
                    )
        return None

    def refunded_total(self, payment_intent_id: str) -> int:
        client = self._stripe()
        with _stripe_errors("refunded_total"):
            found = client.v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
            return sum(
                refund.amount
                for refund in found.auto_paging_iter()
                if str(refund.status) in _REFUNDED_STATUSES
            )


# Refund statuses that hold money back from the charge (failed and canceled refunds gave it back).
_REFUNDED_STATUSES = {"succeeded", "pending", "requires_action"}
# Stripe's codes for a refund it will never accept: more than remains, or nothing remains.
_REFUND_REFUSED_CODES = {"charge_already_refunded", "amount_too_large"}


@contextmanager
def _stripe_errors(operation: str) -> Iterator[None]:
    import stripe

    try:
        yield
    except stripe.InvalidRequestError as error:
        # Stripe names the offending parameter; an amount it refuses is the caller's problem.
        if error.param in {"amount", "amount_to_capture"} or error.code in _REFUND_REFUSED_CODES:
            raise ValidationFailed.for_field("amount", error.user_message or "refused by Stripe") from None
        logger.warning("Stripe refused a request", extra={"operation": operation, "param": error.param})
        raise PaymentProviderError(f"Stripe refused {operation}.") from None
    except stripe.StripeError as error:
        logger.warning(
            "Stripe call failed",
            extra={
                "operation": operation,
                "error_type": type(error).__name__,
                "http_status": error.http_status,
            },
        )
        raise PaymentProviderError(f"Stripe could not complete {operation}; try again.") from None


class StripeSignatureVerifier:
    """`SignatureVerifier` with Stripe's own check (every `v1` of the header, timestamp tolerance)."""

    def is_valid(self, payload: str, header: str | None, secret: str, tolerance_seconds: int) -> bool:
        import stripe

        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance_seconds)
        except stripe.SignatureVerificationError:
            return False
        return True
