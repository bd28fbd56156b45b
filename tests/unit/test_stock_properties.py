"""Properties of the stock rules over random sequences of movements, settings, reservations and sales:
stock never becomes unreservable, FIFO layers hold exactly on hand, value is conserved, and StockLow
fires exactly once per fall through the threshold."""

from __future__ import annotations

from dataclasses import replace
from itertools import groupby, pairwise
from typing import Any

from cloudtill.errors import Conflict, ValidationFailed
from cloudtill.stock.api import MovementIn, StockSettingsIn
from cloudtill.stock.fifo import FifoStock
from cloudtill.stock.rules import StockState, low_stock_crossing
from cloudtill.stock.service import StockService
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import FixedClock, InMemoryStockRepository

SKU = "P-1"

operations = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.integers(1, 20), st.integers(0, 500)),
        st.tuples(st.just("adjust"), st.integers(-20, 20), st.none()),
        st.tuples(st.just("count"), st.integers(0, 30), st.none()),
        st.tuples(st.just("threshold"), st.integers(0, 15), st.none()),
        st.tuples(st.just("backorder_limit"), st.integers(0, 10), st.none()),
        st.tuples(st.just("reserve"), st.integers(1, 10), st.none()),
        st.tuples(st.just("release"), st.integers(1, 10), st.none()),
        st.tuples(st.just("sale"), st.integers(1, 10), st.none()),
    ),
    max_size=40,
)


def _apply(service: StockService, repository: InMemoryStockRepository, op: tuple[str, int, Any]) -> None:
    kind, number, cost = op
    state = repository.states[SKU]
    if kind in {"receive", "adjust", "count"}:
        body = {"type": kind, "quantity": number, "unit_cost": cost, "reason": "property"}
        service.record_movement(SKU, MovementIn.model_validate(body))
    elif kind == "threshold":
        service.update_settings(SKU, StockSettingsIn(low_stock_threshold=number))
    elif kind == "backorder_limit":
        service.update_settings(SKU, StockSettingsIn(backorder_limit=number))
    elif kind == "reserve" and number <= state.reservable:
        # The checkout's conditional reserve (available >= qty), outside the stock domain.
        repository.states[SKU] = replace(state, reserved=state.reserved + number)
    elif kind == "release" and number <= state.reserved:
        repository.states[SKU] = replace(state, reserved=state.reserved - number)
    elif kind == "sale":
        service.commit_sale(SKU, number)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_stock_invariants_and_once_per_crossing(ops: list[tuple[str, int, Any]]) -> None:
    repository = InMemoryStockRepository()
    repository.states[SKU] = StockState(SKU, 0, 0, 0, 0, True, FifoStock(), 0)
    service = StockService(repository, FixedClock())
    # The observed low/not-low sequence: one entry per write of the stock domain.
    seen_low = [True]
    for op in ops:
        saves = repository.saves
        try:
            _apply(service, repository, op)
        except (ValidationFailed, Conflict):
            assert repository.saves == saves  # a refused change writes nothing
        state = repository.states[SKU]
        if repository.saves > saves:
            seen_low.append(state.sellable <= state.low_stock_threshold)
        assert state.reservable >= 0
        assert state.fifo.quantity == state.on_hand

    lows = sum(e.detail_type == "StockLow" for e in repository.events)
    falls = sum(1 for was, now in pairwise(seen_low) if now and not was)
    assert lows == falls

    movements = repository.movements.get(SKU, [])
    received = sum(m.delta * (m.unit_cost or 0) for m in movements if m.delta > 0)
    sold_or_written_off = sum(m.cost_of_goods_sold for m in movements)
    assert received == sold_or_written_off + repository.states[SKU].value


@given(st.lists(st.integers(-5, 30), min_size=1, max_size=30), st.integers(0, 20))
def test_a_walk_of_levels_crosses_once_per_low_run(levels: list[int], threshold: int) -> None:
    crossings = sum(low_stock_crossing(a, b, threshold) for a, b in pairwise(levels))
    # Each maximal run of low levels that follows a level above the threshold is one crossing.
    runs = [low for low, _ in groupby(level <= threshold for level in levels)]
    assert crossings == sum(1 for i, low in enumerate(runs) if low and i > 0)
