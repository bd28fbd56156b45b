"""Preparing a new checkout: validate the request, price it from the catalog (never from the client),
judge the promotion, plan the reservation and quote the totals (`cloudtill.checkout.pricing`), and
explain a refused transaction. Reads only: the write is `CheckoutRepository.create`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cloudtill.checkout.api import MAX_DISTINCT_SKUS, CheckoutIn
from cloudtill.checkout.ports import CheckoutRepository, ReservationRejected
from cloudtill.checkout.pricing import (
    COUNTRY_FIELD,
    SHIPPING_METHOD_FIELD,
    PricedLine,
    quote_checkout,
    shipping_options,
)
from cloudtill.checkout.records import (
    AWAITING_PAYMENT,
    CheckoutLineRecord,
    CheckoutRecord,
    PromotionRedemption,
    SkuSnapshot,
)
from cloudtill.checkout.tokens import email_hash
from cloudtill.clock import Clock, iso
from cloudtill.errors import Conflict, FieldError, OutOfStock, ValidationFailed
from cloudtill.money import Money
from cloudtill.promotions.rules import (
    PROMO_FIELD,
    Promotion,
    check_applicable,
    normalize_code,
    normalize_email,
)
from cloudtill.settings import ShopSettings
from cloudtill.stock.reservations import ReservationLine, StockLevel, plan_reservation


class CheckoutPreparer:
    def __init__(
        self, repository: CheckoutRepository, clock: Clock, shop: ShopSettings, ttl: timedelta
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._shop = shop
        self._ttl = ttl

    def prepare(
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
            PricedLine(s.sku, snapshots[s.sku].title, snapshots[s.sku].price, s.requested, s.backordered)
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
            channel=body.channel,
            lines=tuple(CheckoutLineRecord(**line.model_dump()) for line in quote.lines),
            **quote.model_dump(exclude={"lines"}),
            shipping_address={**body.shipping_address.model_dump(), "country": country},
            redemption=(
                PromotionRedemption(
                    promotion.code, hashed_email, promotion.max_redemptions, promotion.max_per_email
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

    def explain(
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
