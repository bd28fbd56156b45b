"""Checkout use cases. Knows nothing of Lambda or DynamoDB: it gets repositories and a clock.

Creating a checkout prices the lines from the catalog (never from the client), judges the promotion,
plans the reservation, quotes the totals (`cloudtill.checkout.pricing.quote_checkout`) and then writes
everything in one all-or-nothing step (`CheckoutRepository.create`): checkout, stock reservations,
promotion redemption and outbox events. The reads before that step only produce good error
messages; the step's conditions are what keep stock and promotion limits exact under concurrency.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from cloudtill.checkout.api import (
    MAX_DISTINCT_SKUS,
    AddressOut,
    CheckoutIn,
    CheckoutLineOut,
    CheckoutOut,
    CreatedCheckoutOut,
    ExpirySweepResult,
    PaymentOut,
    ShippingMethodsOut,
)
from cloudtill.checkout.ports import (
    CheckoutRepository,
    PaymentStarter,
    PaymentStartFailed,
    PromotionRepository,
    ReservationRejected,
)
from cloudtill.checkout.pricing import (
    COUNTRY_FIELD,
    SHIPPING_METHOD_FIELD,
    PricedLine,
    quote_checkout,
    shipping_options,
)
from cloudtill.checkout.records import (
    CheckoutLineRecord,
    CheckoutRecord,
    PromotionRedemption,
    SkuSnapshot,
    StoredPromotion,
)
from cloudtill.checkout.tokens import email_hash, token_hash, token_matches
from cloudtill.clock import Clock, iso
from cloudtill.errors import (
    Conflict,
    FieldError,
    NotFound,
    OutOfStock,
    ServiceUnavailable,
    ValidationFailed,
)
from cloudtill.money import Money
from cloudtill.observability import logger
from cloudtill.outbox import DomainEvent
from cloudtill.promotions.rules import (
    PROMO_FIELD,
    Promotion,
    PromotionIn,
    PromotionOut,
    check_applicable,
    new_promotion,
    normalize_code,
    normalize_email,
)
from cloudtill.settings import ShopSettings
from cloudtill.stock.reservations import ReservationLine, StockLevel, plan_reservation
from cloudtill.workflow import Workflow

DOMAIN = "checkout"
AWAITING_PAYMENT = "awaiting_payment"
EXPIRED = "expired"
CANCELLED = "cancelled"
# A cancelled transaction is answered by reading again: the fresh read explains the refusal (409/422)
# or, when the competing change is gone, the next attempt succeeds.
MAX_ATTEMPTS = 3
SWEEP_LIMIT = 200


def new_checkout_id() -> str:
    return "chk_" + uuid.uuid4().hex


def _event(detail_type: str, detail: dict[str, object], at: datetime) -> DomainEvent:
    return DomainEvent(detail_type=detail_type, domain=DOMAIN, detail=detail, time=at)


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
            record, snapshots = self._prepare(body, checkout_id, token_hash(token))
            try:
                self._repository.create(record, self._created_events(record))
            except ReservationRejected as rejected:
                rejection = rejected
                continue
            record = replace(record, payment=self._open_payment(record))
            self._start_lifecycle(record)
            return CreatedCheckoutOut(**checkout_out(record).model_dump(), token=token)
        assert rejection is not None
        raise self._explain(rejection, body, snapshots)

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

    def _prepare(
        self, body: CheckoutIn, checkout_id: str, hashed_token: str
    ) -> tuple[CheckoutRecord, dict[str, SkuSnapshot]]:
        """Validate and price the request against a fresh read; raises 422/409 problems."""
        codes = list(dict.fromkeys(line.sku for line in body.lines))
        if len(codes) > MAX_DISTINCT_SKUS:
            raise ValidationFailed.for_field(
                "lines", f"at most {MAX_DISTINCT_SKUS} different SKUs per checkout"
            )
        self._check_quantities(body)
        snapshots = self._repository.skus(codes)
        unknown = [
            FieldError(f"lines[{i}].sku", f"{line.sku!r} is not for sale")
            for i, line in enumerate(body.lines)
            if not self._sellable(snapshots.get(line.sku))
        ]
        if unknown:
            raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in unknown), unknown)

        country = body.shipping_address.country.upper()
        options = shipping_options(self._shop, country, field=COUNTRY_FIELD)
        if body.shipping_method is not None and body.shipping_method not in {o.id for o in options}:
            raise ValidationFailed.for_field(
                SHIPPING_METHOD_FIELD, f"{body.shipping_method!r} is not available for {country}"
            )

        now = self._clock.now()
        email = normalize_email(str(body.email))
        hashed_email = email_hash(email)
        subtotal = Money(sum(snapshots[ln.sku].price * ln.quantity for ln in body.lines), self._shop.currency)
        promotion = self._applicable_promotion(body.promo_code, subtotal, email, hashed_email, now)

        # Planned on the request's lines, so a shortage names them as sent...
        plan = plan_reservation(
            [ReservationLine(line.sku, line.quantity) for line in body.lines],
            {code: StockLevel(s.on_hand, s.reserved, s.backorder_limit) for code, s in snapshots.items()},
        )
        # ...and priced, stored and answered with one line per SKU, in the order first seen: an order
        # line is a SKU, so cancelling, shipping and returning it count every unit once.
        priced = [
            PricedLine(s.sku, snapshots[s.sku].name, snapshots[s.sku].price, s.requested, s.backordered)
            for s in plan.skus
        ]
        quote = quote_checkout(priced, self._shop, country, body.shipping_method, promotion)
        created_at = iso(now)
        record = CheckoutRecord(
            id=checkout_id,
            token_hash=hashed_token,
            status=AWAITING_PAYMENT,
            email=email,
            email_hash=hashed_email,
            phone=body.phone,
            marketing_consent=body.marketing_consent,
            lines=tuple(
                CheckoutLineRecord(
                    sku=q.sku,
                    name=q.name,
                    quantity=q.quantity,
                    unit_price=q.unit_price,
                    line_total=q.line_total,
                    discount=q.discount,
                    tax=q.tax,
                    backordered=q.backordered,
                )
                for q in quote.lines
            ),
            currency=quote.currency,
            subtotal=quote.subtotal,
            discount=quote.discount,
            shipping=quote.shipping,
            tax=quote.tax,
            total=quote.total,
            prices_include_tax=quote.prices_include_tax,
            tax_rate_bps=quote.tax_rate_bps,
            shipping_method=quote.shipping_method,
            shipping_address={**body.shipping_address.model_dump(), "country": country},
            redemption=(
                PromotionRedemption(
                    code=promotion.code,
                    email_hash=hashed_email,
                    max_redemptions=promotion.max_redemptions,
                    max_per_email=promotion.max_per_email,
                )
                if promotion
                else None
            ),
            created_at=created_at,
            updated_at=created_at,
            expires_at=iso(now + self._ttl),
            reserved=plan.quantities(),
            backorder_limits={sku: snapshots[sku].backorder_limit for sku in plan.quantities()},
        )
        return record, snapshots

    def _check_quantities(self, body: CheckoutIn) -> None:
        """At most `max_quantity_per_sku` units of a SKU, on one line or on several together: 422 naming
        each `lines[i].quantity` at which a SKU goes beyond it."""
        limit = self._shop.max_quantity_per_sku
        totals: dict[str, int] = {}
        errors: list[FieldError] = []
        for i, line in enumerate(body.lines):
            total = totals[line.sku] = totals.get(line.sku, 0) + line.quantity
            if total > limit:
                asked = f"{total} asked" + (" with its earlier lines" if total > line.quantity else "")
                message = f"at most {limit} of {line.sku} per checkout ({asked})"
                errors.append(FieldError(f"lines[{i}].quantity", message))
        if errors:
            raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors)

    def _sellable(self, snapshot: SkuSnapshot | None) -> bool:
        return snapshot is not None and snapshot.active and snapshot.currency == self._shop.currency

    def _applicable_promotion(
        self, raw_code: str | None, subtotal: Money, email: str, hashed_email: str, now: datetime
    ) -> Promotion | None:
        if raw_code is None:
            return None
        stored = self._repository.promotion(normalize_code(raw_code))
        if stored is None:
            raise ValidationFailed.for_field(PROMO_FIELD, "unknown code")
        by_email = (
            {email: self._repository.email_redemptions(stored.promotion.code, hashed_email)}
            if stored.promotion.max_per_email is not None
            else {}
        )
        check_applicable(stored.promotion, subtotal, email, now, stored.redeemed, by_email)
        return stored.promotion

    def _explain(
        self, rejection: ReservationRejected, body: CheckoutIn, snapshots: dict[str, SkuSnapshot]
    ) -> Exception:
        """The error for a request whose transaction kept being refused although reads said yes."""
        if rejection.short_skus:
            short = set(rejection.short_skus)
            return OutOfStock(
                "not enough stock for " + ", ".join(sorted(short)),
                [
                    FieldError(f"lines[{i}].sku", "not enough stock right now")
                    for i, line in enumerate(body.lines)
                    if line.sku in short
                ],
                unavailable=[
                    {
                        "sku": sku,
                        "requested": sum(ln.quantity for ln in body.lines if ln.sku == sku),
                        "available": max(
                            snapshots[sku].on_hand + snapshots[sku].backorder_limit - snapshots[sku].reserved,
                            0,
                        )
                        if sku in snapshots
                        else 0,
                    }
                    for sku in rejection.short_skus
                ],
            )
        if rejection.promotion_refused:
            return ValidationFailed.for_field(PROMO_FIELD, "this code has been used up")
        return Conflict("Too many checkouts are competing for the same items; please retry.")

    @staticmethod
    def _created_events(record: CheckoutRecord) -> list[DomainEvent]:
        at = _parse(record.created_at)
        created = _event(
            "CheckoutCreated",
            {
                "checkout_id": record.id,
                "email": record.email,
                "phone": record.phone,
                "marketing_consent": record.marketing_consent,
                "currency": record.currency,
                "subtotal": record.subtotal,
                "discount": record.discount,
                "shipping": record.shipping,
                "tax": record.tax,
                "total": record.total,
                "promo_code": record.promo_code,
                "lines": [
                    {
                        "sku": ln.sku,
                        "quantity": ln.quantity,
                        "unit_price": ln.unit_price,
                        "backordered": ln.backordered,
                    }
                    for ln in record.lines
                ],
                "created_at": record.created_at,
                "expires_at": record.expires_at,
            },
            at,
        )
        backordered = {ln.sku for ln in record.lines if ln.backordered}
        reserved = _event(
            "StockReserved",
            {
                "checkout_id": record.id,
                "expires_at": record.expires_at,
                "items": [
                    {"sku": sku, "quantity": qty, "backordered": sku in backordered}
                    for sku, qty in record.reserved.items()
                ],
            },
            at,
        )
        return [created, reserved]

    # -- expiry ----------------------------------------------------------------------------------------

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
        events = [
            stock_released(record, EXPIRED, now),
            _event(
                "CheckoutExpired",
                {
                    "checkout_id": record.id,
                    "expired_at": at,
                    "expires_at": record.expires_at,
                    "promo_code": record.promo_code,
                },
                now,
            ),
        ]
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


class PromotionService:
    def __init__(self, repository: PromotionRepository, clock: Clock, currency: str) -> None:
        self._repository = repository
        self._clock = clock
        self._currency = currency

    def create_promotion(self, body: PromotionIn) -> PromotionOut:
        promotion = new_promotion(body, self._currency)
        self._repository.create(promotion, iso(self._clock.now()))
        return PromotionOut.from_promotion(promotion, redeemed=0)

    def get_promotion(self, code: str) -> PromotionOut:
        stored: StoredPromotion | None = self._repository.get(normalize_code(code))
        if stored is None:
            raise NotFound(f"No promotion {normalize_code(code)}.")
        return PromotionOut.from_promotion(stored.promotion, stored.redeemed)


def checkout_out(record: CheckoutRecord) -> CheckoutOut:
    return CheckoutOut(
        id=record.id,
        status=record.status,  # type: ignore[arg-type]
        email=record.email,
        lines=[
            CheckoutLineOut(
                sku=ln.sku,
                name=ln.name,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                line_total=ln.line_total,
                backordered=ln.backordered,
            )
            for ln in record.lines
        ],
        currency=record.currency,
        subtotal=record.subtotal,
        discount=record.discount,
        shipping=record.shipping,
        tax=record.tax,
        total=record.total,
        prices_include_tax=record.prices_include_tax,
        tax_rate_bps=record.tax_rate_bps,
        shipping_method=record.shipping_method,
        shipping_address=AddressOut(**{"line2": None, **record.shipping_address}),
        promo_code=record.promo_code,
        created_at=record.created_at,
        expires_at=record.expires_at,
        order_id=record.order_id,
        payment=PaymentOut.model_validate(record.payment) if record.payment else None,
    )


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


def stock_released(record: CheckoutRecord, reason: str, at: datetime) -> DomainEvent:
    """`StockReleased` for a checkout's whole reservation (`reason` `expired` or `cancelled`)."""
    return _event(
        "StockReleased",
        {
            "checkout_id": record.id,
            "reason": reason,
            "items": [{"sku": sku, "quantity": qty} for sku, qty in record.reserved.items()],
        },
        at,
    )


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
