"""Quote a checkout: subtotal, discount, shipping, tax and total from priced lines.

All amounts are integer minor units in the shop's currency; every rounding uses the one rule in
`cloudtill.money` (half away from zero), applied once per taxable amount.

Steps
-----
1. `line_total = unit_price * quantity`; `subtotal = sum(line_total)` (shelf prices).
2. The promotion's discount (capped at the subtotal) is split over the lines with
   `Money.allocate` weighted by line totals, so each line has a discount share and the shares sum
   to the discount exactly.
3. Shipping: the chosen method's price, or 0 when the shelf `subtotal - discount >= free_above`.
   Without a chosen method, the cheapest method for the country (after free shipping; ties go to
   the first configured).
4. Tax is computed per taxable amount `A`: each line's `line_total - discount share`, and shipping.

The reported figures always satisfy ``subtotal - discount + shipping + tax == total``
-------------------------------------------------------------------------------------
* Prices exclude tax (`prices_include_tax = false`): subtotal, discount and shipping are the
  shelf figures; ``tax = sum(round_half_up(A * rate, 10 000))``; total adds the tax.
* Prices include tax (`prices_include_tax = true`): the shopper pays the shelf figures, so
  ``total = shelf subtotal - shelf discount + shelf shipping``. Each `A` contains
  ``tax(A) = A - net(A)`` where ``net(A) = round_half_up(A * 10 000, 10 000 + rate)``. The quote
  reports subtotal, discount and shipping **net of the tax they contain** and `tax` is the
  included tax:

  - ``subtotal = sum(net(line_total))``
  - ``shipping = net(shipping)``
  - ``discount = subtotal - sum(net(line_total - share))`` — the net value the discount took
    off, defined as a difference so rounding can never break the equation. `net` is monotone,
    so ``0 <= discount <= subtotal``.
  - ``tax = sum(tax(line_total - share)) + tax(shipping)``

  Lines keep their shelf `unit_price` and `line_total` (what the shopper saw); each line also
  reports its `discount` share and `tax` (both shelf/included amounts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from cloudtill.errors import FieldError, ValidationFailed
from cloudtill.money import Money, total
from cloudtill.promotions.rules import Promotion, discount_for
from cloudtill.settings import ShippingMethod, ShopSettings

COUNTRY_FIELD = "shipping_address.country"
SHIPPING_METHOD_FIELD = "shipping_method"
_BPS = 10_000


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A checkout line with the catalog price it is sold at (minor units, shelf price)."""

    sku: str
    name: str
    unit_price: int
    quantity: int
    backordered: bool = False

    def __post_init__(self) -> None:
        if self.unit_price < 0 or self.quantity < 1:
            raise ValueError(f"line {self.sku}: unit_price must be >= 0 and quantity >= 1")


class QuoteLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    quantity: int
    unit_price: int = Field(description="shelf price, minor units")
    line_total: int = Field(description="unit_price * quantity, before discount")
    discount: int = Field(description="this line's share of the discount")
    tax: int = Field(description="tax on line_total - discount (included or added, see prices_include_tax)")
    backordered: bool


class Quote(BaseModel):
    """Priced checkout. Always ``subtotal - discount + shipping + tax == total`` (see module doc)."""

    model_config = ConfigDict(frozen=True)

    currency: str
    prices_include_tax: bool
    lines: tuple[QuoteLine, ...]
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    tax_rate_bps: int
    shipping_method: str


