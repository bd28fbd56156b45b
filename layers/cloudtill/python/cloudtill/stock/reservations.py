"""Reservation planning: can these checkout lines be reserved, and which are backordered?

Quantities per SKU
------------------
* ``in_stock = on_hand - reserved`` (may be negative while backorders are open)
* ``reservable = on_hand + backorder_limit - reserved`` — the most a checkout may still reserve.

The same SKU on several lines is summed into one `requested` quantity. For each SKU:

* ``requested <= max(in_stock, 0)``  -> reserved from stock;
* ``requested <= reservable``        -> reserved, and every line of that SKU is *backordered*;
* otherwise                          -> shortage: `OutOfStock` (409) naming `lines[i].sku` for
  each line of that SKU, with ``extra = {"unavailable": [{"sku", "requested", "available"}]}``
  where ``available = max(reservable, 0)``, the most the shopper can order now.

DynamoDB mirror (the decision)
------------------------------
Condition expressions cannot do arithmetic, so each stock item keeps a precomputed attribute
``available = on_hand + backorder_limit - reserved`` (= `reservable` here), kept right by every
write that changes one of its inputs. The checkout transaction has one update per SKU:

* reserve:  ``ConditionExpression: available >= :qty`` and the plan's backorder decision, with the
            limit ``:limit`` read: ``available >= :qty + :limit`` (from stock: ``in_stock >= qty``) or
            ``available < :qty + :limit`` (backordered), ``AND backorder_limit = :limit``
            ``UpdateExpression: SET available = available - :qty, reserved = reserved + :qty``
* release (checkout expired/cancelled):
            ``ConditionExpression: reserved >= :qty``
            ``SET available = available + :qty, reserved = reserved - :qty``
* ship:     ``SET on_hand = on_hand - :qty, reserved = reserved - :qty`` (`available` unchanged)
* receive:  ``SET on_hand = on_hand + :qty, available = available + :qty``
* change backorder_limit: ``SET backorder_limit = :new, available = available + :delta``
            with ``ConditionExpression: backorder_limit = :old``.

Update expressions can add and subtract, so no read-modify-write is needed. A failed condition
(another checkout took the stock between our read and the transaction) is answered by reading the
stock again and re-running `plan_reservation`, which then raises `OutOfStock` with current numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cloudtill.errors import FieldError, OutOfStock


@dataclass(frozen=True, slots=True)
class ReservationLine:
    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"line {self.sku}: quantity must be >= 1")


@dataclass(frozen=True, slots=True)
class StockLevel:
    on_hand: int
    reserved: int
    backorder_limit: int = 0

    @property
    def in_stock(self) -> int:
        return self.on_hand - self.reserved

    @property
    def reservable(self) -> int:
        """The DynamoDB `available` attribute."""
        return self.on_hand + self.backorder_limit - self.reserved


NO_STOCK = StockLevel(on_hand=0, reserved=0, backorder_limit=0)


@dataclass(frozen=True, slots=True)
class SkuReservation:
    sku: str
    requested: int
    in_stock: int
    reservable: int

    @property
    def backordered(self) -> bool:
        return self.requested > max(self.in_stock, 0)

    @property
    def short(self) -> bool:
        return self.requested > self.reservable


@dataclass(frozen=True, slots=True)
class ReservationPlan:
    skus: tuple[SkuReservation, ...]  # one per SKU, in order of first appearance
    line_backordered: tuple[bool, ...]  # one per input line

    def quantities(self) -> dict[str, int]:
        """What to reserve per SKU (the `:qty` of each transaction item)."""
        return {s.sku: s.requested for s in self.skus}


def plan_reservation(lines: Sequence[ReservationLine], stock: Mapping[str, StockLevel]) -> ReservationPlan:
    """Plan reserving `lines` against `stock` (a SKU without a stock level has none).

    Raises OutOfStock naming every line whose SKU cannot be reserved."""
    requested: dict[str, int] = {}
    for line in lines:
        requested[line.sku] = requested.get(line.sku, 0) + line.quantity
    skus = {
        sku: SkuReservation(sku, qty, stock.get(sku, NO_STOCK).in_stock, stock.get(sku, NO_STOCK).reservable)
        for sku, qty in requested.items()
    }
    short = [s for s in skus.values() if s.short]
    if short:
        short_skus = {s.sku for s in short}
        raise OutOfStock(
            "not enough stock for " + ", ".join(s.sku for s in short),
            [
                FieldError(f"lines[{i}].sku", f"only {max(skus[line.sku].reservable, 0)} available")
                for i, line in enumerate(lines)
                if line.sku in short_skus
            ],
            unavailable=[
                {"sku": s.sku, "requested": s.requested, "available": max(s.reservable, 0)} for s in short
            ],
        )
    return ReservationPlan(
        skus=tuple(skus.values()),
        line_backordered=tuple(skus[line.sku].backordered for line in lines),
    )
