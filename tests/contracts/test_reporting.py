"""Contract of `cloudtill.reporting.ports.AggregateStore`: each event counted once, the newest stock
level kept, a day's stock snapshot taken once, order lines by confirmation time."""

from __future__ import annotations

from typing import Any

import pytest
from cloudtill.reporting.aggregates import AggregateUpdate, StockLevel, StockThreshold
from cloudtill.reporting.dynamo import DynamoAggregateStore
from cloudtill.reporting.kpis import StockRow
from cloudtill.reporting.ports import AggregateStore

from tests.contracts.conftest import Backend
from tests.reporting_fakes import InMemoryAggregateStore

DAY = "2026-07-15"


@pytest.fixture
def store(backend: Backend) -> AggregateStore:
    if backend.fake:
        return InMemoryAggregateStore()
    return DynamoAggregateStore(backend.table, backend.client)


def sale(event_id: str, units: int = 2, day: str = DAY, **more: Any) -> AggregateUpdate:
    return AggregateUpdate(
        event_id=event_id,
        day=day,
        totals={"orders": 1, "gross_sales": 1000 * units},
        skus={"TEE": {"units": units, "revenue": 1000 * units, "orders": 1}},
        sku_names={"TEE": "Tee"},
        **more,
    )


def level(movement_id: str, on_hand: int, sku: str = "TEE") -> StockLevel:
    return StockLevel(sku, movement_id, on_hand, 0, on_hand, 100 * on_hand, "2026-07-15T10:00:00Z")


def test_an_event_is_counted_once(store: AggregateStore) -> None:
    assert store.apply(sale("e1")) is True
    assert store.apply(sale("e1")) is False
    assert store.apply(sale("e2", units=3)) is True
    [day] = store.read_days([DAY, "2026-07-16"])
    assert (day.day, day.total("orders"), day.total("gross_sales")) == (DAY, 2, 5000)
    assert day.skus["TEE"]["units"] == 5 and day.skus["TEE"]["orders"] == 2
    assert day.sku_names == {"TEE": "Tee"}


def test_a_batch_with_an_event_counted_before_leaves_its_changes_to_the_caller(store: AggregateStore) -> None:
    store.apply(sale("e1"))
    results = store.apply_batch([sale("e1"), sale("e2")])
    assert results[0] in (None, False)  # not counted again, here or when applied alone
    if results[1] is None:
        assert store.apply(sale("e2")) is True
    [day] = store.read_days([DAY])
    assert day.total("orders") == 2


def test_a_batch_counts_each_new_event_and_records_levels(store: AggregateStore) -> None:
    assert store.apply_batch([sale("e1"), sale("e2"), level("000000000003", 7)]) == [True, True, True]
    [day] = store.read_days([DAY])
    assert day.total("orders") == 2
    assert [row.on_hand for row in store.stock_snapshot(DAY)] == [7]


def test_only_a_newer_stock_level_replaces_the_stored_one(store: AggregateStore) -> None:
    assert store.apply_stock_level(level("000000000005", 5)) is True
    assert store.apply_stock_level(level("000000000004", 4)) is False  # older, arrived late
    assert store.apply_stock_level(level("000000000005", 9)) is False  # the same movement again
    assert store.apply_stock_level(level("000000000006", 6)) is True
    assert store.stock_snapshot(DAY) == [StockRow("TEE", 6, 0, 6, 600)]


def test_a_level_keeps_the_name_its_events_gave_the_sku(store: AggregateStore) -> None:
    named = StockLevel("TEE", "000000000001", 2, 0, 2, 200, "2026-07-15T10:00:00Z", name="Tee - Black")
    assert store.apply_batch([named]) == [True]
    assert store.apply_stock_level(level("000000000002", 5)) is True  # names nothing: the name stays
    assert store.stock_snapshot(DAY) == [StockRow("TEE", 5, 0, 5, 500, name="Tee - Black")]


def test_a_threshold_is_recorded_once_and_joins_the_level(store: AggregateStore) -> None:
    store.apply_stock_level(level("000000000002", 2))
    assert store.apply_stock_threshold(StockThreshold("TEE", 3, 2)) is True
    assert store.apply_stock_threshold(StockThreshold("TEE", 3, 2)) is False
    [row] = store.stock_snapshot(DAY)
    assert (row.sku, row.on_hand, row.low_stock_threshold) == ("TEE", 2, 3)


def test_a_days_stock_snapshot_is_taken_once(store: AggregateStore) -> None:
    store.apply_stock_level(level("000000000001", 1, "CAP"))
    store.apply_stock_level(level("000000000002", 2, "TEE"))
    first = store.stock_snapshot(DAY)
    assert [row.sku for row in first] == ["CAP", "TEE"]
    store.apply_stock_level(level("000000000003", 30, "TEE"))
    assert store.stock_snapshot(DAY) == first  # a re-run prints the same stock
    assert [row.on_hand for row in store.stock_snapshot("2026-07-16")] == [1, 30]


def test_a_threshold_without_a_level_is_not_a_stock_row(store: AggregateStore) -> None:
    store.apply_stock_threshold(StockThreshold("CAP", 3, 0))
    assert store.stock_snapshot(DAY) == []


def test_order_lines_come_one_per_order_by_confirmation_time(store: AggregateStore) -> None:
    later = {"order_id": "o2", "confirmed_at": "2026-07-15T12:00:00Z", "lines": [{"sku": "TEE"}]}
    earlier = {"order_id": "o1", "confirmed_at": "2026-07-15T09:00:00Z", "lines": [{"sku": "CAP"}]}
    store.apply(sale("e2", order_lines=later))
    store.apply(sale("e1", order_lines=earlier))
    store.apply(sale("e2", order_lines=later))  # redelivered
    found = store.order_lines(DAY)
    # What was recorded, in confirmation order (an adapter may add its own bookkeeping fields).
    assert [{k: line[k] for k in earlier} for line in found] == [earlier, later]
    assert store.order_lines("2026-07-16") == []