class ShippingOption(BaseModel):
    """One answer of `GET /shipping-methods?country=XX`; `price` is what this order would pay."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    price: int
    currency: str
    free_above: int | None
    delivery_days: str | None


def _methods_for(settings: ShopSettings, country: str, field: str) -> list[ShippingMethod]:
    methods = [m for m in settings.shipping_methods if country in m.countries]
    if not methods or country not in settings.tax_rates_bps:
        ships_to = settings.countries
        message = f"we do not ship to {country!r}; we ship to {', '.join(ships_to)}"
        raise ValidationFailed(f"{field}: {message}", [FieldError(field, message)], ships_to=ships_to)
    return methods


def _shipping_price(method: ShippingMethod, subtotal_after_discount: int | None) -> int:
    free = (
        method.free_above is not None
        and subtotal_after_discount is not None
        and subtotal_after_discount >= method.free_above
    )
    return 0 if free else method.price


def shipping_options(
    settings: ShopSettings,
    country: str,
    subtotal_after_discount: int | None = None,
    field: str = "country",
) -> list[ShippingOption]:
    """Methods shipping to `country`, cheapest first; prices reflect free shipping when a subtotal
    is given. An unsupported country raises ValidationFailed naming `field`."""
    country = country.strip().upper()
    methods = _methods_for(settings, country, field)
    options = [
        ShippingOption(
            id=m.id,
            name=m.name,
            price=_shipping_price(m, subtotal_after_discount),
            currency=settings.currency,
            free_above=m.free_above,
            delivery_days=m.delivery_days,
        )
        for m in methods
    ]
    return sorted(options, key=lambda o: o.price)  # stable: ties keep configured order


def _choose_method(
    methods: list[ShippingMethod], method_id: str | None, country: str, subtotal_after_discount: int
) -> ShippingMethod:
    if method_id is None:
        return min(methods, key=lambda m: _shipping_price(m, subtotal_after_discount))
    for method in methods:
        if method.id == method_id:
            return method
    raise ValidationFailed.for_field(SHIPPING_METHOD_FIELD, f"{method_id!r} is not available for {country}")


def _net_of_included_tax(amount: Money, rate_bps: int) -> Money:
    return amount.fraction(_BPS, _BPS + rate_bps)


def _tax_on(amount: Money, rate_bps: int, prices_include_tax: bool) -> Money:
    if prices_include_tax:
        return amount - _net_of_included_tax(amount, rate_bps)
    return amount.basis_points(rate_bps)


def quote_checkout(
    lines: Sequence[PricedLine],
    settings: ShopSettings,
    country: str,
    shipping_method: str | None = None,
    promotion: Promotion | None = None,
) -> Quote:
    """Price a checkout. The promotion must already have passed `check_applicable`."""
    currency = settings.currency
    country = country.strip().upper()
    methods = _methods_for(settings, country, COUNTRY_FIELD)
    if not lines:
        raise ValidationFailed.for_field("lines", "at least one line is required")
    rate = settings.tax_rates_bps[country]
    inclusive = settings.prices_include_tax

    line_totals = [Money(line.unit_price * line.quantity, currency) for line in lines]
    subtotal = total(line_totals, currency)
    discount = discount_for(promotion, subtotal) if promotion else Money.zero(currency)
    shares = discount.allocate([t.amount for t in line_totals])
    after_discount = subtotal - discount

    method = _choose_method(methods, shipping_method, country, after_discount.amount)
    shipping = Money(_shipping_price(method, after_discount.amount), currency)

    line_taxes = [_tax_on(t - s, rate, inclusive) for t, s in zip(line_totals, shares, strict=True)]
    shipping_tax = _tax_on(shipping, rate, inclusive)
    tax = total(line_taxes, currency) + shipping_tax

    if inclusive:
        # Report net of the included tax so the equation holds exactly (module docstring).
        reported_subtotal = total([_net_of_included_tax(t, rate) for t in line_totals], currency)
        net_after_discount = total(
            [_net_of_included_tax(t - s, rate) for t, s in zip(line_totals, shares, strict=True)], currency
        )
        reported_discount = reported_subtotal - net_after_discount
        reported_shipping = shipping - shipping_tax
        grand_total = after_discount + shipping
    else:
        reported_subtotal, reported_discount, reported_shipping = subtotal, discount, shipping
        grand_total = after_discount + shipping + tax

    return Quote(
        currency=currency,
        prices_include_tax=inclusive,
        lines=tuple(
            QuoteLine(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line_total.amount,
                discount=share.amount,
                tax=line_tax.amount,
                backordered=line.backordered,
            )
            for line, line_total, share, line_tax in zip(lines, line_totals, shares, line_taxes, strict=True)
        ),
        subtotal=reported_subtotal.amount,
        discount=reported_discount.amount,
        shipping=reported_shipping.amount,
        tax=tax.amount,
        total=grand_total.amount,
        tax_rate_bps=rate,
        shipping_method=method.id,
    )
