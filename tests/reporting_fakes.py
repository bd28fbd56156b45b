"""In-memory fakes of the reporting ports (same contract as cloudtill.reporting.dynamo / s3).

Kept apart from tests/fakes.py only to stay out of other engineers' concurrent edits; same style.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from cloudtill.outbox import DomainEvent
from cloudtill.reporting.aggregates import AggregateUpdate, StockLevel, StockThreshold, merge_updates
from cloudtill.reporting.customers import CustomerState
from cloudtill.reporting.insights import CohortCell, SpendRow
from cloudtill.reporting.kpis import DayAggregates, StockRow


class InMemoryAggregateStore:
    """Counts items returned by reads in `items_read` (one per totals/SKU/stock/order-lines item)."""

    def __init__(self) -> None:
        self.applied: set[str] = set()
        self.totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.skus: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self.names: dict[str, dict[str, str]] = defaultdict(dict)
        self.lines: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.customers: dict[str, CustomerState] = {}
        self.taxes: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self.cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.spend: dict[tuple[str, str], SpendRow] = {}
        self.stock: dict[str, dict[str, Any]] = {}
        self.snapshots: dict[str, list[StockRow]] = {}
        self.items_read = 0
        self.batches = 0

    def apply(self, update: AggregateUpdate) -> bool:
        if update.event_id in self.applied:
            return False
        self.applied.add(update.event_id)
        who = update.customer.email_hash if update.customer else None
        merged = merge_updates([update], {who: self.customers.get(who)} if who else {})
        for day, counters in merged.totals.items():
            for name, delta in counters.items():
                self.totals[day][name] += delta
        for (day, sku), counters in merged.skus.items():
            for name, delta in counters.items():
                self.skus[day][sku][name] += delta
        for (day, country), counters in merged.taxes.items():
            for name, delta in counters.items():
                self.taxes[day][country][name] += delta
        for cell, counters in merged.cells.items():
            for name, delta in counters.items():
                self.cells[cell][name] += delta
        self.names[update.day].update(update.sku_names)
        if update.order_lines is not None:
            self.lines[update.day][update.order_lines["order_id"]] = update.order_lines
        for who_, write in merged.markers.items():
            self.customers[who_] = write.state
        return True

    def apply_batch(self, changes: Sequence[AggregateUpdate | StockLevel]) -> list[bool | None]:
        """As the DynamoDB adapter: all in one go, or none when one event was already counted."""
        self.batches += 1
        if any(isinstance(c, AggregateUpdate) and c.event_id in self.applied for c in changes):
            return [None] * len(changes)
        return [
            self.apply(c) if isinstance(c, AggregateUpdate) else self.apply_stock_level(c) for c in changes
        ]

    def apply_stock_level(self, level: StockLevel) -> bool:
        stored = self.stock.get(level.sku, {})
        if stored.get("movement_id", "") >= level.movement_id:
            return False
        stored.update(
            sku=level.sku,
            movement_id=level.movement_id,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=level.available,
            value=level.value,
        )
        if level.name:
            stored["name"] = level.name
        self.stock[level.sku] = stored
        return True

    def apply_stock_threshold(self, threshold: StockThreshold) -> bool:
        stored = self.stock.setdefault(threshold.sku, {"sku": threshold.sku})
        if stored.get("low_stock_threshold") == threshold.low_stock_threshold:
            return False
        self.stock.setdefault(threshold.sku, {"sku": threshold.sku})["low_stock_threshold"] = (
            threshold.low_stock_threshold
        )
        return True

    def read_days(self, days: Sequence[str]) -> list[DayAggregates]:
        found = []
        for day in days:
            if day not in self.totals and day not in self.skus and day not in self.taxes:
                continue
            totals = dict(self.totals.get(day, {}))
            skus = {s: dict(c) for s, c in self.skus.get(day, {}).items()}
            taxes = {c: dict(v) for c, v in self.taxes.get(day, {}).items()}
            self.items_read += (1 if totals else 0) + len(skus) + len(taxes)
            found.append(DayAggregates(day, totals, skus, dict(self.names.get(day, {})), taxes))
        return found

    def cohort_cells(self) -> list[CohortCell]:
        self.items_read += len(self.cells)
        return [CohortCell(c, m, dict(v)) for (c, m), v in sorted(self.cells.items())]

    def marketing_spend(self, first: str, last: str) -> list[SpendRow]:
        rows = [row for (day, _), row in sorted(self.spend.items()) if first <= day <= last]
        self.items_read += len(rows)
        return rows

    def put_marketing_spend(self, row: SpendRow) -> None:
        self.spend[(row.date, row.channel)] = row

    def stock_snapshot(self, day: str) -> list[StockRow]:
        self.items_read += 1
        if day not in self.snapshots:
            rows = [StockRow.from_dict(s) for s in self.stock.values() if "on_hand" in s]
            self.items_read += len(rows)
            self.snapshots[day] = sorted(rows, key=lambda r: r.sku)
        return list(self.snapshots[day])

    def order_lines(self, day: str) -> list[dict[str, Any]]:
        self.items_read += len(self.lines.get(day, {}))
        # By confirmation time, as the adapter's sort key (`ORDER#<confirmed_at>#<order id>`).
        return sorted(self.lines.get(day, {}).values(), key=lambda o: (o["confirmed_at"], o["order_id"]))


class InMemoryReportStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.puts = 0

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.puts += 1
        self.objects[key] = (body, content_type)

    def get(self, key: str) -> bytes | None:
        found = self.objects.get(key)
        return None if found is None else found[0]


class InMemoryReportEvents:
    """The outbox: one event per id (a conditional put), as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.events: dict[str, DomainEvent] = {}

    def publish(self, event: DomainEvent) -> None:
        self.events.setdefault(event.id, event)
