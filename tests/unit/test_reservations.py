"""Reservation planning: summed SKUs, backorders within the limit, shortages as OutOfStock."""

from __future__ import annotations

import pytest
from cloudtill.errors import OutOfStock
from cloudtill.stock.reservations import ReservationLine, StockLevel, plan_reservation
from hypothesis import given
from hypothesis import strategies as st


def test_lines_within_stock_are_reserved_and_not_backordered() -> None:
    # Given 10 mugs on hand, 3 reserved / When 2 + 5 mugs and 1 tea are requested
    stock = {"MUG": StockLevel(on_hand=10, reserved=3), "TEA": StockLevel(on_hand=1, reserved=0)}
    lines = [ReservationLine("MUG", 2), ReservationLine("TEA", 1), ReservationLine("MUG", 5)]
    plan = plan_reservation(lines, stock)
    # Then the same SKU is summed and nothing is backordered
    assert plan.quantities() == {"MUG": 7, "TEA": 1}
    assert plan.line_backordered == (False, False, False)


def test_beyond_stock_but_within_the_backorder_limit_is_backordered() -> None:
    # Given 2 in stock and 5 may be backordered / When 2 + 3 are requested on two lines
    stock = {"MUG": StockLevel(on_hand=4, reserved=2, backorder_limit=5), "TEA": StockLevel(1, 0)}
    plan = plan_reservation(
        [ReservationLine("MUG", 2), ReservationLine("TEA", 1), ReservationLine("MUG", 3)], stock
    )
    # Then every line of that SKU is backordered and the full quantity is reserved
    assert plan.line_backordered == (True, False, True)
    assert plan.quantities()["MUG"] == 5


def test_oversold_stock_still_allows_backorders_up_to_the_limit() -> None:
    # Given more reserved than on hand (open backorders) / When 1 more is requested within the limit
    plan = plan_reservation([ReservationLine("MUG", 1)], {"MUG": StockLevel(2, 4, backorder_limit=3)})
    # Then it is backordered
    assert plan.line_backordered == (True,)


def test_shortages_raise_out_of_stock_naming_each_line_of_the_sku() -> None:
    # Given 3 mugs reservable (1 in stock + 2 backorderable) and an unknown SKU
    stock = {"MUG": StockLevel(on_hand=2, reserved=1, backorder_limit=2), "TEA": StockLevel(5, 0)}
    lines = [
        ReservationLine("MUG", 2),
        ReservationLine("TEA", 1),
        ReservationLine("MUG", 2),
        ReservationLine("GHOST", 1),
    ]
    # When 4 mugs and a ghost are requested
    with pytest.raises(OutOfStock) as caught:
        plan_reservation(lines, stock)
    # Then a 409 names lines 0, 2 and 3 and lists what is available
    error = caught.value
    assert error.status == 409
    assert [e.field for e in error.errors] == ["lines[0].sku", "lines[2].sku", "lines[3].sku"]
    assert error.extra == {
        "unavailable": [
            {"sku": "MUG", "requested": 4, "available": 3},
            {"sku": "GHOST", "requested": 1, "available": 0},
        ]
    }


def test_available_is_never_reported_negative() -> None:
    with pytest.raises(OutOfStock) as caught:
        plan_reservation([ReservationLine("MUG", 1)], {"MUG": StockLevel(0, 5)})
    assert caught.value.extra["unavailable"][0]["available"] == 0


def test_non_positive_quantities_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        ReservationLine("MUG", 0)


@given(
    on_hand=st.integers(0, 50),
    reserved=st.integers(0, 60),
    backorder_limit=st.integers(0, 20),
    quantities=st.lists(st.integers(1, 30), min_size=1, max_size=4),
)
def test_plan_matches_the_dynamodb_condition(
    on_hand: int, reserved: int, backorder_limit: int, quantities: list[int]
) -> None:
    # Given any stock level and lines of one SKU
    level = StockLevel(on_hand, reserved, backorder_limit)
    lines = [ReservationLine("SKU", q) for q in quantities]
    requested = sum(quantities)
    # The DynamoDB condition `available >= :qty` with available = on_hand + backorder_limit - reserved
    condition_passes = on_hand + backorder_limit - reserved >= requested
    # When planned
    try:
        plan = plan_reservation(lines, {"SKU": level})
    except OutOfStock:
        # Then a refusal happens exactly when the condition would fail
        assert not condition_passes
        return
    assert condition_passes
    # And lines are backordered exactly when stock on the shelf does not cover them
    assert set(plan.line_backordered) == {requested > max(on_hand - reserved, 0)}
