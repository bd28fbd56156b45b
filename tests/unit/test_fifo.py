"""FIFO cost layers: oldest first, backorders settled by the next receipt, value conserved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cloudtill.stock.fifo import CostLayer, FifoStock, consume, receive, restock, stock_value
from cloudtill.stock.items import FIFO
from hypothesis import given
from hypothesis import strategies as st


def test_consume_takes_the_oldest_layers_first() -> None:
    # Given 5 units at 100 then 5 at 200
    stock, _ = receive(FifoStock(), 5, 100)
    stock, _ = receive(stock, 5, 200)
    # When 7 are shipped
    stock, cogs = consume(stock, 7)
    # Then all of the first layer and 2 of the second are sold; 3 at 200 remain
    assert cogs == 5 * 100 + 2 * 200
    assert [(layer.quantity, layer.unit_cost) for layer in stock.layers] == [(3, 200)]
    assert stock_value(stock) == 600
    assert stock.quantity == 3


def test_consuming_beyond_the_layers_records_an_unvalued_backorder() -> None:
    # Given 2 units at 100
    stock, _ = receive(FifoStock(), 2, 100)
    # When 5 are shipped
    stock, cogs = consume(stock, 5)
    # Then the 3 missing units cost nothing yet and are owed
    assert cogs == 200
    assert (stock.layers, stock.unvalued_backorder, stock.quantity) == ((), 3, -3)


def test_the_next_receipt_settles_the_backorder_first() -> None:
    # Given 3 units owed
    stock, _ = consume(FifoStock(), 3)
    # When 10 arrive at 150
    stock, settled_cogs = receive(stock, 10, 150, datetime(2025, 1, 1, tzinfo=UTC))
    # Then the 3 shipped units are costed at 150 and only 7 go into stock
    assert settled_cogs == 450
    assert stock.unvalued_backorder == 0
    assert [(layer.quantity, layer.unit_cost) for layer in stock.layers] == [(7, 150)]


def test_a_small_receipt_only_partly_settles_a_backorder() -> None:
    stock, _ = consume(FifoStock(), 5)
    stock, settled_cogs = receive(stock, 2, 100)
    assert (settled_cogs, stock.unvalued_backorder, stock.layers) == (200, 3, ())


def test_restock_adds_returned_units_as_the_newest_layer() -> None:
    # Given 4 units at 100 / When 1 unit is returned at its sold cost 80
    stock, _ = receive(FifoStock(), 4, 100)
    stock, settled = restock(stock, 1, 80)
    # Then it is valued at 80 and sold after the older layer
    assert settled == 0
    assert stock_value(stock) == 480
    _, cogs = consume(stock, 5)
    assert cogs == 480


def test_state_round_trips_through_a_dict() -> None:
    stock, _ = receive(FifoStock(), 4, 100, datetime(2025, 1, 1, tzinfo=UTC))
    stock, _ = receive(stock, 2, 90)
    assert FIFO.decode(FIFO.encode(stock)) == stock


def test_invalid_states_and_quantities_are_rejected() -> None:
    with pytest.raises(ValueError):
        FifoStock(layers=(CostLayer(1, 1, 100),), unvalued_backorder=1, next_seq=2)
    with pytest.raises(ValueError):
        FifoStock(layers=(CostLayer(2, 1, 100), CostLayer(1, 1, 100)), next_seq=3)
    with pytest.raises(ValueError):
        consume(FifoStock(), 0)
    with pytest.raises(ValueError):
        receive(FifoStock(), 1, -1)


# --- properties -------------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.integers(1, 50), st.integers(0, 10_000)),
        st.tuples(st.just("restock"), st.integers(1, 5), st.integers(0, 10_000)),
        st.tuples(st.just("consume"), st.integers(1, 60), st.just(0)),
    ),
    max_size=30,
)


def naive_fifo_cogs(units_in: list[int], start: int, count: int) -> int:
    """Oracle: cost of units number start..start+count in receipt order, one list entry per unit."""
    return sum(units_in[start : start + count])


@given(operations)
def test_value_is_conserved_and_matches_a_unit_by_unit_oracle(ops: list[tuple[str, int, int]]) -> None:
    # Given any sequence of receipts, returns and shipments
    stock = FifoStock()
    received_cost = cogs = 0
    units_in: list[int] = []  # unit costs in arrival order
    units_out = 0
    for kind, quantity, unit_cost in ops:
        # When each is applied
        if kind == "consume":
            stock, cost = consume(stock, quantity)
            units_out += quantity
        else:
            stock, cost = (receive if kind == "receive" else restock)(stock, quantity, unit_cost)
            received_cost += quantity * unit_cost
            units_in += [unit_cost] * quantity
        cogs += cost
        # Then the value equals the sum of the remaining layers, nothing is lost or created,
        assert stock_value(stock) == sum(layer.quantity * layer.unit_cost for layer in stock.layers)
        assert cogs + stock_value(stock) == received_cost
        # the quantity tracks units in minus units out,
        assert stock.quantity == len(units_in) - units_out
        # and what remains is exactly the newest units (so the oldest were consumed first)
        remaining = units_in[units_out:] if units_out <= len(units_in) else []
        assert [c for layer in stock.layers for c in [layer.unit_cost] * layer.quantity] == remaining
    # And shipments are costed at the oldest units, in order, as soon as their cost is known
    assert cogs == naive_fifo_cogs(units_in, 0, min(units_out, len(units_in)))


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 10_000)), min_size=1, max_size=10), st.data())
def test_without_backorders_cogs_plus_remaining_value_equals_received_cost(
    receipts: list[tuple[int, int]], data: st.DataObject
) -> None:
    # Given receipts, then shipments that never exceed the stock
    stock = FifoStock()
    for quantity, unit_cost in receipts:
        stock, settled = receive(stock, quantity, unit_cost)
        assert settled == 0
    total_cost = sum(q * c for q, c in receipts)
    cogs = 0
    while stock.quantity > 0 and data.draw(st.booleans()):
        # When some of it is consumed
        stock, cost = consume(stock, data.draw(st.integers(1, stock.quantity)))
        cogs += cost
    # Then COGS + remaining value is the total received cost, and nothing is backordered
    assert stock.unvalued_backorder == 0
    assert cogs + stock_value(stock) == total_cost
