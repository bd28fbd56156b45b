"""Reporting end to end: scenario events committed as outbox items travel the real path (stream ->
publisher -> bus -> rule -> queue -> reporting consumer), the admin route builds the day's report, and
report.json in (moto) S3 holds the hand-computed KPIs. Re-runs and redelivered events change nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import jsonschema
from cloudtill import ddb
from cloudtill.outbox import DomainEvent, outbox_item

from tests.integration.conftest import RunningBackend
from tests.reporting_scenario import (
    EXPECTED_ABC_CLASSES,
    EXPECTED_KPIS,
    REPORT_DAY,
    expected_low_stock,
    expected_top,
    margin_scenario,
    scenario,
)

ROOT = Path(__file__).resolve().parents[2]
TABLE = "cloudtill-main"
BUCKET = "cloudtill-reports"


def aws(backend: RunningBackend, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=backend.aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def commit(backend: RunningBackend, events: list[dict[str, Any]]) -> None:
    """Stand-in for the domains' transactions: commit each event's outbox item."""
    client = aws(backend, "dynamodb")
    for envelope in events:
        detail = {k: v for k, v in envelope["detail"].items() if k != "event_id"}
        event = DomainEvent(
            detail_type=envelope["detail_type"],
            domain=envelope["source"].removeprefix("cloudtill."),
            detail=detail,
            time=datetime.fromisoformat(envelope["time"].replace("Z", "+00:00")),
            id=envelope["id"],
        )
        client.put_item(TableName=TABLE, Item=ddb.to_item(outbox_item(event)))


def eventually(check: Callable[[], bool], seconds: float = 40) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return check()


def counted(backend: RunningBackend, event_ids: list[str]) -> bool:
    client = aws(backend, "dynamodb")
    keys = [ddb.key(f"AGG#EVENT#{i}", "APPLIED") for i in event_ids]
    found = 0
    for start in range(0, len(keys), 100):
        response = client.batch_get_item(RequestItems={TABLE: {"Keys": keys[start : start + 100]}})
        found += len(response["Responses"][TABLE])
    return found == len(event_ids)


def stock_movement(backend: RunningBackend, sku: str) -> str | None:
    item = (
        aws(backend, "dynamodb").get_item(TableName=TABLE, Key=ddb.key("AGG#STOCK", f"SKU#{sku}")).get("Item")
    )
    return None if item is None else ddb.from_item(item).get("movement_id")


def queue_drained(api: httpx.Client) -> bool:
    depths = api.get("/_local/queues").json()
    return depths["reporting-aggregates"] == 0


def on_the_bus(api: httpx.Client, envelope: dict[str, Any]) -> int:
    """How often the bus carried this scenario event (`GET /_local/events`: EventBridge's archive)."""
    items = api.get("/_local/events", params={"detail_type": envelope["detail_type"]}).json()["items"]
    return sum(1 for item in items if item["detail"].get("event_id") == envelope["detail"]["event_id"])


def report_ready_events(backend: RunningBackend, day: str) -> list[dict[str, Any]]:
    client = aws(backend, "dynamodb")
    items, start = [], None
    while True:
        page = client.scan(
            TableName=TABLE,
            FilterExpression="detail_type = :t",
            ExpressionAttributeValues=ddb.to_values({":t": "ReportReady"}),
            **({"ExclusiveStartKey": start} if start else {}),
        )
        items += [ddb.from_item(i) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return [i for i in items if i["detail"]["date"] == day]


def test_seeded_day_through_the_event_path_gives_the_hand_computed_report(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    suffix = f"-{unique.upper()}"
    events = scenario(suffix)
    counted_ids = [e["id"] for e in events["orders"] + events["other"] if not _ignored(e)]

    # Given the day's events committed through the outbox (stock levels last, then an older one late)
    commit(backend, events["orders"] + events["other"] + events["stock"])
    assert eventually(lambda: counted(backend, counted_ids)), "events were not all counted"
    assert eventually(lambda: stock_movement(backend, f"TEE-BLK-M{suffix}") == "000000000005")
    assert eventually(lambda: stock_movement(backend, f"CAP-RED{suffix}") == "000000000007")
    commit(backend, events["late_stock"])

    # ... and some events delivered a second time by the bus (at-least-once)
    redelivered = [events["orders"][3], events["other"][1]]  # order B and C's refund
    aws(backend, "events").put_events(
        Entries=[
            {
                "EventBusName": "cloudtill",
                "Source": e["source"],
                "DetailType": e["detail_type"],
                "Detail": json.dumps(e["detail"]),
            }
            for e in redelivered
        ]
    )
    # Routed to the reporting queue once the bus has them (its archive shows each a second time).
    assert eventually(lambda: all(on_the_bus(api, e) >= 2 for e in redelivered))
    assert eventually(lambda: queue_drained(api))

    # When ops run the day's report
    run = admin.post(f"/admin/reports/{REPORT_DAY}")
    assert run.status_code == 200, run.text
    keys = run.json()["keys"]
    assert keys["json"] == "reports/2026/07/15/report.json"

    # Then report.json in S3 holds the hand-computed KPIs
    s3 = aws(backend, "s3")
    stored = s3.get_object(Bucket=BUCKET, Key=keys["json"])["Body"].read()
    report = json.loads(stored)
    assert report["kpis"] == EXPECTED_KPIS
    assert report["top_products"] == expected_top(suffix)
    assert report["abc"]["classes"] == EXPECTED_ABC_CLASSES
    assert [s for s in report["stock"]["low_stock"] if s["sku"].endswith(suffix)] == expected_low_stock(
        suffix
    )
    assert admin.get(f"/admin/reports/{REPORT_DAY}").json() == report
    for name in ("skus_csv", "order_lines_csv", "html"):
        assert s3.head_object(Bucket=BUCKET, Key=keys[name])["ContentLength"] > 0
    lines_csv = s3.get_object(Bucket=BUCKET, Key=keys["order_lines_csv"])["Body"].read().decode()
    assert len(lines_csv.strip().splitlines()) == 1 + 4  # header + B (2 lines), C, D

    # ... announced once with ReportReady (schema-valid)
    schema = json.loads((ROOT / "events" / "schemas" / "ReportReady.json").read_text())
    ready = report_ready_events(backend, REPORT_DAY)
    assert len(ready) == 1
    jsonschema.validate(ready[0]["detail"], schema)
    assert ready[0]["detail"]["bucket_key"] == keys["json"]

    # When it runs again (nightly schedule for the same day) nothing changes: same bytes, no new event
    bodies = {k: s3.get_object(Bucket=BUCKET, Key=v)["Body"].read() for k, v in keys.items()}
    again = api.post("/_local/schedules/nightly-report/run", json={"date": REPORT_DAY})
    assert again.status_code == 200, again.text
    assert again.json()["result"]["content_sha256"] == run.json()["content_sha256"]
    assert {k: s3.get_object(Bucket=BUCKET, Key=v)["Body"].read() for k, v in keys.items()} == bodies
    assert len(report_ready_events(backend, REPORT_DAY)) == 1


def test_fifo_margin_through_the_event_path_and_the_nightly_period_reports(
    backend: RunningBackend, api: httpx.Client, unique: str
) -> None:
    # Given the margin scenario's events (two FIFO layers, a return that restocks) through the outbox
    suffix = f"-{unique.upper()}"
    events = margin_scenario(suffix)
    commit(backend, events)
    assert eventually(lambda: counted(backend, [e["id"] for e in events])), "events were not all counted"

    # When the nightly schedule runs for the day
    run = api.post("/_local/schedules/nightly-report/run", json={"date": REPORT_DAY})
    assert run.status_code == 200, run.text

    # Then the products carry the hand-computed FIFO margin (other tests' SKUs share the day)
    s3 = aws(backend, "s3")
    report = json.loads(s3.get_object(Bucket=BUCKET, Key="reports/2026/07/15/report.json")["Body"].read())
    rows = {row["sku"]: row for row in report["skus"]}
    widget, gadget = rows[f"WIDGET{suffix}"], rows[f"GADGET{suffix}"]
    assert (widget["net_revenue"], widget["cogs"], widget["gross_margin"]) == (2000, 1000, 1000)
    assert widget["gross_margin_30d"] == 1600
    assert (gadget["net_revenue"], gadget["cogs"], gadget["units_returned"]) == (3000, 0, 1)
    # ... the week and the month to date were written from the same aggregates, and announced
    for key in ("reports/weekly/2026-W29/report.json", "reports/monthly/2026-07/report.html"):
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0
    ready = [r for r in report_ready_events(backend, REPORT_DAY) if r["detail"].get("periods")]
    assert ready, "the nightly ReportReady lists the period reports"
    assert ready[-1]["detail"]["periods"]["month"]["html"] == "reports/monthly/2026-07/report.html"


def test_report_routes_validate_the_date(admin: httpx.Client, api: httpx.Client) -> None:
    for bad in ("2026-02-30", "2026-7-1"):
        response = admin.post(f"/admin/reports/{bad}")
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert any("date" in str(e.get("field", "")) for e in response.json()["errors"])
    missing = admin.get("/admin/reports/1999-01-01")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "date"
    assert api.get(f"/admin/reports/{REPORT_DAY}").status_code in (401, 403)


def _ignored(envelope: dict[str, Any]) -> bool:
    """Events the aggregates do not count (no dedupe marker): expired StockReleased."""
    return envelope["detail_type"] == "StockReleased" and envelope["detail"]["reason"] == "expired"
