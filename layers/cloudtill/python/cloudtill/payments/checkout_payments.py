"""The checkout's payment starter, implemented with the payments domain: one PaymentIntent per checkout
(idempotent by checkout id) and the payment record webhooks are matched against."""

from __future__ import annotations

from cloudtill.checkout.ports import PaymentStartFailed
from cloudtill.clock import Clock
from cloudtill.errors import DomainError
from cloudtill.payments.ports import PaymentGateway, PaymentStore
from cloudtill.payments.webhooks import register_payment_intent

PROVIDER = "stripe"


class StripeCheckoutPayments:
    def __init__(
        self, gateway: PaymentGateway, store: PaymentStore, clock: Clock, capture_manual: bool
    ) -> None:
        self._gateway = gateway
        self._store = store
        self._clock = clock
        self._capture_manual = capture_manual

    def start(self, checkout_id: str, amount: int, currency: str) -> dict[str, str]:
        try:
            intent = self._gateway.create_payment_intent(checkout_id, amount, currency, self._capture_manual)
        except DomainError as error:  # the adapter's PaymentProviderError / refused amount
            raise PaymentStartFailed(str(error)) from None
        # Recorded before the client secret leaves: a webhook can always be matched to its checkout.
        register_payment_intent(self._store, self._clock, checkout_id, intent, amount, currency)
        return {
            "provider": PROVIDER,
            "payment_intent_id": intent.id,
            "client_secret": intent.client_secret,
            "status": intent.status,
        }
