"""The stock domain's data-access ports. `dynamo.py` implements them; unit tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cloudtill.outbox import DomainEvent
from cloudtill.stock.rules import MovementRecord, StockChange, StockState


@dataclass(frozen=True, slots=True)
class StockCounters:
    """The SKU item's counters exactly as stored (nothing derived), for reconciliation."""

    sku: str
    on_hand: int
    reserved: int
    available: int
    backorder_limit: int
    fifo_quantity: int | None  # None when the item has no FIFO layers stored yet
    version: int


class StaleStock(Exception):
    """The SKU item changed between read and write (a condition failed): read again and retry."""


class StockRepository(Protocol):
    def get(self, sku: str) -> StockState | None:
        """The SKU's stock (strongly consistent read); None when no such SKU exists."""

    def save(self, change: StockChange, events: Sequence[DomainEvent]) -> None:
        """Write `change.after` (and its ledger movement, if any) and `events` in one transaction,
        provided the SKU item still holds `change.before`. Raises StaleStock otherwise."""

    def list_movements(
        self, sku: str, limit: int, cursor: str | None
    ) -> tuple[list[MovementRecord], str | None]:
        """A page of the SKU's ledger, newest first, and the cursor of the next page."""


class ReservationLedger(Protocol):
    """What reconciliation reads: the SKU items' counters and the held reservations."""

    def stock_counters(self, sku: str) -> StockCounters | None:
        """The SKU item's stored counters; None for an unknown SKU."""

    def held_quantity(self, sku: str) -> int:
        """Sum of `quantity` over the SKU's reservations that are still held."""

    def all_skus(self) -> list[str]:
        """Every SKU code in the table."""
