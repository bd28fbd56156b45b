"""The nightly report names every SKU: one that was stocked but not sold in the window takes its name
from the stock events (the reporting function never reads catalog or stock items)."""

from __future__ import annotations

from typing import Any

from cloudtill.reporting.aggregates import days_back
from cloudtill.reporting.kpis import DayAggregates, StockRow, build_report
from cloudtill.reporting.service import count_event
from cloudtill.stock.api import MovementIn
from cloudtill.stock.records import SkuRecord
from cloudtill.stock.service import StockService
from cloudtill.stock.transactions import stock_state

from tests.fakes import FixedClock, InMemoryStockRepository
from tests.reporting_fakes import InMemoryAggregateStore
from tests.reporting_scenario import REPORT_DAY, TIMEZONE, envelope
from tests.unit.test_event_schemas import detail_validator

DAY = "2026-11-23"  # FixedClock's day


def _stock_service(*records: SkuRecord) -> tuple[StockService, InMemoryStockRepository]:
    repository = InMemoryStockRepository()
    for record in records:  # as the catalog creates the SKU item: names, no stock yet
        repository.states[record.sku] = stock_state(record)
    return StockService(repository, FixedClock()), repository


def _receive(service: StockService, sku: str, quantity: int) -> None:
    body = MovementIn.model_validate(
        {"type": "receive", "quantity": quantity, "unit_cost": 400, "reason": "PO"}
    )
    service.record_movement(sku, body)


def _report(store: InMemoryAggregateStore, day: str) -> dict[str, Any]:
    return build_report(
        day,
        timezone=TIMEZONE,
        currency="EUR",
        window=store.read_days(days_back(day, 30)),
        stock=store.stock_snapshot(day),
    )


def test_a_sku_received_but_never_sold_has_its_name_in_the_report() -> None:
    # Given two SKUs the catalog created (a variant of a product, and a product's only variant) ...
    service, repository = _stock_service(
        SkuRecord("MUG-BLK", product_id="p1", product_name="Mug", name="Black", price=1200, currency="EUR"),
        SkuRecord("CAP", product_id="p2", product_name="Cap", name="Cap", price=900, currency="EUR"),
    )
    # ... received into stock and never sold
    _receive(service, "MUG-BLK", 12)
    _receive(service, "CAP", 3)
    store = InMemoryAggregateStore()
    for event in repository.events:
        count_event(store, event.envelope(), TIMEZONE)

    report = _report(store, DAY)

    # Then each row names its SKU as a shopper's order line would
    names = {row["sku"]: row["name"] for row in report["skus"]}
    assert names == {"MUG-BLK": "Mug - Black", "CAP": "Cap"}
    assert {row["sku"]: row["on_hand"] for row in report["skus"]} == {"MUG-BLK": 12, "CAP": 3}
    assert report["stock"]["value"] == 15 * 400


def test_stock_adjusted_carries_the_name_and_follows_its_schema() -> None:
    service, repository = _stock_service(SkuRecord("MUG-BLK", product_name="Mug", name="Black"))
    _receive(service, "MUG-BLK", 2)

    (event,) = repository.events
    assert event.detail["name"] == "Mug - Black"
    detail_validator("StockAdjusted").validate(event.envelope()["detail"])


def test_a_sku_item_without_names_emits_no_name() -> None:
    # An item the catalog did not name (written before names existed): the field is left out.
    service, repository = _stock_service(SkuRecord("LEGACY"))
    _receive(service, "LEGACY", 1)

    assert "name" not in repository.events[0].detail
    detail_validator("StockAdjusted").validate(repository.events[0].envelope()["detail"])


def test_the_order_lines_name_wins_and_the_stock_name_fills_the_gaps() -> None:
    # Given a sold SKU (named by its order line) and an unsold one (named by its stock level only)
    store = InMemoryAggregateStore()
    sold = envelope(
        "StockAdjusted",
        "2026-07-15T08:00:00.000Z",
        sku="TEE",
        movement_id="000000000001",
        name="Tee (stock)",
        occurred_at="2026-07-15T08:00:00.000Z",
    )
    unsold = envelope(
        "StockAdjusted",
        "2026-07-15T09:00:00.000Z",
        sku="BAG",
        movement_id="000000000001",
        name="Bag",
        occurred_at="2026-07-15T09:00:00.000Z",
    )
    for event in (sold, unsold):
        detail_validator("StockAdjusted").validate(event["detail"])
        count_event(store, event, TIMEZONE)
    window = store.read_days(days_back(REPORT_DAY, 30))
    window.append(
        DayAggregates(
            REPORT_DAY, {"orders": 1}, {"TEE": {"units": 1, "revenue": 100}}, {"TEE": "Tee - Black"}
        )
    )

    report = build_report(
        REPORT_DAY, timezone=TIMEZONE, currency="EUR", window=window, stock=store.stock_snapshot(REPORT_DAY)
    )

    assert {row["sku"]: row["name"] for row in report["skus"]} == {"TEE": "Tee - Black", "BAG": "Bag"}


def test_a_later_movement_without_a_name_keeps_the_stored_name() -> None:
    store = InMemoryAggregateStore()
    named = envelope(
        "StockAdjusted", "2026-07-15T08:00:00.000Z", sku="BAG", movement_id="000000000001", name="Bag"
    )
    anonymous = envelope(
        "StockAdjusted", "2026-07-15T09:00:00.000Z", sku="BAG", movement_id="000000000002", on_hand=7
    )
    anonymous["detail"].pop("name", None)
    for event in (named, anonymous):
        count_event(store, event, TIMEZONE)

    (row,) = store.stock_snapshot(REPORT_DAY)
    assert (row.name, row.on_hand) == ("Bag", 7)


def test_stock_row_round_trips_its_name() -> None:
    row = StockRow("BAG", 3, 0, 3, 1200, 2, name="Bag")
    assert StockRow.from_dict(row.to_dict()) == row
    assert StockRow.from_dict({k: v for k, v in row.to_dict().items() if k != "name"}).name == ""
