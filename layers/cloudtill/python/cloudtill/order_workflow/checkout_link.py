"""The checkout domain as the order workflow uses it: read a checkout, expire it (the checkout's own
`expire_checkout`: stock and promotion back, `StockReleased` + `CheckoutExpired`), or cancel it
(a paid checkout that cannot become an order: the same release with `StockReleased` reason
`cancelled`)."""

from __future__ import annotations

from cloudtill.checkout.ports import CheckoutRepository
from cloudtill.checkout.records import AWAITING_PAYMENT, CheckoutRecord
from cloudtill.checkout.service import CANCELLED, CheckoutService, stock_released
from cloudtill.clock import Clock, iso


class NoNewPayments:
    """The workflow never opens payments: the checkout service's payment port, refusing."""

    def start(self, checkout_id: str, amount: int, currency: str) -> dict[str, str]:
        raise RuntimeError("the order workflow does not open payments")


class CheckoutLink:
    def __init__(self, repository: CheckoutRepository, service: CheckoutService, clock: Clock) -> None:
        self._repository = repository
        self._service = service
        self._clock = clock

    def get(self, checkout_id: str) -> CheckoutRecord | None:
        return self._repository.get(checkout_id)

    def expire(self, checkout_id: str) -> bool:
        return self._service.expire_checkout(checkout_id)

    def cancel(self, checkout_id: str) -> bool:
        record = self._repository.get(checkout_id)
        if record is None or record.status != AWAITING_PAYMENT:
            return False
        now = self._clock.now()
        return self._repository.release(record, CANCELLED, iso(now), [stock_released(record, CANCELLED, now)])
