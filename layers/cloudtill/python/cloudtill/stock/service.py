"""Stock use cases. Knows nothing of Lambda or DynamoDB: it gets a repository and a clock.

Every write is optimistic: read the SKU's stock, compute the next state with `rules`, write it on
the condition that the item still holds what was read; on a lost race read again and recompute
(a few times), then give up with 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudtill.clock import Clock, iso
from cloudtill.errors import Conflict, FieldError, NotFound, ValidationFailed
from cloudtill.outbox import DomainEvent
from cloudtill.stock.api import MovementIn, MovementOut, MovementPage, StockOut, StockSettingsIn
from cloudtill.stock.events import LowStockCause, stock_adjusted, stock_low_for
from cloudtill.stock.ports import StaleStock, StockRepository
from cloudtill.stock.rules import (
    MovementRecord,
    MovementRequest,
    StockChange,
    StockState,
    apply_movement,
    change_settings,
    commit_sale,
)

WRITE_ATTEMPTS = 5


class StockBusy(Conflict):
    type_slug = "stock-busy"
    title = "The stock changed concurrently"


def stock_out(state: StockState) -> StockOut:
    """The API view of a SKU's stock: the state's fields, `available` being the units sellable now."""
    derived: dict[str, Any] = {
        "available": state.sellable,
        "unvalued_backorder": state.fifo.unvalued_backorder,
    }
    same = {name: getattr(state, name) for name in StockOut.model_fields.keys() - derived.keys()}
    return StockOut(**same, **derived)


def movement_out(record: MovementRecord) -> MovementOut:
    return MovementOut.model_validate(record, from_attributes=True)


class StockService:
    def __init__(self, repository: StockRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def get_stock(self, sku: str) -> StockOut:
        return stock_out(self._read(sku))

    def record_movement(self, sku: str, body: MovementIn) -> MovementOut:
        request = MovementRequest(**body.model_dump())

        def plan(state: StockState) -> StockChange:
            now = self._clock.now()
            return apply_movement(state, request, now, iso(now))

        change = self._write(sku, plan, "movement")
        assert change.movement is not None
        return movement_out(change.movement)

    def update_settings(self, sku: str, body: StockSettingsIn) -> StockOut:
        if body.low_stock_threshold is None and body.backorder_limit is None:
            message = "give low_stock_threshold and/or backorder_limit"
            raise ValidationFailed(
                message,
                [FieldError("low_stock_threshold", message), FieldError("backorder_limit", message)],
            )
        threshold, limit = body.low_stock_threshold, body.backorder_limit
        change = self._write(sku, lambda state: change_settings(state, threshold, limit), "settings")
        return stock_out(change.after)

    def commit_sale(self, sku: str, quantity: int, reference: str | None = None) -> MovementRecord:
        """Turn `quantity` reserved units into a sale (see `rules.commit_sale`); standalone use.
        The order workflow, which must also mark its reservation committed in the same transaction,
        uses the adapter's `sale_operations` with `rules.commit_sale` instead."""
        change = self._write(
            sku,
            lambda state: commit_sale(state, quantity, reference, iso(self._clock.now())),
            # The sale only reveals a drop that the reservation before it caused.
            "reservation",
        )
        assert change.movement is not None
        return change.movement

    def list_movements(self, sku: str, limit: int, cursor: str | None) -> MovementPage:
        self._read(sku)
        records, next_cursor = self._repository.list_movements(sku, limit, cursor)
        return MovementPage(items=[movement_out(r) for r in records], next_cursor=next_cursor)

    # -- internals -----------------------------------------------------------------------------------

    def _read(self, sku: str) -> StockState:
        state = self._repository.get(sku)
        if state is None:
            raise NotFound(f"No SKU {sku}.", [FieldError("sku", f"{sku} does not exist")])
        return state

    def _write(
        self, sku: str, plan: Callable[[StockState], StockChange], cause: LowStockCause
    ) -> StockChange:
        for _ in range(WRITE_ATTEMPTS):
            change = plan(self._read(sku))
            try:
                self._repository.save(change, self._events(change, cause))
            except StaleStock:
                continue
            return change
        raise StockBusy(f"SKU {sku} kept changing while this request was applied; try again.")

    def _events(self, change: StockChange, cause: LowStockCause) -> list[DomainEvent]:
        now = self._clock.now()
        events: list[DomainEvent] = []
        if change.movement is not None:
            events.append(stock_adjusted(change.after, change.movement, now))
        if change.became_low:
            events.append(stock_low_for(change.after, cause, now))
        return events
