"""Money: the one rounding rule, exact allocation, no silent currency mixing."""

from __future__ import annotations

import pytest
from cloudtill.errors import CurrencyMismatch
from cloudtill.money import Money, round_half_up, total
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 10, 1),  # exactly half rounds up
        (4, 10, 0),
        (15, 10, 2),
        (-5, 10, -1),  # halves go away from zero
        (-4, 10, 0),
        (-15, 10, -2),
        (0, 7, 0),
        (10, 10, 1),
        (2, 3, 1),
        (1, 3, 0),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(numerator: int, denominator: int, expected: int) -> None:
    # Given a fraction / When rounded / Then halves go away from zero
    assert round_half_up(numerator, denominator) == expected


def test_round_half_up_rejects_a_non_positive_denominator() -> None:
    with pytest.raises(ValueError):
        round_half_up(1, 0)


def test_basis_points_use_the_rounding_rule() -> None:
    # Given 999 minor units / When taking 50 % / Then 499.5 rounds to 500
    assert Money(999, "EUR").basis_points(5000) == Money(500, "EUR")
    assert Money(1234, "EUR").basis_points(2300) == Money(284, "EUR")  # 283.82


def test_adding_different_currencies_raises() -> None:
    # Given euros and dollars / When combined / Then it is a programming error
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") - Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "EUR") < Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        total([Money(1, "EUR"), Money(1, "USD")], "EUR")


def test_money_rejects_floats_and_bad_currency_codes() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(1, "eur")


def test_allocate_splits_by_largest_remainder() -> None:
    # Given 100 split three ways / When allocated / Then the leftover unit goes to the first largest remainder
    assert [m.amount for m in Money(100, "EUR").allocate([1, 1, 1])] == [34, 33, 33]
    assert [m.amount for m in Money(5, "EUR").allocate([3, 7])] == [2, 3]  # 1.5, 3.5: tie -> first
    assert [m.amount for m in Money(-100, "EUR").allocate([1, 1, 1])] == [-34, -33, -33]
    assert [m.amount for m in Money(7, "EUR").allocate([0, 0])] == [7, 0]


@given(
    amount=st.integers(min_value=-(10**9), max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=20),
)
def test_allocate_parts_always_sum_to_the_amount(amount: int, weights: list[int]) -> None:
    # Given any amount and weights / When allocated
    parts = Money(amount, "EUR").allocate(weights)
    # Then the parts add up exactly, one per weight, each within one unit of its exact share
    assert sum(p.amount for p in parts) == amount
    assert len(parts) == len(weights)
    if sum(weights):
        for part, weight in zip(parts, weights, strict=True):
            assert abs(part.amount * sum(weights) - amount * weight) < sum(weights)
            if weight == 0:
                assert part.amount == 0
