"""Stock API request/response models (the contract; OpenAPI is generated from these)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudtill.catalog.api import Sku
from cloudtill.clock import Timestamp
from cloudtill.stock.rules import MAX_QUANTITY

__all__ = ["Sku"]

StrictInt = Annotated[int, Field(strict=True)]
UnitCost = Annotated[int, Field(strict=True, ge=0, le=100_000_000, description="Minor units per unit")]
Threshold = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MovementIn(_Strict):
    type: Literal["receive", "adjust", "count"] = Field(
        description="receive: add units at unit_cost; adjust: signed change; count: set on hand"
    )
    quantity: StrictInt = Field(
        description="receive: units added (>= 1); adjust: signed non-zero change; count: units counted (>= 0)"
    )
    unit_cost: UnitCost | None = Field(
        default=None,
        description="Required for receive; for units added by adjust/count, defaults to the latest cost",
    )
    reason: str = Field(min_length=1, max_length=500)
    reference: str | None = Field(default=None, min_length=1, max_length=200)


class MovementOut(BaseModel):
    id: str
    sku: str
    type: Literal["receive", "adjust", "count", "sale"]
    quantity: int
    delta: int = Field(description="Change of on hand")
    on_hand_before: int
    on_hand_after: int
    unit_cost: int | None
    value_before: int
    value_after: int
    cost_of_goods_sold: int = Field(description="FIFO cost of the units removed (or backorders settled)")
    reason: str
    reference: str | None
    at: Timestamp


class MovementPage(BaseModel):
    items: list[MovementOut] = Field(description="Newest first")
    next_cursor: str | None


class StockOut(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int = Field(description="Units buyable now from stock: max(on_hand - reserved, 0)")
    reservable: int = Field(description="Units checkouts may still reserve, backorders included")
    low_stock_threshold: int
    backorder_limit: int
    low_stock: bool
    value: int = Field(description="FIFO value of the units on hand, minor units")
    unvalued_backorder: int = Field(description="Units sold beyond stock whose cost is not known yet")


class StockSettingsIn(_Strict):
    low_stock_threshold: Threshold | None = None
    backorder_limit: Threshold | None = None


class Discrepancy(BaseModel):
    sku: str
    check: Literal["reserved", "available", "fifo"]
    expected: int
    actual: int
    detail: str


class ReconciliationOut(BaseModel):
    ok: bool
    checked: int = Field(description="How many SKUs were checked")
    discrepancies: list[Discrepancy]
