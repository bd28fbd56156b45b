"""Stock use cases against the in-memory repository: movement rules, low-stock alerts, sales."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cloudtill.errors import Conflict, NotFound, ValidationFailed
from cloudtill.stock.api import MovementIn, StockSettingsIn
from cloudtill.stock.fifo import FifoStock
from cloudtill.stock.rules import InsufficientStock, StockChange, StockState
from cloudtill.stock.service import StockBusy, StockService

from tests.fakes import FixedClock, InMemoryStockRepository
from tests.unit.test_event_schemas import detail_validator

SKU = "MUG-BLK"


def _new_sku(repository: InMemoryStockRepository, *, threshold: int = 0, backorder_limit: int = 0) -> None:
    # As the catalog creates it: no stock, never touched by the stock domain.
    repository.states[SKU] = StockState(
        sku=SKU,
        on_hand=0,
        reserved=0,
        backorder_limit=backorder_limit,
        low_stock_threshold=threshold,
        low_stock=True,
        fifo=FifoStock(),
        version=0,
    )


def _movement(type_: str, quantity: int, unit_cost: int | None = None) -> MovementIn:
    return MovementIn.model_validate(
        {"type": type_, "quantity": quantity, "unit_cost": unit_cost, "reason": "test"}
    )


def _reserve(repository: InMemoryStockRepository, units: int) -> None:
    """What a checkout does to the SKU item (outside the stock domain, no version bump)."""
    state = repository.states[SKU]
    repository.states[SKU] = replace(state, reserved=state.reserved + units)


@pytest.fixture
def repository() -> InMemoryStockRepository:
    repository = InMemoryStockRepository()
    _new_sku(repository)
    return repository


@pytest.fixture
def service(repository: InMemoryStockRepository) -> StockService:
    return StockService(repository, FixedClock())


def _detail_types(repository: InMemoryStockRepository) -> list[str]:
    return [e.detail_type for e in repository.events]


def test_receive_adds_stock_and_values_it_at_fifo_cost(service: StockService) -> None:
    service.record_movement(SKU, _movement("receive", 10, 100))
    movement = service.record_movement(SKU, _movement("receive", 5, 130))

    stock = service.get_stock(SKU)
    assert (stock.on_hand, stock.available, stock.reservable, stock.value) == (15, 15, 15, 10 * 100 + 5 * 130)
    assert (movement.delta, movement.on_hand_before, movement.on_hand_after) == (5, 10, 15)
    assert movement.value_after == 1650


def test_negative_adjust_writes_off_the_oldest_layers_first(service: StockService) -> None:
    service.record_movement(SKU, _movement("receive", 4, 100))
    service.record_movement(SKU, _movement("receive", 4, 200))

    movement = service.record_movement(SKU, _movement("adjust", -5))

    assert movement.cost_of_goods_sold == 4 * 100 + 1 * 200
    assert service.get_stock(SKU).value == 3 * 200


def test_count_sets_on_hand_and_records_the_delta(service: StockService) -> None:
    service.record_movement(SKU, _movement("receive", 10, 100))

    lower = service.record_movement(SKU, _movement("count", 7))
    higher = service.record_movement(SKU, _movement("count", 9))

    assert (lower.quantity, lower.delta, lower.on_hand_after) == (7, -3, 7)
    # Found units without a stated cost are valued at the latest known cost.
    assert (higher.delta, higher.unit_cost) == (2, 100)
    assert service.get_stock(SKU).on_hand == 9


@pytest.mark.parametrize(
    ("movement", "fields"),
    [
        (_movement("receive", 0, 100), {"quantity"}),
        (_movement("receive", 5), {"unit_cost"}),
        (_movement("receive", -1), {"quantity", "unit_cost"}),
        (_movement("adjust", 0), {"quantity"}),
        (_movement("count", -1), {"quantity"}),
    ],
)
def test_bad_movements_are_refused_naming_every_field(
    service: StockService, repository: InMemoryStockRepository, movement: MovementIn, fields: set[str]
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.record_movement(SKU, movement)
    assert {e.field for e in refused.value.errors} == fields
    assert repository.saves == 0


def test_taking_more_than_reservable_is_a_conflict_and_changes_nothing(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    # Given 5 on hand, 2 reserved, backorders up to 1: 4 reservable
    service.record_movement(SKU, _movement("receive", 5, 100))
    service.update_settings(SKU, StockSettingsIn(backorder_limit=1))
    _reserve(repository, 2)
    before = repository.states[SKU]

    with pytest.raises(InsufficientStock) as refused:
        service.record_movement(SKU, _movement("adjust", -5))
    assert refused.value.errors[0].field == "quantity"
    with pytest.raises(InsufficientStock):
        service.record_movement(SKU, _movement("count", 0))

    assert repository.states[SKU] == before
    # Exactly 4 may go: on hand 1, reserved 2, reservable 0
    service.record_movement(SKU, _movement("adjust", -4))
    stock = service.get_stock(SKU)
    assert (stock.on_hand, stock.available, stock.reservable) == (1, 0, 0)


def test_backorder_limit_moves_reservable_and_cannot_undercut_reservations(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    service.update_settings(SKU, StockSettingsIn(backorder_limit=5))
    assert service.get_stock(SKU).reservable == 5
    _reserve(repository, 3)  # 3 backordered units reserved

    with pytest.raises(InsufficientStock) as refused:
        service.update_settings(SKU, StockSettingsIn(backorder_limit=2))
    assert refused.value.errors[0].field == "backorder_limit"

    stock = service.update_settings(SKU, StockSettingsIn(backorder_limit=3))
    assert (stock.backorder_limit, stock.reservable, stock.available) == (3, 0, 0)


def test_settings_need_at_least_one_field(service: StockService) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.update_settings(SKU, StockSettingsIn())
    assert {e.field for e in refused.value.errors} == {"low_stock_threshold", "backorder_limit"}


def test_unknown_sku_is_not_found(service: StockService) -> None:
    with pytest.raises(NotFound):
        service.get_stock("NOPE")
    with pytest.raises(NotFound):
        service.record_movement("NOPE", _movement("receive", 1, 1))
    with pytest.raises(NotFound):
        service.list_movements("NOPE", 10, None)


def test_every_movement_emits_stock_adjusted(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    service.record_movement(SKU, _movement("receive", 10, 100))
    service.record_movement(SKU, _movement("count", 10))
    adjusted = [e for e in repository.events if e.detail_type == "StockAdjusted"]
    assert [(e.detail["type"], e.detail["delta"], e.detail["on_hand"]) for e in adjusted] == [
        ("receive", 10, 10),
        ("count", 0, 10),
    ]


def test_stock_low_fires_once_per_crossing(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    # Given a threshold of 5 and 10 in stock (not low)
    service.update_settings(SKU, StockSettingsIn(low_stock_threshold=5))
    service.record_movement(SKU, _movement("receive", 10, 100))
    assert "StockLow" not in _detail_types(repository)

    # When stock drops to 5, then further to 2
    service.record_movement(SKU, _movement("adjust", -5))
    service.record_movement(SKU, _movement("adjust", -3))
    # Then one StockLow, for the first drop
    lows = [e for e in repository.events if e.detail_type == "StockLow"]
    assert [(e.detail["available"], e.detail["cause"]) for e in lows] == [(5, "movement")]

    # When it rises above the threshold and drops again, it fires again
    service.record_movement(SKU, _movement("receive", 10, 100))
    assert service.get_stock(SKU).low_stock is False
    service.record_movement(SKU, _movement("count", 1))
    assert _detail_types(repository).count("StockLow") == 2


def test_reservations_count_against_the_low_stock_level(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    # Given 10 on hand, threshold 3, then checkouts reserve 8 (they do not touch the flag)
    service.update_settings(SKU, StockSettingsIn(low_stock_threshold=3))
    service.record_movement(SKU, _movement("receive", 10, 100))
    _reserve(repository, 8)
    # When any stock write sees 2 sellable, the alert fires
    service.record_movement(SKU, _movement("count", 10))
    assert _detail_types(repository).count("StockLow") == 1


def test_raising_the_threshold_over_the_level_is_a_crossing(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    service.record_movement(SKU, _movement("receive", 4, 100))
    service.update_settings(SKU, StockSettingsIn(low_stock_threshold=4))
    service.update_settings(SKU, StockSettingsIn(low_stock_threshold=6))
    lows = [e for e in repository.events if e.detail_type == "StockLow"]
    assert [(e.detail["low_stock_threshold"], e.detail["cause"]) for e in lows] == [(4, "settings")]


def test_a_sku_that_was_never_stocked_does_not_alert_on_its_first_write(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    service.record_movement(SKU, _movement("count", 0))
    assert "StockLow" not in _detail_types(repository)


def test_a_lost_race_is_retried_on_fresh_stock(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    service.record_movement(SKU, _movement("receive", 10, 100))
    raced = []

    def checkout_reserves_first(change: StockChange) -> None:
        if not raced:
            raced.append(change)
            _reserve(repository, 4)

    repository.before_save = checkout_reserves_first
    movement = service.record_movement(SKU, _movement("adjust", -6))

    assert movement.on_hand_after == 4
    stock = service.get_stock(SKU)
    assert (stock.on_hand, stock.reserved, stock.reservable) == (4, 4, 0)
    # The same request after the reservation would now be refused: it was recomputed, not replayed.
    with pytest.raises(InsufficientStock):
        service.record_movement(SKU, _movement("adjust", -1))


def test_a_sku_that_keeps_changing_gives_up_with_409(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    service.record_movement(SKU, _movement("receive", 10, 100))
    repository.before_save = lambda change: _reserve(repository, 1)
    with pytest.raises(StockBusy):
        service.record_movement(SKU, _movement("adjust", -1))
    assert service.get_stock(SKU).on_hand == 10


def test_commit_sale_consumes_the_oldest_layer_and_keeps_reservable(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    # Given 3 @100 then 3 @200, 4 reserved by a checkout
    service.record_movement(SKU, _movement("receive", 3, 100))
    service.record_movement(SKU, _movement("receive", 3, 200))
    _reserve(repository, 4)

    sale = service.commit_sale(SKU, 4, reference="ord_1")

    assert (sale.type, sale.delta, sale.cost_of_goods_sold, sale.reference) == ("sale", -4, 500, "ord_1")
    stock = service.get_stock(SKU)
    assert (stock.on_hand, stock.reserved, stock.reservable, stock.value) == (2, 0, 2, 400)
    assert repository.events[-1].detail["type"] == "sale"


def test_commit_sale_of_backordered_units_leaves_an_unvalued_backorder(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    service.update_settings(SKU, StockSettingsIn(backorder_limit=5))
    service.record_movement(SKU, _movement("receive", 1, 100))
    _reserve(repository, 3)

    sale = service.commit_sale(SKU, 3)
    stock = service.get_stock(SKU)
    assert sale.cost_of_goods_sold == 100
    assert (stock.on_hand, stock.unvalued_backorder, stock.value, stock.reservable) == (-2, 2, 0, 3)

    # The next receipt settles the backorder first
    receipt = service.record_movement(SKU, _movement("receive", 5, 150))
    assert receipt.cost_of_goods_sold == 2 * 150
    stock = service.get_stock(SKU)
    assert (stock.on_hand, stock.unvalued_backorder, stock.value) == (3, 0, 3 * 150)


def test_commit_sale_of_unreserved_units_is_refused(service: StockService) -> None:
    service.record_movement(SKU, _movement("receive", 5, 100))
    with pytest.raises(Conflict):
        service.commit_sale(SKU, 1)


def test_ledger_pages_newest_first(service: StockService) -> None:
    for units in range(1, 6):
        service.record_movement(SKU, _movement("receive", units, 100))
    first = service.list_movements(SKU, 2, None)
    second = service.list_movements(SKU, 2, first.next_cursor)
    third = service.list_movements(SKU, 2, second.next_cursor)
    quantities = [m.quantity for page in (first, second, third) for m in page.items]
    assert quantities == [5, 4, 3, 2, 1]
    assert third.next_cursor is None


def test_emitted_events_match_their_schemas(
    service: StockService, repository: InMemoryStockRepository
) -> None:
    # Given a SKU that receives, drops below its threshold (with a backorder), and sells
    service.update_settings(SKU, StockSettingsIn(low_stock_threshold=2, backorder_limit=3))
    service.record_movement(SKU, _movement("receive", 5, 100))
    service.record_movement(SKU, _movement("adjust", -4).model_copy(update={"reference": "damaged"}))
    _reserve(repository, 3)
    service.commit_sale(SKU, 3, reference="ord_9")
    # Then every event validates against events/schemas
    assert {e.detail_type for e in repository.events} == {"StockAdjusted", "StockLow"}
    for event in repository.events:
        detail_validator(event.detail_type).validate(event.envelope()["detail"])
