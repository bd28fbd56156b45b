"""Checkout quotes: worked examples in both tax modes and the totals invariant for any input."""

from __future__ import annotations

import pytest
from cloudtill.checkout.pricing import PricedLine, Quote, quote_checkout, shipping_options
from cloudtill.errors import ValidationFailed
from cloudtill.promotions.rules import Promotion
from cloudtill.settings import ShippingMethod, ShopSettings
from hypothesis import given
from hypothesis import strategies as st

# Default settings: IE 23 %, standard 495 (free from 5000), express 1495.
LINES = [PricedLine("MUG", "Mug", 1000, 2), PricedLine("TEA", "Tea", 500, 1, backordered=True)]
TEN_PERCENT = Promotion(code="TEN", kind="percentage", value=1000)
THREE_EUROS_OFF = Promotion(code="THREE", kind="fixed", value=300, currency="EUR")


def settings(prices_include_tax: bool) -> ShopSettings:
    return ShopSettings(prices_include_tax=prices_include_tax)


def assert_invariant(quote: Quote) -> None:
    assert quote.subtotal - quote.discount + quote.shipping + quote.tax == quote.total


def test_tax_exclusive_quote_adds_tax_per_line_and_shipping() -> None:
    # Given prices without tax / When quoting for Ireland without a promotion
    quote = quote_checkout(LINES, settings(False), "IE")
    # Then tax is 23 % of each line and of shipping, each rounded once, and added to the total
    assert [(line.line_total, line.tax) for line in quote.lines] == [(2000, 460), (500, 115)]
    assert (quote.subtotal, quote.discount, quote.shipping, quote.tax) == (2500, 0, 495, 460 + 115 + 114)
    assert quote.total == 3684
    assert quote.shipping_method == "standard"
    assert [line.backordered for line in quote.lines] == [False, True]
    assert_invariant(quote)


def test_tax_exclusive_percentage_discount_is_allocated_before_tax() -> None:
    # Given 10 % off a 2500 subtotal / When quoting
    quote = quote_checkout(LINES, settings(False), "IE", promotion=TEN_PERCENT)
    # Then 250 off, split 200/50 over the lines, and tax is charged on what remains
    assert quote.discount == 250
    assert [(line.discount, line.tax) for line in quote.lines] == [(200, 414), (50, 104)]  # 103.5 -> 104
    assert quote.tax == 414 + 104 + 114
    assert quote.total == 2250 + 495 + 632
    assert_invariant(quote)


def test_tax_inclusive_quote_reports_figures_net_of_included_tax() -> None:
    # Given shelf prices that include 23 % tax / When quoting
    quote = quote_checkout(LINES, settings(True), "IE")
    # Then the shopper pays the shelf figures and the reported parts are net of the tax they contain
    assert quote.total == 2500 + 495
    assert [(line.line_total, line.tax) for line in quote.lines] == [(2000, 374), (500, 93)]
    assert (quote.subtotal, quote.discount, quote.shipping, quote.tax) == (1626 + 407, 0, 402, 374 + 93 + 93)
    assert [line.unit_price for line in quote.lines] == [1000, 500]  # shelf prices kept
    assert_invariant(quote)


def test_tax_inclusive_fixed_discount_is_reported_net() -> None:
    # Given 3.00 off shelf prices that include tax / When quoting
    quote = quote_checkout(LINES, settings(True), "IE", promotion=THREE_EUROS_OFF)
    # Then lines carry shelf shares 240/60, the discount is reported net of tax, and the total is shelf
    assert [line.discount for line in quote.lines] == [240, 60]
    assert [line.tax for line in quote.lines] == [329, 82]
    assert quote.discount == 2033 - (1431 + 358)
    assert quote.total == 2500 - 300 + 495
    assert_invariant(quote)


def test_fixed_discount_is_capped_at_the_subtotal() -> None:
    # Given a discount bigger than the order / When quoting
    big = Promotion(code="BIG", kind="fixed", value=10_000, currency="EUR")
    quote = quote_checkout([PricedLine("PEN", "Pen", 300, 1)], settings(False), "IE", promotion=big)
    # Then the goods are free but shipping is still paid
    assert quote.lines[0].discount == 300
    assert quote.discount == 300
    assert quote.total == 495 + 114
    assert_invariant(quote)


def test_shipping_is_free_from_the_threshold_after_discount() -> None:
    # Given a 5000 order / When quoting without and with a discount
    lines = [PricedLine("LAMP", "Lamp", 5000, 1)]
    free = quote_checkout(lines, settings(False), "IE")
    discounted = quote_checkout(lines, settings(False), "IE", promotion=TEN_PERCENT)
    # Then shipping is free at exactly the threshold, but not once the discount takes it below
    assert free.shipping == 0
    assert discounted.shipping == 495


def test_chosen_shipping_method_is_used() -> None:
    # Given a shopper choosing express on a free-standard-shipping order
    quote = quote_checkout([PricedLine("LAMP", "Lamp", 6000, 1)], settings(False), "ie", "express")
    # Then express is charged and the country code is accepted in any case
    assert (quote.shipping_method, quote.shipping) == ("express", 1495)


