"""The local tooling is discoverable: `GET /_local/schedules` lists what `POST /_local/schedules/{name}/run`
accepts (an unknown name is a problem+json 404 listing them), `make report` (scripts/report.py) prints a
local URL that serves the report's HTML, the report names every SKU (also one stocked but never sold),
and `GET /_local/emails` shows subjects decoded."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
from cloudtill import ddb, keys

from infra.wiring import SCHEDULES
from tests.integration.conftest import ROOT, RunningBackend
from tests.integration.orders_support import create_checkout, pay, stocked_sku, wait_for, wait_for_order_id
from tests.integration.stock_helpers import TABLE, dynamodb

NAMES_DAY = "2032-05-17"  # a day no other test reports on, so its stock snapshot is taken here


def test_schedules_are_listed_and_an_unknown_one_is_a_problem(api: httpx.Client) -> None:
    listed = api.get("/_local/schedules")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {(s["name"], s["function"], s["expression"]) for s in items} == {
        (s.name, s.function, s.cron) for s in SCHEDULES
    }
    assert all(s["run"] == f"POST /_local/schedules/{s['name']}/run" for s in items)
    unknown = api.post("/_local/schedules/nightly-reprot/run", json={})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    problem = unknown.json()
    assert problem["status"] == 404 and "nightly-reprot" in problem["detail"]
    assert sorted(problem["schedules"]) == sorted(s.name for s in SCHEDULES)
    assert all(s.name in problem["detail"] for s in SCHEDULES)
    ran = api.post("/_local/schedules/release-expired-checkouts/run", json={})
    assert ran.status_code == 200, ran.text
    garbled = api.post("/_local/schedules/release-expired-checkouts/run", content=b"{nope")
    assert garbled.status_code == 422 and garbled.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_make_report_prints_a_local_url_of_the_html(backend: RunningBackend, api: httpx.Client) -> None:
    day = datetime.now(UTC).date().isoformat()
    done = subprocess.run(
        [sys.executable, "scripts/report.py", "--date", day, "--base-url", backend.base_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    urls = re.findall(r"(http://127\.0\.0\.1:\d+/\S+\.html)", done.stdout)
    assert urls, done.stdout
    page = httpx.get(urls[0], timeout=30)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower() and day in page.text
    missing = api.get("/_local/reports/1999-01-01/report.html")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_the_report_names_every_sku(backend: RunningBackend, admin: httpx.Client, unique: str) -> None:
    # Given a SKU received into stock and never sold, its level counted by the reporting consumer
    sku = stocked_sku(backend, admin, unique, 4)
    pk, sk = keys.stock_level(sku)

    def level() -> dict[str, Any]:
        item = dynamodb(backend.aws_endpoint).get_item(TableName=TABLE, Key=ddb.key(pk, sk)).get("Item")
        return ddb.from_item(item) if item else {}

    wait_for(level, lambda item: "on_hand" in item, "the SKU's stock level in the aggregates")

    # When a report is built
    built = admin.post(f"/admin/reports/{NAMES_DAY}")
    assert built.status_code == 200, built.text
    report = admin.get(f"/admin/reports/{NAMES_DAY}")
    assert report.status_code == 200, report.text

    # Then every row has a name, the unsold SKU its product's and variant's
    rows = report.json()["skus"]
    assert [r["sku"] for r in rows if not r["name"]] == []
    [row] = [r for r in rows if r["sku"] == sku]
    assert (row["name"], row["units_30d"], row["on_hand"]) == (f"Checkout test {unique} - A", 0, 4)


def test_email_subjects_are_decoded(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 3)
    checkout = create_checkout(api, (sku, 1))
    pay(api, checkout)
    order_id = wait_for_order_id(api, checkout)
    refunded = admin.post(f"/admin/orders/{order_id}/refunds", json={"amount": 150})
    assert refunded.status_code == 202, refunded.text

    def refund_mails() -> list[dict[str, str]]:
        items = api.get("/_local/emails", params={"recipient": "shopper@example.com"}).json()["items"]
        return [m for m in items if "We refunded" in (m["text"] or "") and order_id in (m["text"] or "")]

    [mail] = wait_for(refund_mails, bool, "the refund e-mail")[:1]
    assert mail["subject"].startswith("We refunded ") and "€" in mail["subject"], mail["subject"]
    assert "=?" not in mail["subject"]
    assert mail["headers"]["Subject"] == mail["subject"]
