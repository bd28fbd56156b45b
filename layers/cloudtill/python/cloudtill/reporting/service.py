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
    plan,
)
from cloudtill.reporting.events import report_ready
from cloudtill.reporting.insights import DEFAULT_MAX_LIFESPAN_MONTHS, SpendRow
from cloudtill.reporting.kpis import build_report, report_days
from cloudtill.reporting.periods import Period, parse_period, periods_of
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
        max_lifespan_months: int = DEFAULT_MAX_LIFESPAN_MONTHS,
    ) -> None:
        self._aggregates = aggregates
        self._store = store
        self._events = events
        self._shop = shop
        self._template = template
        self._clock = clock
        self._max_lifespan = max_lifespan_months

    def build(self, day: str, period: Period | None = None) -> dict[str, Any]:
        """The report data of `day`, or of `period` ending with `day`. Reads aggregates only: the
        days of `report_days`, the cohort cells, the window's marketing spend, the stock snapshot."""
        date.fromisoformat(day)  # a bad date is the caller's bug: validated at the edge
        period = period or parse_period(day)
        days = report_days(day, period.days)
        window = self._aggregates.read_days(days)
        stock = self._aggregates.stock_snapshot(day)
        return build_report(
            day,
            timezone=self._shop.timezone,
            currency=self._shop.currency,
            window=window,
            stock=stock,
            cells=self._aggregates.cohort_cells(),
            spend=self._aggregates.marketing_spend(days[0], days[-1]),
            period_days=period.days,
            kind=period.kind,
            max_lifespan_months=self._max_lifespan,
        )

    def run(self, day: str, links: dict[str, dict[str, str]] | None = None) -> ReportResult:
        """Build `day`'s report, write its files (same keys, same bytes on a re-run) and announce it
        (with `links` to the week's and month's reports when the nightly run wrote them)."""
        report = self.build(day)
        keys = outputs.report_keys(day)
        report["files"] = keys
        lines = outputs.order_lines_csv(self._aggregates.order_lines(day))
        content = self._write(report, keys, {"order_lines_csv": (lines, "text/csv; charset=utf-8")})
        self._events.publish(report_ready(report, keys, content, self._clock.now(), links))
        return ReportResult(day, keys, content, report)

    def run_period(self, period: Period) -> ReportResult:
        """Write a week's or a month's report (to date when it is still running); announced by the
        daily ReportReady that links it."""
        if period.kind == "day":
            return self.run(period.label)
        report = self.build(period.last, period)
        report["label"] = period.label
        keys = period.keys()
        report["files"] = keys
        content = self._write(report, keys, {})
        return ReportResult(period.label, keys, content, report)

    def nightly(self, day: str) -> ReportResult:
        """The schedule: the week and the month of `day` to date, then the day linking them."""
        links = {}
        for period in periods_of(day):
            written = self.run_period(period)
            links[period.kind] = {
                "label": period.label,
                "json": written.keys["json"],
                "html": written.keys["html"],
            }
        return self.run(day, links)

    def _write(
        self, report: dict[str, Any], keys: dict[str, str], extra: dict[str, tuple[bytes, str]]
    ) -> str:
        files = {
            "json": (outputs.report_json(report), "application/json"),
            "skus_csv": (outputs.skus_csv(report), "text/csv; charset=utf-8"),
            "tax_csv": (outputs.tax_csv(report), "text/csv; charset=utf-8"),
            **extra,
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
        return outputs.digest(*(body for body, _ in files.values()))

    def get(self, label: str) -> dict[str, Any] | None:
        import json

        body = self._store.get(parse_period(label).keys()["json"])
        return None if body is None else json.loads(body)

    def record_spend(self, row: SpendRow) -> SpendRow:
        """Idempotent per day and channel: the latest amount recorded for them is the spend."""
        self._aggregates.put_marketing_spend(row)
        return row

    def list_spend(self, first: str, last: str) -> list[SpendRow]:
        return self._aggregates.marketing_spend(first, last)
