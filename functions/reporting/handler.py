"""Reporting code: one entry point per trigger, each its own function in the wiring (docs/reporting.md).

- `queue_handler` (bus rule `reporting-aggregates` -> queue): each domain event is counted into the
  daily aggregates once (by its event id); a record that failed is reported in `batchItemFailures`.
- `schedule_handler` (`nightly-report`: `{"schedule": ..., "time": ...}`, optional `"date"`): builds
  the report of the day before `time` in the shop's time zone (or of `date`).
- `api_handler`: `POST /admin/reports/{date}` builds a day's report now; `GET /admin/reports/{date}`
  returns its report.json.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.batch import handle_sqs_batch
from cloudtill.clock import SystemClock
from cloudtill.errors import FieldError, NotFound, ValidationFailed
from cloudtill.observability import logger, metrics
from cloudtill.reporting.aggregates import UnusableEvent
from cloudtill.reporting.dynamo import DynamoAggregateStore, OutboxReportEvents
from cloudtill.reporting.s3 import S3ReportStore
from cloudtill.reporting.service import ReportService, ReportTemplate, count_events, previous_local_day
from cloudtill.reporting.settings import ReportingSettings
from cloudtill.settings import get_settings
from pydantic import BaseModel

TEMPLATES_DIR = FilePath(__file__).resolve().parent / "templates"

settings = get_settings()
reporting_settings = ReportingSettings()  # type: ignore[call-arg]  # from the environment
app = create_app()

ReportDate = Annotated[str, Path(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Local day, YYYY-MM-DD")]


class ReportRun(BaseModel):
    date: str
    keys: dict[str, str]
    content_sha256: str
    summary: dict[str, Any]


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
    )


def valid_day(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.for_field("date", "not a calendar date (YYYY-MM-DD)") from None
    return value


def run_report(day: str) -> ReportRun:
    result = reports().run(day)
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


@app.post("/admin/reports/<date>", summary="Build a day's report now (overwrites its files)", tags=["admin"])
def post_report(date: ReportDate) -> ReportRun:
    return run_report(valid_day(date))


@app.get("/admin/reports/<date>", summary="A day's report (report.json)", tags=["admin"])
def get_report(date: ReportDate) -> dict[str, Any]:
    found = reports().get(valid_day(date))
    if found is None:
        raise NotFound(f"No report for {date} yet.", [FieldError("date", "no report for this day yet")])
    return found


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
    return run_report(day).model_dump()


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
