"""The stock domain's events (schemas in events/schemas/StockAdjusted.json and StockLow.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from cloudtill.outbox import DomainEvent
from cloudtill.stock.rules import MovementRecord, StockState

DOMAIN = "stock"
STOCK_ADJUSTED = "StockAdjusted"
STOCK_LOW = "StockLow"

LowStockCause = Literal["movement", "settings", "reservation"]


def _levels(state: StockState) -> dict[str, Any]:
    return {
        "on_hand": state.on_hand,
        "reserved": state.reserved,
        "available": state.sellable,
        "reservable": state.reservable,
    }


def stock_adjusted(state: StockState, movement: MovementRecord, time: datetime) -> DomainEvent:
    """Every ledger movement. `state` is the SKU's stock after it (its `name`, when it has one, names
    the SKU as the shopper's order lines do)."""
    detail: dict[str, Any] = {
        "sku": movement.sku,
        "movement_id": movement.id,
        "type": movement.type,
        "quantity": movement.quantity,
        "delta": movement.delta,
        **_levels(state),
        "value": movement.value_after,
        "cost_of_goods_sold": movement.cost_of_goods_sold,
        "reason": movement.reason,
        "occurred_at": movement.at,
    }
    if movement.reference is not None:
        detail["reference"] = movement.reference
    if state.name:
        detail["name"] = state.name
    return DomainEvent(STOCK_ADJUSTED, DOMAIN, detail, time)


def stock_low(
    sku: str,
    *,
    on_hand: int,
    reserved: int,
    backorder_limit: int,
    low_stock_threshold: int,
    cause: LowStockCause,
    time: datetime,
) -> DomainEvent:
    """The sellable quantity fell to or below the threshold (once per crossing). Plain numbers, so
    the checkout domain can build it for a reservation that crosses (see `low_stock_crossing`)."""
    detail = {
        "sku": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": max(on_hand - reserved, 0),
        "reservable": on_hand + backorder_limit - reserved,
        "low_stock_threshold": low_stock_threshold,
        "cause": cause,
    }
    return DomainEvent(STOCK_LOW, DOMAIN, detail, time)


def stock_low_for(state: StockState, cause: LowStockCause, time: datetime) -> DomainEvent:
    return stock_low(
        state.sku,
        on_hand=state.on_hand,
        reserved=state.reserved,
        backorder_limit=state.backorder_limit,
        low_stock_threshold=state.low_stock_threshold,
        cause=cause,
        time=time,
    )
