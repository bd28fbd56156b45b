"""Ports of the reporting domain: the aggregates store, the report store (S3), the event outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cloudtill.outbox import DomainEvent
from cloudtill.reporting.aggregates import AggregateUpdate, StockLevel, StockThreshold
from cloudtill.reporting.insights import CohortCell, SpendRow
from cloudtill.reporting.kpis import DayAggregates, StockRow


class AggregateStore(Protocol):
    def apply(self, update: AggregateUpdate) -> bool:
        """Count `update` once: False when its event was already counted (nothing changes)."""

    def apply_batch(self, changes: Sequence[AggregateUpdate | StockLevel]) -> list[bool | None]:
        """Apply many changes in as few round trips as possible, each event counted once: per change,
        what `apply` / `apply_stock_level` would return, or None when it was not applied here (a
        redelivered event or a failure in its group): the caller then applies it alone."""

    def apply_stock_level(self, level: StockLevel) -> bool:
        """Record the level when newer (by movement id) than the stored one."""

    def apply_stock_threshold(self, threshold: StockThreshold) -> bool:
        """Record the threshold a StockLow named; False when it was already recorded."""

    def read_days(self, days: Sequence[str]) -> list[DayAggregates]:
        """The aggregates of each day (days without any are left out)."""

    def stock_snapshot(self, day: str) -> list[StockRow]:
        """The stock levels recorded for `day`'s report: taken (from the latest levels) by the first
        call for that day and returned unchanged afterwards, so re-runs print the same stock."""

    def order_lines(self, day: str) -> list[dict[str, Any]]:
        """The day's orders with their lines, by confirmation time (one item per order)."""

    def cohort_cells(self) -> list[CohortCell]:
        """Every cohort cell (one partition: O(months²), whatever the customers)."""

    def marketing_spend(self, first: str, last: str) -> list[SpendRow]:
        """The spend recorded for the days `first` to `last`, by day and channel."""

    def put_marketing_spend(self, row: SpendRow) -> None:
        """Record (or replace) the spend of `row`'s day and channel."""


class ReportStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class ReportEvents(Protocol):
    def publish(self, event: DomainEvent) -> None:
        """Record `event` in the outbox (the stream publishes it)."""