def test_default_shipping_is_the_cheapest_after_free_shipping() -> None:
    # Given a pricier method that becomes free above 1000 / When the shopper picks nothing
    shop = ShopSettings(
        prices_include_tax=False,
        shipping_methods=[
            ShippingMethod(id="post", name="Post", price=300, countries=["IE"]),
            ShippingMethod(id="courier", name="Courier", price=900, free_above=1000, countries=["IE"]),
        ],
    )
    small = quote_checkout([PricedLine("A", "A", 500, 1)], shop, "IE")
    large = quote_checkout([PricedLine("A", "A", 1500, 1)], shop, "IE")
    # Then the cheapest for this order is chosen
    assert (small.shipping_method, small.shipping) == ("post", 300)
    assert (large.shipping_method, large.shipping) == ("courier", 0)


@pytest.mark.parametrize(
    ("country", "method", "field"),
    [
        ("US", None, "shipping_address.country"),
        ("IE", "teleport", "shipping_method"),
    ],
)
def test_unsupported_country_or_method_names_the_field(country: str, method: str | None, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        quote_checkout(LINES, settings(True), country, method)
    assert caught.value.status == 422
    assert [e.field for e in caught.value.errors] == [field]


def test_method_not_serving_the_country_names_shipping_method() -> None:
    # Given express only ships to DE / When an Irish shopper picks it
    shop = ShopSettings(
        shipping_methods=[
            ShippingMethod(id="standard", name="Standard", price=495, countries=["IE", "DE"]),
            ShippingMethod(id="express", name="Express", price=1495, countries=["DE"]),
        ]
    )
    with pytest.raises(ValidationFailed) as caught:
        quote_checkout(LINES, shop, "IE", "express")
    # Then the method field is blamed
    assert caught.value.errors[0].field == "shipping_method"


def test_empty_checkout_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        quote_checkout([], settings(True), "IE")
    assert caught.value.errors[0].field == "lines"


def test_shipping_options_are_cheapest_first_with_free_shipping_applied() -> None:
    # Given Ireland / When listing without and with a large subtotal
    plain = shipping_options(settings(True), "IE")
    large = shipping_options(settings(True), "IE", subtotal_after_discount=5000)
    # Then both methods are offered and standard becomes free
    assert [(o.id, o.price, o.currency) for o in plain] == [
        ("standard", 495, "EUR"),
        ("express", 1495, "EUR"),
    ]
    assert [(o.id, o.price) for o in large] == [("standard", 0), ("express", 1495)]
    assert plain[0].free_above == 5000 and plain[0].delivery_days == "3-5"


def test_shipping_options_for_an_unsupported_country_name_the_query_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        shipping_options(settings(True), "US")
    assert caught.value.errors[0].field == "country"


# --- properties -------------------------------------------------------------------------------

lines_strategy = st.lists(
    st.builds(
        PricedLine,
        sku=st.sampled_from(["A", "B", "C"]),
        name=st.just("item"),
        unit_price=st.integers(min_value=0, max_value=100_000),
        quantity=st.integers(min_value=1, max_value=50),
        backordered=st.booleans(),
    ),
    min_size=1,
    max_size=8,
)
promotion_strategy = st.one_of(
    st.none(),
    st.builds(
        Promotion,
        code=st.just("PCT"),
        kind=st.just("percentage"),
        value=st.integers(min_value=1, max_value=10_000),
    ),
    st.builds(
        Promotion,
        code=st.just("FIX"),
        kind=st.just("fixed"),
        value=st.integers(min_value=1, max_value=10**7),
        currency=st.just("EUR"),
    ),
)


@st.composite
def shops(draw: st.DrawFn) -> ShopSettings:
    return ShopSettings(
        prices_include_tax=draw(st.booleans()),
        tax_rates_bps={"IE": draw(st.integers(min_value=0, max_value=10_000))},
        shipping_methods=[
            ShippingMethod(
                id="ship",
                name="Ship",
                price=draw(st.integers(min_value=0, max_value=10_000)),
                free_above=draw(st.none() | st.integers(min_value=0, max_value=500_000)),
                countries=["IE"],
            )
        ],
    )


@given(lines=lines_strategy, shop=shops(), promotion=promotion_strategy)
def test_totals_invariant_holds_for_any_checkout(
    lines: list[PricedLine], shop: ShopSettings, promotion: Promotion | None
) -> None:
    # Given any lines, tax mode, rate, shipping and promotion / When quoting
    quote = quote_checkout(lines, shop, "IE", promotion=promotion)
    # Then the documented equation holds exactly and nothing is negative
    assert_invariant(quote)
    assert min(quote.subtotal, quote.discount, quote.shipping, quote.tax, quote.total) >= 0
    assert quote.discount <= quote.subtotal
    # And the shopper pays the shelf figures (plus tax when prices exclude it)
    shelf_subtotal = sum(line.unit_price * line.quantity for line in lines)
    shelf_discount = sum(line.discount for line in quote.lines)
    assert shelf_discount <= shelf_subtotal
    method = shop.shipping_methods[0]
    after_discount = shelf_subtotal - shelf_discount
    free = method.free_above is not None and after_discount >= method.free_above
    shelf_shipping = 0 if free else method.price
    if shop.prices_include_tax:
        assert quote.total == after_discount + shelf_shipping
    else:
        assert quote.total == after_discount + shelf_shipping + quote.tax
        assert (quote.subtotal, quote.discount, quote.shipping) == (
            shelf_subtotal,
            shelf_discount,
            shelf_shipping,
        )
    # And the discount is what the promotion promises, capped at the subtotal
    if promotion is None:
        assert shelf_discount == 0
    elif promotion.kind == "fixed":
        assert shelf_discount == min(promotion.value, shelf_subtotal)
    else:
        assert abs(shelf_discount * 10_000 - shelf_subtotal * promotion.value) <= 5_000
