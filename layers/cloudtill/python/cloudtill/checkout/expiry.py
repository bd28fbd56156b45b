"""Expiring checkouts: one whose reservation time is over gives its stock and promotion back, unless
it was paid (then it becomes an order or is refunded). The `release-expired-checkouts` schedule
sweeps them; the order workflow expires its own checkout when its payment wait times out."""

from __future__ import annotations

from cloudtill.checkout.api import ExpirySweepResult
from cloudtill.checkout.events import checkout_expired, stock_released
from cloudtill.checkout.ports import CheckoutRepository
from cloudtill.checkout.records import AWAITING_PAYMENT, EXPIRED
from cloudtill.clock import Clock, iso
from cloudtill.observability import logger

SWEEP_LIMIT = 200


class CheckoutExpiry:
    def __init__(self, repository: CheckoutRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def expire_checkout(self, checkout_id: str) -> bool:
        """Expire a checkout whose reservation time is over: stock and promotion redemption go back.

        True when this call expired it; False when there was nothing to do (unknown, not awaiting
        payment any more, already expired by a concurrent run, or not yet due). Safe to call twice.
        """
        record = self._repository.get(checkout_id)
        now = self._clock.now()
        if record is None or record.status != AWAITING_PAYMENT or iso(now) < record.expires_at:
            return False
        if record.payment_outcome is not None:
            return False  # paid: it becomes an order or is refunded, it never "expires" unpaid
        at = iso(now)
        events = [stock_released(record, EXPIRED, now), checkout_expired(record, at, now)]
        return self._repository.release(record, EXPIRED, at, events, unpaid_only=True)

    def release_expired(self, limit: int = SWEEP_LIMIT) -> ExpirySweepResult:
        """One run of the `release-expired-checkouts` schedule. Each checkout on its own: one that
        fails is counted and logged (by id only) and tried again by the next run."""
        expired = skipped = paid = 0
        failed: list[str] = []
        for checkout_id in self._repository.expired_checkout_ids(iso(self._clock.now()), limit):
            try:
                if self.expire_checkout(checkout_id):
                    expired += 1
                    continue
                record = self._repository.get(checkout_id)
            except Exception as error:  # isolated: counted and logged
                failed.append(checkout_id)
                logger.warning(
                    "checkout expiry failed; retried by the next run",
                    extra={"checkout_id": checkout_id, "error": type(error).__name__},
                )
                continue
            if record is not None and record.status == AWAITING_PAYMENT and record.payment_outcome:
                paid += 1
            else:
                skipped += 1
        return ExpirySweepResult(expired=expired, already_released=skipped, paid=paid, failed=len(failed))
