"""Promotions: request validation, applicability rules and discount amounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cloudtill.errors import ValidationFailed
from cloudtill.money import Money
from cloudtill.promotions.rules import (
    Promotion,
    PromotionIn,
    PromotionOut,
    check_applicable,
    discount_for,
    new_promotion,
)
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EUR_50 = Money(5000, "EUR")


def promo(**overrides: object) -> Promotion:
    fields: dict[str, object] = {"code": "SUMMER-10", "kind": "percentage", "value": 1000}
    fields.update(overrides)
    return Promotion.model_validate(fields)


def reason(promotion: Promotion, **overrides: object) -> str | None:
    """The field-error message check_applicable gives, or None when the promotion applies."""
    args: dict[str, object] = {
        "subtotal": EUR_50,
        "email": "ann@example.com",
        "now": NOW,
        "redemptions_so_far": 0,
        "redemptions_by_email": {},
    }
    args.update(overrides)
    try:
        check_applicable(promotion, **args)  # type: ignore[arg-type]
    except ValidationFailed as error:
        assert [e.field for e in error.errors] == ["promo_code"]
        return error.errors[0].message
    return None


def test_promotion_in_normalizes_the_code_and_accepts_a_full_body() -> None:
    # Given an admin body with a lower-case code / When validated
    body = PromotionIn.model_validate(
        {
            "code": "summer_25",
            "kind": "fixed",
            "value": 500,
            "currency": "EUR",
            "min_subtotal": 2000,
            "starts_at": "2025-06-01T00:00:00+00:00",
            "ends_at": "2025-07-01T00:00:00+00:00",
            "max_redemptions": 100,
            "max_per_email": 1,
        }
    )
    # Then the code is upper case and the promotion is created for the EUR shop
    assert body.code == "SUMMER_25"
    promotion = new_promotion(body, "EUR")
    assert promotion.value == 500
    out = PromotionOut.from_promotion(promotion, redeemed=3)
    assert out.redeemed == 3 and out.code == "SUMMER_25"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "AB", "kind": "percentage", "value": 10},  # too short
        {"code": "A" * 33, "kind": "percentage", "value": 10},  # too long
        {"code": "NO SPACE", "kind": "percentage", "value": 10},
        {"code": "PCT", "kind": "percentage", "value": 10_001},  # over 100 %
        {"code": "PCT", "kind": "percentage", "value": 0},
        {"code": "PCT", "kind": "percentage", "value": 10, "currency": "EUR"},
        {"code": "FIX", "kind": "fixed", "value": 500},  # fixed needs a currency
        {"code": "FIX", "kind": "bogus", "value": 500},
        {"code": "WIN", "kind": "percentage", "value": 10, "starts_at": "2025-06-01T00:00:00"},  # naive
        {
            "code": "WIN",
            "kind": "percentage",
            "value": 10,
            "starts_at": "2025-06-02T00:00:00Z",
            "ends_at": "2025-06-01T00:00:00Z",
        },
        {"code": "PCT", "kind": "percentage", "value": 10, "surprise": True},
    ],
)
def test_invalid_promotion_bodies_are_rejected(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PromotionIn.model_validate(body)


def test_fixed_promotion_in_another_currency_is_rejected_for_the_shop() -> None:
    body = PromotionIn(code="FIVE", kind="fixed", value=500, currency="USD")
    with pytest.raises(ValidationFailed) as caught:
        new_promotion(body, "EUR")
    assert caught.value.errors[0].field == "currency"


def test_an_active_promotion_in_its_window_applies() -> None:
    window = promo(starts_at=NOW, ends_at=NOW + timedelta(days=1), max_redemptions=5, max_per_email=1)
    assert reason(window, redemptions_so_far=4) is None


@pytest.mark.parametrize(
    ("promotion", "overrides", "expected"),
    [
        (promo(active=False), {}, "not active"),
        (promo(starts_at=NOW + timedelta(seconds=1)), {}, "not valid yet"),
        (promo(ends_at=NOW), {}, "expired"),  # ends_at is exclusive
        (promo(max_redemptions=3), {"redemptions_so_far": 3}, "used up"),
        (promo(max_per_email=1), {"email": None}, "needs an email"),
        (promo(min_subtotal=5001), {}, "at least 5001"),
        (promo(kind="fixed", value=100, currency="GBP"), {}, "not valid for EUR"),
    ],
)
def test_inapplicable_promotions_name_promo_code(
    promotion: Promotion, overrides: dict[str, object], expected: str
) -> None:
    message = reason(promotion, **overrides)
    assert message is not None and expected in message


def test_per_email_limit_compares_emails_case_insensitively() -> None:
    # Given a once-per-email code already used by "Ann@Example.COM"
    once = promo(max_per_email=1)
    used = {" Ann@Example.COM ": 1, "bob@example.com": 0}
    # When Ann uses another spelling / Then she is refused; Bob is not
    assert reason(once, email="ann@example.com", redemptions_by_email=used) is not None
    assert reason(once, email="Bob@Example.com", redemptions_by_email=used) is None


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        reason(promo(), now=datetime(2025, 6, 1))


def test_discounts() -> None:
    # percentage rounds once with the Money rule; fixed is capped at the subtotal
    assert discount_for(promo(value=1250), Money(999, "EUR")) == Money(125, "EUR")  # 124.875
    assert discount_for(promo(kind="fixed", value=700, currency="EUR"), Money(500, "EUR")) == Money(
        500, "EUR"
    )
    assert discount_for(promo(kind="fixed", value=700, currency="EUR"), Money(900, "EUR")) == Money(
        700, "EUR"
    )
    assert discount_for(promo(), Money(0, "EUR")) == Money(0, "EUR")


@given(
    subtotal=st.integers(min_value=0, max_value=10**9),
    kind=st.sampled_from(["percentage", "fixed"]),
    value=st.integers(min_value=1, max_value=10_000),
    fixed_value=st.integers(min_value=1, max_value=10**10),
)
def test_discount_never_exceeds_the_subtotal(subtotal: int, kind: str, value: int, fixed_value: int) -> None:
    # Given any promotion and subtotal
    promotion = (
        promo(value=value) if kind == "percentage" else promo(kind="fixed", value=fixed_value, currency="EUR")
    )
    # When the discount is computed / Then 0 <= discount <= subtotal
    discount = discount_for(promotion, Money(subtotal, "EUR"))
    assert 0 <= discount.amount <= subtotal
