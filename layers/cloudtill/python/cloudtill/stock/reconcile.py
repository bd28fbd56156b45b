"""Reconciliation: do the SKU items' counters agree with the reservations and with each other?

For each SKU:
* ``reserved``  == sum of `quantity` over its held reservation items (GSI2 ``HELD#<sku>``): a
  difference means a reservation leaked (units locked forever) or was released twice;
* ``available`` == ``on_hand + backorder_limit - reserved`` (the stored mirror the checkout's
  condition relies on);
* the FIFO layers hold ``on_hand`` units (when the item has layers stored).

The SKU item and its reservations cannot be read atomically together, so each SKU is read, its
reservations summed, and the item read again: if the item changed meanwhile, the SKU is checked
again (a few times) instead of reporting a race as a leak. In AWS, GSI reads are eventually
consistent: a discrepancy reported right after a write should be confirmed by a second run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from cloudtill.errors import FieldError, NotFound
from cloudtill.stock.api import Discrepancy, ReconciliationOut
from cloudtill.stock.ports import ReservationLedger, StockCounters

STABLE_READ_ATTEMPTS = 3
Check = Literal["reserved", "available", "fifo"]


def check_counters(counters: StockCounters, held: int) -> list[Discrepancy]:
    """The discrepancies of one SKU given the sum of its held reservations (pure)."""
    expected_available = counters.on_hand + counters.backorder_limit - counters.reserved
    checks: list[tuple[Check, int, int | None, str]] = [
        (
            "reserved",
            held,
            counters.reserved,
            f"reserved is {counters.reserved} but held reservations add up to {held}",
        ),
        (
            "available",
            expected_available,
            counters.available,
            "available is not on_hand + backorder_limit - reserved",
        ),
        ("fifo", counters.on_hand, counters.fifo_quantity, "the FIFO cost layers do not hold on_hand units"),
    ]
    found = [
        Discrepancy(sku=counters.sku, check=check, expected=expected, actual=actual, detail=detail)
        for check, expected, actual, detail in checks
        if actual is not None and actual != expected
    ]
    return found


def _reconcile_one(ledger: ReservationLedger, sku: str) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    for _ in range(STABLE_READ_ATTEMPTS):
        counters = ledger.stock_counters(sku)
        if counters is None:
            raise NotFound(f"No SKU {sku}.", [FieldError("sku", f"{sku} does not exist")])
        held = ledger.held_quantity(sku)
        found = check_counters(counters, held)
        if not found or ledger.stock_counters(sku) == counters:
            return found
    return found


def reconcile(ledger: ReservationLedger, skus: Sequence[str] | None = None) -> ReconciliationOut:
    """Check the given SKUs (every SKU in the table when None). An unknown SKU given -> NotFound."""
    targets = list(dict.fromkeys(skus)) if skus else ledger.all_skus()
    discrepancies = [d for sku in targets for d in _reconcile_one(ledger, sku)]
    return ReconciliationOut(ok=not discrepancies, checked=len(targets), discrepancies=discrepancies)
