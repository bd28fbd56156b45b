"""Use cases: count an event into the aggregates; build, store and announce a day's report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cloudtill.clock import Clock
from cloudtill.reporting import outputs
from cloudtill.reporting.aggregates import (
    AggregateUpdate,
    Change,
    StockLevel,
    StockThreshold,
    days_back,
    plan,
)
from cloudtill.reporting.events import report_ready
from cloudtill.reporting.kpis import WINDOW_DAYS, build_report
from cloudtill.reporting.ports import AggregateStore, ReportEvents, ReportStore
from cloudtill.settings import ShopSettings


def count_event(store: AggregateStore, raw: dict[str, Any], timezone: str) -> bool:
    """Apply one event to the aggregates; False when it changed nothing (duplicate, stale, not counted)."""
    change = plan(raw, timezone)
    if isinstance(change, AggregateUpdate):
        return store.apply(change)
    if isinstance(change, StockLevel):
        return store.apply_stock_level(change)
    if isinstance(change, StockThreshold):
        return store.apply_stock_threshold(change)
    return False


def count_events(
    store: AggregateStore, raws: Sequence[dict[str, Any]], timezone: str
) -> list[bool | Exception]:
    """Apply a batch of events: per event, whether it changed something, or why it could not be counted
    (the queue redelivers it). Counters go in one transaction per group of events (the store merges
    them); a group that cannot commit, because it holds an event already counted for instance, is
    applied one by one, so duplicates are skipped and the others still count."""
    results: list[bool | Exception | None] = [None] * len(raws)
    batched: list[tuple[int, AggregateUpdate | StockLevel]] = []
    first_of: dict[str, int] = {}  # event id -> first index in this batch (the queue may repeat one)
    newest: dict[str, tuple[int, StockLevel]] = {}  # SKU -> its newest movement in this batch
    copies: dict[int, int] = {}  # index -> index whose result it takes
    for index, raw in enumerate(raws):
        try:
            change = plan(raw, timezone)
        except Exception as error:
            results[index] = error
            continue
        if isinstance(change, AggregateUpdate):
            if change.event_id in first_of:
                copies[index] = first_of[change.event_id]
                continue
            first_of[change.event_id] = index
            batched.append((index, change))
        elif isinstance(change, StockLevel):
            # Only the newest movement of a SKU can change the stored level: the others are superseded.
            held = newest.get(change.sku)
            if held is None or held[1].movement_id < change.movement_id:
                if held is not None:
                    results[held[0]] = False
                newest[change.sku] = (index, change)
            else:
                results[index] = False
        else:
            results[index] = _count_alone(store, change)
    batched.extend(newest.values())
    if batched:
        applied = store.apply_batch([change for _, change in batched])
        for (index, change), result in zip(batched, applied, strict=True):
            results[index] = result if result is not None else _count_alone(store, change)
    for index, original in copies.items():
        found = results[original]
        # A repeat counts nothing itself; it fails with the original so the event is not lost.
        results[index] = found if isinstance(found, Exception) else False
    return [False if r is None else r for r in results]


def _count_alone(store: AggregateStore, change: Change | None) -> bool | Exception:
    try:
        if isinstance(change, AggregateUpdate):
            return store.apply(change)
        if isinstance(change, StockLevel):
            return store.apply_stock_level(change)
        if isinstance(change, StockThreshold):
            return store.apply_stock_threshold(change)
        return False
    except Exception as error:
        return error


def previous_local_day(moment: datetime, timezone: str) -> str:
    """The day before `moment`'s local day: the nightly run at 02:00 reports yesterday."""
    from zoneinfo import ZoneInfo

    return (moment.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class ReportResult:
    date: str
    keys: dict[str, str]
    content_sha256: str
    report: dict[str, Any]


@dataclass
class ReportTemplate:
    html: str
    chart_js: str


class ReportService:
    def __init__(
        self,
        *,
        aggregates: AggregateStore,
        store: ReportStore,
        events: ReportEvents,
        shop: ShopSettings,
        template: ReportTemplate,
        clock: Clock,
    ) -> None:
        self._aggregates = aggregates
        self._store = store
        self._events = events
        self._shop = shop
        self._template = template
        self._clock = clock

    def build(self, day: str) -> dict[str, Any]:
        """The report data of `day` (reads aggregates only: the day's and the 29 before)."""
        date.fromisoformat(day)  # a bad date is the caller's bug: validated at the edge
        window = self._aggregates.read_days(days_back(day, WINDOW_DAYS))
        stock = self._aggregates.stock_snapshot(day)
        return build_report(
            day, timezone=self._shop.timezone, currency=self._shop.currency, window=window, stock=stock
        )

    def run(self, day: str) -> ReportResult:
        """Build `day`'s report, write its files (same keys, same bytes on a re-run) and announce it."""
        report = self.build(day)
        keys = outputs.report_keys(day)
        report["files"] = keys
        files = {
            "json": (outputs.report_json(report), "application/json"),
            "skus_csv": (outputs.skus_csv(report), "text/csv; charset=utf-8"),
            "order_lines_csv": (
                outputs.order_lines_csv(self._aggregates.order_lines(day)),
                "text/csv; charset=utf-8",
            ),
            "html": (
                outputs.report_html(
                    report,
                    template=self._template.html,
                    chart_js=self._template.chart_js,
                    locale=self._shop.locale,
                ),
                "text/html; charset=utf-8",
            ),
        }
        for name, (body, content_type) in files.items():
            self._store.put(keys[name], body, content_type)
        content = outputs.digest(*(body for body, _ in files.values()))
        self._events.publish(report_ready(report, keys, content, self._clock.now()))
        return ReportResult(day, keys, content, report)

    def get(self, day: str) -> dict[str, Any] | None:
        import json

        body = self._store.get(outputs.report_keys(day)["json"])
        return None if body is None else json.loads(body)
