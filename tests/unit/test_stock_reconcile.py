"""Reconciliation of the SKU items' counters against held reservations (pure, fake reader)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cloudtill.errors import NotFound
from cloudtill.stock.ports import StockCounters
from cloudtill.stock.reconcile import reconcile

CLEAN = StockCounters(
    sku="A", on_hand=10, reserved=3, available=9, backorder_limit=2, fifo_quantity=10, version=4
)


class FakeLedger:
    def __init__(self, counters: dict[str, StockCounters], held: dict[str, int]) -> None:
        self.counters = counters
        self.held = held
        self.reads = 0
        self.on_held_read: list[StockCounters] = []

    def stock_counters(self, sku: str) -> StockCounters | None:
        self.reads += 1
        return self.counters.get(sku)

    def held_quantity(self, sku: str) -> int:
        if self.on_held_read:  # a checkout commits between our two reads of the SKU item
            self.counters[sku] = self.on_held_read.pop(0)
        return self.held.get(sku, 0)

    def all_skus(self) -> list[str]:
        return sorted(self.counters)


def test_consistent_counters_are_ok() -> None:
    result = reconcile(FakeLedger({"A": CLEAN}, {"A": 3}), ["A"])
    assert (result.ok, result.checked, result.discrepancies) == (True, 1, [])


def test_a_leaked_reservation_is_reported() -> None:
    # reserved says 3 but only 1 unit is held by a reservation: 2 units are locked forever
    result = reconcile(FakeLedger({"A": CLEAN}, {"A": 1}), None)
    assert not result.ok
    [found] = result.discrepancies
    assert (found.sku, found.check, found.expected, found.actual) == ("A", "reserved", 1, 3)


def test_a_wrong_available_mirror_and_fifo_are_reported() -> None:
    broken = replace(CLEAN, available=8, fifo_quantity=11)
    result = reconcile(FakeLedger({"A": broken}, {"A": 3}), ["A"])
    assert [(d.check, d.expected, d.actual) for d in result.discrepancies] == [
        ("available", 9, 8),
        ("fifo", 10, 11),
    ]


def test_every_sku_is_checked_when_none_is_named() -> None:
    ledger = FakeLedger({"A": CLEAN, "B": replace(CLEAN, sku="B", reserved=0, available=12)}, {"A": 3})
    result = reconcile(ledger, None)
    assert (result.ok, result.checked) == (True, 2)


def test_a_race_with_a_reservation_is_rechecked_not_reported() -> None:
    # Between reading the SKU item (reserved 3) and summing reservations, a checkout reserved 2 more.
    ledger = FakeLedger({"A": CLEAN}, {"A": 5})
    ledger.on_held_read = [replace(CLEAN, reserved=5, available=7, version=4)]
    result = reconcile(ledger, ["A"])
    assert result.ok


def test_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(NotFound) as missing:
        reconcile(FakeLedger({}, {}), ["NOPE"])
    assert missing.value.errors[0].field == "sku"
