"""Pure stock rules: what a movement, a settings change or a sale does to one SKU's stock.

No I/O here: the service reads a `StockState`, asks these functions for the next state, and the
adapter writes it conditionally (see docs/stock.md for the stored attributes).

Quantities of one SKU
---------------------
* ``on_hand``    units physically held (negative while backordered units were sold);
* ``reserved``   units held by open checkouts (the checkout domain maintains it);
* ``sellable``   ``max(on_hand - reserved, 0)``: units buyable now from stock (the API's `available`);
* ``reservable`` ``on_hand + backorder_limit - reserved``: what checkouts may still reserve (the
  stored `available` attribute, kept by every writer because DynamoDB conditions cannot add).

Invariants every stock-domain write keeps: ``reservable >= 0`` and the FIFO layers hold exactly
``on_hand`` units (``fifo.quantity == on_hand``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from cloudtill.errors import Conflict, FieldError, ValidationFailed
from cloudtill.stock.fifo import FifoStock, consume, receive, stock_value

MovementType = Literal["receive", "adjust", "count", "sale"]
# Largest quantity a single movement may carry: far beyond any real shop, well inside int64.
MAX_QUANTITY = 1_000_000_000


class InsufficientStock(Conflict):
    """A movement or setting would leave fewer reservable units than zero."""

    type_slug = "insufficient-stock"
    title = "Not enough stock for this change"


@dataclass(frozen=True, slots=True)
class StockState:
    """The stock part of one SKU item as read (or as about to be written)."""

    sku: str
    on_hand: int
    reserved: int
    backorder_limit: int
    low_stock_threshold: int
    # Whether `sellable <= low_stock_threshold` after the last stock-domain write. It can lag behind
    # reservations (the checkout domain need not touch it); it is what makes StockLow fire once.
    low_stock: bool
    fifo: FifoStock
    # Bumped by every stock-domain write; the ledger sequence of the last movement.
    version: int
    # The SKU's name as its item knows it (written by the catalog), carried on the stock events so
    # consumers that may not read catalog items (reporting) can name the SKU; "" when it has none.
    name: str = ""

    @property
    def sellable(self) -> int:
        return max(self.on_hand - self.reserved, 0)

    @property
    def reservable(self) -> int:
        return self.on_hand + self.backorder_limit - self.reserved

    @property
    def value(self) -> int:
        """FIFO value of the units in stock, minor units."""
        return stock_value(self.fifo)


@dataclass(frozen=True, slots=True)
class MovementRequest:
    type: MovementType
    quantity: int
    reason: str
    unit_cost: int | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class MovementRecord:
    """One immutable ledger entry."""

    sku: str
    sequence: int
    type: MovementType
    quantity: int  # as requested (the counted quantity for a count)
    delta: int  # change of on hand
    on_hand_before: int
    on_hand_after: int
    unit_cost: int | None  # cost of units added, when units were added
    value_before: int
    value_after: int
    cost_of_goods_sold: int  # FIFO cost of units removed (or of backorders a receipt settled)
    reason: str
    reference: str | None
    at: str

    @property
    def id(self) -> str:
        return movement_id(self.sequence)


def movement_id(sequence: int) -> str:
    # Zero-padded so ids sort like sequences.
    return f"{sequence:012d}"


@dataclass(frozen=True, slots=True)
class StockChange:
    """A state transition: what to write and what it means for alerts."""

    before: StockState
    after: StockState
    movement: MovementRecord | None
    # True when this write takes the SKU from above its low-stock threshold to at or below it.
    became_low: bool


def is_low(sellable: int, threshold: int) -> bool:
    return sellable <= threshold


def low_stock_crossing(before: int, after: int, threshold: int) -> bool:
    """Did the sellable quantity fall from above `threshold` to at or below it?

    For writers that do not keep the `low_stock` flag (e.g. a reservation that knows the sellable
    quantity before and after): `True` means a StockLow event belongs in the same transaction."""
    return before > threshold >= after


def _low_flag_change(before: StockState, after_sellable: int, threshold: int) -> tuple[bool, bool]:
    """(new `low_stock` flag, whether StockLow fires). Fires on a False -> True flip of the flag,
    so a SKU reported low is not reported again until a write sees it above the threshold."""
    now_low = is_low(after_sellable, threshold)
    return now_low, now_low and not before.low_stock


def _check_reservable(before: StockState, reservable_after: int, field: str, hint: str) -> None:
    if reservable_after < 0:
        raise InsufficientStock(
            f"SKU {before.sku}: this would leave {reservable_after} reservable units "
            f"(on hand {before.on_hand}, reserved {before.reserved}, "
            f"backorder limit {before.backorder_limit}).",
            [FieldError(field, hint)],
            on_hand=before.on_hand,
            reserved=before.reserved,
            backorder_limit=before.backorder_limit,
            reservable=before.reservable,
        )


def validate_movement(request: MovementRequest) -> None:
    """The type-specific input rules (422 naming every offending field)."""
    errors: list[FieldError] = []
    if abs(request.quantity) > MAX_QUANTITY:
        errors.append(FieldError("quantity", f"at most {MAX_QUANTITY} in absolute value"))
    if request.type == "receive":
        if request.quantity < 1:
            errors.append(FieldError("quantity", "a receipt adds at least 1 unit"))
        if request.unit_cost is None:
            errors.append(FieldError("unit_cost", "required for a receipt (FIFO valuation)"))
    elif request.type == "adjust":
        if request.quantity == 0:
            errors.append(FieldError("quantity", "an adjustment changes stock by a non-zero amount"))
    elif request.type == "count":
        if request.quantity < 0:
            errors.append(FieldError("quantity", "a count is at least 0"))
    else:
        errors.append(FieldError("type", "one of receive, adjust, count"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


def _cost_of_added_units(fifo: FifoStock, unit_cost: int | None) -> int:
    # Found units (positive adjust or count) without a stated cost are valued at the latest known
    # cost, the usual convention for count gains; with no history at all, at 0.
    if unit_cost is not None:
        return unit_cost
    return fifo.layers[-1].unit_cost if fifo.layers else 0


def apply_movement(before: StockState, request: MovementRequest, at: datetime, at_iso: str) -> StockChange:
    """The state after a receive, adjust or count. Raises ValidationFailed (422) for bad input and
    InsufficientStock (409) when fewer than zero units would stay reservable."""
    validate_movement(request)
    delta = request.quantity - before.on_hand if request.type == "count" else request.quantity
    _check_reservable(
        before, before.reservable + delta, "quantity", f"at most {before.reservable} units can be taken away"
    )

    fifo, cogs, unit_cost = before.fifo, 0, None
    if delta > 0:
        unit_cost = _cost_of_added_units(before.fifo, request.unit_cost)
        fifo, cogs = receive(before.fifo, delta, unit_cost, at)
    elif delta < 0:
        fifo, cogs = consume(before.fifo, -delta)

    on_hand = before.on_hand + delta
    low, became_low = _low_flag_change(before, max(on_hand - before.reserved, 0), before.low_stock_threshold)
    after = replace(before, on_hand=on_hand, fifo=fifo, low_stock=low, version=before.version + 1)
    record = MovementRecord(
        sku=before.sku,
        sequence=after.version,
        type=request.type,
        quantity=request.quantity,
        delta=delta,
        on_hand_before=before.on_hand,
        on_hand_after=on_hand,
        unit_cost=unit_cost,
        value_before=before.value,
        value_after=after.value,
        cost_of_goods_sold=cogs,
        reason=request.reason,
        reference=request.reference,
        at=at_iso,
    )
    return StockChange(before, after, record, became_low)


def commit_sale(before: StockState, quantity: int, reference: str | None, at_iso: str) -> StockChange:
    """Turn `quantity` reserved units into a sale: on hand and reserved both fall by `quantity`
    (reservable is unchanged), the oldest FIFO layers are consumed and their cost is the COGS.

    A sale does not change the sellable quantity, but the reservation before it did: if that
    reservation took the SKU to or below its threshold without setting `low_stock`, this is the
    first stock write to see it, and StockLow fires now."""
    if quantity < 1:
        raise ValueError("a sale takes at least 1 unit")
    if before.reserved < quantity:
        raise Conflict(
            f"SKU {before.sku}: only {before.reserved} units are reserved, cannot sell {quantity}.",
            [FieldError("quantity", f"at most {before.reserved} reserved units")],
        )
    fifo, cogs = consume(before.fifo, quantity)
    low, became_low = _low_flag_change(before, before.sellable, before.low_stock_threshold)
    after = replace(
        before,
        on_hand=before.on_hand - quantity,
        reserved=before.reserved - quantity,
        fifo=fifo,
        low_stock=low,
        version=before.version + 1,
    )
    record = MovementRecord(
        sku=before.sku,
        sequence=after.version,
        type="sale",
        quantity=quantity,
        delta=-quantity,
        on_hand_before=before.on_hand,
        on_hand_after=after.on_hand,
        unit_cost=None,
        value_before=before.value,
        value_after=after.value,
        cost_of_goods_sold=cogs,
        reason="sale",
        reference=reference,
        at=at_iso,
    )
    return StockChange(before, after, record, became_low)


def change_settings(
    before: StockState, low_stock_threshold: int | None, backorder_limit: int | None
) -> StockChange:
    """New threshold and/or backorder limit. Lowering the backorder limit below what is already
    reserved beyond stock is refused (409 on `backorder_limit`): it would make reservable negative.
    Raising the threshold to or above the sellable quantity is a crossing like any other."""
    threshold = before.low_stock_threshold if low_stock_threshold is None else low_stock_threshold
    limit = before.backorder_limit if backorder_limit is None else backorder_limit
    _check_reservable(
        before,
        before.reservable + (limit - before.backorder_limit),
        "backorder_limit",
        f"at least {before.backorder_limit - before.reservable} while current reservations stand",
    )
    low, became_low = _low_flag_change(before, before.sellable, threshold)
    after = replace(
        before,
        low_stock_threshold=threshold,
        backorder_limit=limit,
        low_stock=low,
        version=before.version + 1,
    )
    return StockChange(before, after, None, became_low)
