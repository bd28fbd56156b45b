"""The report page in headless Chromium: self-contained (no network), the five charts (trend with
gross margin, top products, ABC, acquisition, the cohort heat map) drawn, no console errors. Saves a
screenshot as a build artifact: artifacts/report.png."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cloudtill.reporting import outputs
from cloudtill.reporting.insights import SpendRow
from cloudtill.reporting.kpis import build_report, report_days
from cloudtill.reporting.service import count_event

from tests.reporting_fakes import InMemoryAggregateStore
from tests.reporting_scenario import MARGIN_SPEND, REPORT_DAY, TIMEZONE, margin_scenario, scenario

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "functions" / "reporting" / "templates"
ARTIFACT = ROOT / "artifacts" / "report.png"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `make install` (installs Debian's chromium package)")
    return found


def scenario_page(tmp_path: Path) -> Path:
    store = InMemoryAggregateStore()
    events = scenario()
    for event in events["orders"] + events["other"] + events["stock"] + margin_scenario():
        count_event(store, event, TIMEZONE)
    spend = [SpendRow(day, channel, amount, "EUR") for day, channel, amount in MARGIN_SPEND]
    report = build_report(
        REPORT_DAY,
        timezone=TIMEZONE,
        currency="EUR",
        window=store.read_days(report_days(REPORT_DAY)),
        stock=store.stock_snapshot(REPORT_DAY),
        cells=store.cohort_cells(),
        spend=spend,
    )
    page = outputs.report_html(
        report,
        template=(TEMPLATES / "report.html").read_text(),
        chart_js=(TEMPLATES / "chart.umd.min.js").read_text(),
        locale="en_IE",
    )
    path = tmp_path / "report.html"
    path.write_bytes(page)
    return path


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_report_page_draws_its_charts_without_errors(tmp_path: Path) -> None:
    page = scenario_page(tmp_path)
    html = page.read_text()
    # Self-contained: the library is inlined, nothing is fetched.
    assert "Chart.js v4.5.1" in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)

    dumped = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dumped.stdout)
    assert body is not None, dumped.stdout[:500]
    assert 'data-charts-rendered="5"' in body.group(0), body.group(0)
    for section in ('id="margin"', 'id="tax"', 'id="cohorts"', 'id="acquisition"', 'id="products"'):
        assert section in dumped.stdout
    assert 'data-errors=""' in body.group(0), body.group(0)
    console_errors = [
        line
        for line in dumped.stderr.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)
    ]
    assert console_errors == []

    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.unlink(missing_ok=True)
    shot = run_chromium(tmp_path, f"--screenshot={ARTIFACT}", "--window-size=1280,3200", page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert ARTIFACT.stat().st_size > 10_000


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    report = build_report(REPORT_DAY, timezone=TIMEZONE, currency="EUR", window=[], stock=[])
    report["skus"] = []
    report["top_products"]["by_revenue"] = [
        {"sku": "X", "name": "<script>alert(1)</script>", "units": 1, "revenue": 100}
    ]
    page = outputs.report_html(
        report,
        template=(TEMPLATES / "report.html").read_text(),
        chart_js=(TEMPLATES / "chart.umd.min.js").read_text(),
        locale="en_IE",
    ).decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
