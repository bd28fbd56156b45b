"""The reporting domain's event: ReportReady (schema events/schemas/ReportReady.json)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from cloudtill.outbox import DomainEvent

DOMAIN = "reporting"
# A fixed namespace: the ReportReady of a given day and content has one id, so a re-run that
# rewrites the same files does not make consumers (the ops email) act again.
_EVENT_NAMESPACE = uuid.UUID("6f0f3a52-61a4-4f7e-9a55-3c1f1d2b7e90")


def report_ready(
    report: dict[str, Any],
    keys: dict[str, str],
    digest: str,
    time: datetime,
    periods: dict[str, dict[str, str]] | None = None,
) -> DomainEvent:
    """`periods`: the week's and month's reports (to date) the nightly run wrote with the day's."""
    kpis = report["kpis"]
    detail = {
        "date": report["date"],
        "timezone": report["timezone"],
        "currency": report["currency"],
        "summary": {
            "orders": kpis["orders"],
            "total_sales": kpis["total_sales"],
            "net_sales": kpis["net_sales"],
            "refunds": kpis["refunds"]["amount"],
            "average_order_value": kpis["average_order_value"],
            "units_sold": kpis["units_sold"],
            "low_stock_skus": len(report["stock"]["low_stock"]),
            "gross_margin": report["margin"]["day"]["gross_margin"],
            "new_customers": report["customers"]["new"],
        },
        "bucket_key": keys["json"],
        "html_key": keys["html"],
        "keys": keys,
        "content_sha256": digest,
        **({"periods": periods} if periods else {}),
    }
    event_id = str(uuid.uuid5(_EVENT_NAMESPACE, f"{report['date']}#{digest}"))
    return DomainEvent("ReportReady", DOMAIN, detail, time, id=event_id)
