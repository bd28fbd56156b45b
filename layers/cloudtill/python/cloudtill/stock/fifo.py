"""FIFO cost layers for stock valuation (pure functions over immutable values).

Each receipt adds a `CostLayer` (sequence number, remaining quantity, unit cost in minor units).
Shipping goods `consume`s the oldest layers first; the cost of the units taken is the cost of
goods sold (COGS).

Backorders: shipping more than the layers hold takes what the layers have and records the excess
as `unvalued_backorder` (units shipped whose cost is not yet known), with cost 0 for now. The next
receipt (or return) settles that backorder first: the settled units are costed at that receipt's
unit cost and returned as COGS by `receive`, and only the rest becomes a new layer. So at any time

    total cost received == COGS from `consume` + COGS from `receive` + `stock_value`

and `unvalued_backorder > 0` only when there are no layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CostLayer:
    seq: int
    quantity: int  # remaining
    unit_cost: int
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1 or self.unit_cost < 0:
            raise ValueError("a cost layer holds quantity >= 1 at unit_cost >= 0")

    @property
    def value(self) -> int:
        return self.quantity * self.unit_cost


@dataclass(frozen=True, slots=True)
class FifoStock:
    """The valuation state of one SKU; oldest layer first."""

    layers: tuple[CostLayer, ...] = ()
    unvalued_backorder: int = 0
    next_seq: int = 1

    def __post_init__(self) -> None:
        if self.unvalued_backorder < 0:
            raise ValueError("unvalued_backorder must be >= 0")
        if self.unvalued_backorder and self.layers:
            raise ValueError("a backorder is settled before any new layer is added")
        seqs = [layer.seq for layer in self.layers]
        if seqs != sorted(set(seqs)) or (seqs and seqs[-1] >= self.next_seq):
            raise ValueError("layer seqs must increase and stay below next_seq")

    @property
    def quantity(self) -> int:
        """Units in stock, negative while units are backordered."""
        return sum(layer.quantity for layer in self.layers) - self.unvalued_backorder


def _positive(quantity: int) -> None:
    if quantity < 1:
        raise ValueError("quantity must be >= 1")


def receive(
    stock: FifoStock, quantity: int, unit_cost: int, received_at: datetime | None = None
) -> tuple[FifoStock, int]:
    """Add `quantity` units at `unit_cost`. Returns the new state and the COGS of backordered units
    this receipt settles (0 when nothing was backordered)."""
    _positive(quantity)
    if unit_cost < 0:
        raise ValueError("unit_cost must be >= 0")
    settled = min(quantity, stock.unvalued_backorder)
    remaining = quantity - settled
    layers = stock.layers
    if remaining:
        layers = (*layers, CostLayer(stock.next_seq, remaining, unit_cost, received_at))
    new_stock = FifoStock(layers, stock.unvalued_backorder - settled, stock.next_seq + 1)
    return new_stock, settled * unit_cost


def restock(
    stock: FifoStock, quantity: int, unit_cost: int, returned_at: datetime | None = None
) -> tuple[FifoStock, int]:
    """Put returned units back at `unit_cost` (normally the cost they were sold at).

    A return is physical stock like a receipt, so it settles outstanding backorders first and
    otherwise becomes the newest layer."""
    return receive(stock, quantity, unit_cost, returned_at)


def consume(stock: FifoStock, quantity: int) -> tuple[FifoStock, int]:
    """Take `quantity` units, oldest layers first. Returns the new state and the COGS; units beyond
    the layers become `unvalued_backorder` at cost 0 until a receipt settles them."""
    _positive(quantity)
    wanted = quantity
    cost = 0
    layers = list(stock.layers)
    while wanted and layers:
        oldest = layers[0]
        taken = min(wanted, oldest.quantity)
        cost += taken * oldest.unit_cost
        wanted -= taken
        if taken == oldest.quantity:
            layers.pop(0)
        else:
            layers[0] = CostLayer(oldest.seq, oldest.quantity - taken, oldest.unit_cost, oldest.received_at)
    return FifoStock(tuple(layers), stock.unvalued_backorder + wanted, stock.next_seq), cost


def stock_value(stock: FifoStock) -> int:
    """Value of the units in stock (backordered units have no value)."""
    return sum(layer.value for layer in stock.layers)
