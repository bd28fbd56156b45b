"""Reporting code: one entry point per trigger, each its own function in the wiring (docs/reporting.md).

- `queue_handler` (bus rule `reporting-aggregates` -> queue): each domain event is counted into the
  daily aggregates once (by its event id); a record that failed is reported in `batchItemFailures`.
- `schedule_handler` (`nightly-report`: `{"schedule": ..., "time": ...}`, optional `"date"`): builds
  the report of the day before `time` in the shop's time zone (or of `date`).
- `api_handler`: `POST /admin/reports/{period}` builds a day's (YYYY-MM-DD), an ISO week's (YYYY-Www)
  or a month's (YYYY-MM) report now; `GET /admin/reports/{period}` returns its report.json;
  `POST`/`GET /admin/marketing-spend` records and lists marketing spend.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.batch import handle_sqs_batch
from cloudtill.clock import SystemClock
from cloudtill.errors import FieldError, NotFound, ValidationFailed
from cloudtill.observability import logger, metrics
from cloudtill.reporting.aggregates import UnusableEvent
from cloudtill.reporting.api import Day, MarketingSpendIn, MarketingSpendList, MarketingSpendOut, ReportRun
from cloudtill.reporting.dynamo import DynamoAggregateStore, OutboxReportEvents
from cloudtill.reporting.insights import SpendRow
from cloudtill.reporting.periods import PERIOD_PATTERN, parse_period
from cloudtill.reporting.s3 import S3ReportStore
from cloudtill.reporting.service import ReportService, ReportTemplate, count_events, previous_local_day
from cloudtill.reporting.settings import ReportingSettings
from cloudtill.settings import get_settings

TEMPLATES_DIR = FilePath(__file__).resolve().parent / "templates"

settings = get_settings()
reporting_settings = ReportingSettings()  # type: ignore[call-arg]  # from the environment
app = create_app()

ReportPeriod = Annotated[
    str,
    Path(
        pattern=PERIOD_PATTERN, description="A local day YYYY-MM-DD, an ISO week YYYY-Www or a month YYYY-MM"
    ),
]


@functools.cache
def aggregates() -> DynamoAggregateStore:
    return DynamoAggregateStore(settings.table_name)


@functools.cache
def reports() -> ReportService:
    return ReportService(
        aggregates=aggregates(),
        store=S3ReportStore(reporting_settings.reports_bucket),
        events=OutboxReportEvents(settings.table_name),
        shop=settings.shop_settings,
        template=ReportTemplate(
            html=(TEMPLATES_DIR / "report.html").read_text(),
            chart_js=(TEMPLATES_DIR / "chart.umd.min.js").read_text(),
        ),
        clock=SystemClock(),
        max_lifespan_months=reporting_settings.clv_max_lifespan_months,
    )


def valid_day(value: str, field: str = "date") -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.for_field(field, "not a calendar date (YYYY-MM-DD)") from None
    return value


def valid_period(value: str) -> str:
    try:
        parse_period(value)
    except ValueError:
        raise ValidationFailed.for_field("date", "not a calendar day, ISO week or month") from None
    return value


def run_report(day: str, *, nightly: bool = False) -> ReportRun:
    period = parse_period(day)
    if period.kind != "day":
        result = reports().run_period(period)
    else:
        result = reports().nightly(day) if nightly else reports().run(day)
    kpis = result.report["kpis"]
    logger.info(
        "report written",
        extra={
            "date": day,
            "key": result.keys["json"],
            "orders": kpis["orders"],
            "sha256": result.content_sha256,
        },
    )
    metrics.add_metric(name="ReportsWritten", unit="Count", value=1)
    summary = {
        "orders": kpis["orders"],
        "total_sales": kpis["total_sales"],
        "net_sales": kpis["net_sales"],
        "refunds": kpis["refunds"]["amount"],
    }
    return ReportRun(date=day, keys=result.keys, content_sha256=result.content_sha256, summary=summary)


@app.post("/admin/reports/<date>", summary="Build a day's, week's or month's report now", tags=["admin"])
def post_report(date: ReportPeriod) -> ReportRun:
    return run_report(valid_period(date))


@app.get("/admin/reports/<date>", summary="A day's, week's or month's report (report.json)", tags=["admin"])
def get_report(date: ReportPeriod) -> dict[str, Any]:
    found = reports().get(valid_period(date))
    if found is None:
        raise NotFound(f"No report for {date} yet.", [FieldError("date", "no report for this period yet")])
    return found


@app.post("/admin/marketing-spend", summary="Record a day's spend on a channel (replaces it)", tags=["admin"])
def post_marketing_spend(body: MarketingSpendIn) -> MarketingSpendOut:
    if body.currency != settings.shop_settings.currency:
        raise ValidationFailed.for_field(
            "currency", f"must be the shop's currency {settings.shop_settings.currency}"
        )
    row = reports().record_spend(SpendRow(body.date, body.channel, body.amount, body.currency))
    return MarketingSpendOut(**row.to_dict())


@app.get("/admin/marketing-spend", summary="Marketing spend by day and channel", tags=["admin"])
def list_marketing_spend(
    from_: Annotated[Day, Query(alias="from")], to: Annotated[Day, Query()]
) -> MarketingSpendList:
    first, last = valid_day(from_, "from"), valid_day(to, "to")
    if last < first or date.fromisoformat(last).toordinal() - date.fromisoformat(first).toordinal() > 366:
        raise ValidationFailed.for_field("to", "on or after `from`, at most 366 days later")
    return MarketingSpendList(
        items=[MarketingSpendOut(**r.to_dict()) for r in reports().list_spend(first, last)]
    )


def handle_queue_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    # The whole batch at once: one transaction per group of events (docs/reporting.md).
    batch = handle_sqs_batch(
        records,
        json.loads,
        lambda events: count_events(aggregates(), events, settings.shop_settings.timezone),
    )
    counted = 0
    for handled in batch.handled:
        outcome = handled.outcome
        if isinstance(outcome, Exception):
            extra = {"message_id": handled.message_id}
            if isinstance(outcome, (UnusableEvent, ValueError)):
                # Not a countable event: retrying cannot help; after 3 receives the DLQ keeps it.
                logger.error("unusable event", extra=extra, exc_info=outcome)
            else:
                logger.error(
                    "aggregate update failed; the queue redelivers it", extra=extra, exc_info=outcome
                )
        else:
            counted += outcome
    metrics.add_metric(name="EventsAggregated", unit="Count", value=counted)
    return batch.response()


def handle_schedule(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("date"):
        day = valid_day(str(event["date"]))
    else:
        due = datetime.fromisoformat(
            str(event.get("time") or datetime.now(UTC).isoformat()).replace("Z", "+00:00")
        )
        day = previous_local_day(due, settings.shop_settings.timezone)
    return run_report(day, nightly=True).model_dump()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)


@logger.inject_lambda_context
@metrics.log_metrics
def queue_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The `reporting-aggregates` subscription's queue."""
    return handle_queue_records(event.get("Records", []))


@logger.inject_lambda_context
@metrics.log_metrics
def schedule_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The `nightly-report` schedule."""
    return handle_schedule(event)
