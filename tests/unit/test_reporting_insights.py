"""Margin, tax by country, customers and CLV, cohorts and acquisition cost against a hand-computed
scenario (tests/reporting_scenario.py `margin_scenario`), whatever the delivery order; period reports
rolled up from the daily aggregates."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from cloudtill.reporting.insights import SpendRow
from cloudtill.reporting.periods import parse_period, periods_of
from cloudtill.reporting.service import ReportService, ReportTemplate, count_event, count_events
from cloudtill.settings import ShopSettings

from tests.reporting_fakes import InMemoryAggregateStore, InMemoryReportEvents, InMemoryReportStore
from tests.reporting_scenario import (
    EXPECTED_ACQUISITION,
    EXPECTED_COHORTS,
    EXPECTED_CUSTOMERS,
    EXPECTED_MARGIN,
    EXPECTED_TAX_COUNTRIES,
    MARGIN_SPEND,
    REPORT_DAY,
    ROOT,
    TIMEZONE,
    _plain_order,
    margin_scenario,
)


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 7, 16, 1, 0, tzinfo=UTC)


def service(store: InMemoryAggregateStore) -> tuple[ReportService, InMemoryReportStore, InMemoryReportEvents]:
    files, events = InMemoryReportStore(), InMemoryReportEvents()
    shop = ShopSettings(currency="EUR", timezone=TIMEZONE, locale="en_IE")
    template = ReportTemplate(html="{{ report.date }}", chart_js="")
    clock = FixedClock()
    return (
        ReportService(
            aggregates=store, store=files, events=events, shop=shop, template=template, clock=clock
        ),
        files,
        events,
    )


def seeded(events: list[dict[str, Any]], *, batched: bool = False) -> InMemoryAggregateStore:
    store = InMemoryAggregateStore()
    if batched:
        count_events(store, events, TIMEZONE)
    else:
        for event in events:
            count_event(store, event, TIMEZONE)
    for day, channel, amount in MARGIN_SPEND:
        store.put_marketing_spend(SpendRow(day, channel, amount, "EUR"))
    return store


def report(store: InMemoryAggregateStore, day: str = REPORT_DAY) -> dict[str, Any]:
    return service(store)[0].build(day)


def test_margin_scenario_events_follow_their_schemas() -> None:
    for event in margin_scenario():
        schema = json.loads((ROOT / "events" / "schemas" / f"{event['detail_type']}.json").read_text())
        jsonschema.validate(event["detail"], schema)


def test_margin_tax_customers_cohorts_and_acquisition_match_the_hand_computed_figures() -> None:
    built = report(seeded(margin_scenario()))

    assert built["margin"] == EXPECTED_MARGIN
    assert built["tax"]["countries"] == EXPECTED_TAX_COUNTRIES
    assert built["tax"]["total"] == {
        "collected": 1030,
        "refunded": 570,
        "net": 460,
        "collected_mtd": 1030,
        "refunded_mtd": 570,
        "net_mtd": 460,
    }
    customers = built["customers"]
    method = customers["clv"].pop("method")
    assert customers == EXPECTED_CUSTOMERS
    assert "lifespan" in method and "36 months" in method
    assert built["cohorts"] == EXPECTED_COHORTS
    assert built["acquisition"] == EXPECTED_ACQUISITION
    rows = {row["sku"]: row for row in built["skus"]}
    # WIDGET: 2 sold at 1000 from two layers (400 + 600); 30 days add J2 (1000 - 400)
    assert {k: rows["WIDGET"][k] for k in ("net_revenue", "cogs", "gross_margin", "gross_margin_30d")} == {
        "net_revenue": 2000,
        "cogs": 1000,
        "gross_margin": 1000,
        "gross_margin_30d": 1600,
    }
    # GADGET: sold and restocked the same day, so its cost is reversed
    assert (rows["GADGET"]["cogs"], rows["GADGET"]["units_returned"]) == (0, 1)
    trend = {d["date"]: d for d in built["trend"]}
    assert trend[REPORT_DAY]["gross_margin"] == 1000
    assert trend["2026-06-20"]["gross_margin"] == 1000 - 400


@pytest.mark.parametrize("seed", range(8))
def test_shuffled_delivery_gives_the_same_report(seed: int) -> None:
    expected = report(seeded(margin_scenario()))
    events = margin_scenario()
    random.Random(seed).shuffle(events)

    assert report(seeded(events)) == expected
    assert report(seeded(events, batched=True)) == expected


def test_redelivered_events_change_nothing() -> None:
    events = margin_scenario()
    store = seeded(events)
    before = report(store)

    assert [count_event(store, event, TIMEZONE) for event in events] == [False] * len(events)
    assert report(store) == before


def test_periods_are_days_iso_weeks_and_months() -> None:
    week = parse_period("2026-W29")
    assert (week.kind, week.days[0], week.last) == ("week", "2026-07-13", "2026-07-19")
    month = parse_period("2026-02")
    assert (month.kind, len(month.days)) == ("month", 28)
    assert parse_period(REPORT_DAY).keys()["json"] == "reports/2026/07/15/report.json"
    assert week.keys()["html"] == "reports/weekly/2026-W29/report.html"
    for bad in ("2026-13", "2026-W54", "2026-02-30", "yesterday"):
        with pytest.raises(ValueError):
            parse_period(bad)
    weekly, monthly = periods_of(REPORT_DAY)
    assert (weekly.days[-1], monthly.days[0], monthly.days[-1]) == (REPORT_DAY, "2026-07-01", REPORT_DAY)


def test_week_and_month_reports_are_the_sums_of_their_days() -> None:
    store = seeded(margin_scenario())
    reports, files, events = service(store)
    month = reports.run_period(parse_period("2026-06"))
    june = month.report
    # J1 and J2: 2 orders, 2420 sales, 420 tax, cost 800
    assert (june["kind"], june["kpis"]["orders"], june["kpis"]["total_sales"]) == ("month", 2, 2420)
    assert june["margin"]["day"] == {
        "revenue": 2000,
        "cogs": 800,
        "gross_margin": 1200,
        "gross_margin_bps": 6000,
    }
    assert june["customers"]["new"] == 2
    assert {c["country"]: c["collected"] for c in june["tax"]["countries"]} == {"DE": 190, "IE": 230}
    assert "reports/monthly/2026-06/report.json" in files.objects
    assert not events.events  # announced by the daily report that links it

    nightly = reports.nightly(REPORT_DAY)
    [ready] = events.events.values()
    assert ready.detail["periods"]["week"] == {
        "label": "2026-W29",
        "json": "reports/weekly/2026-W29/report.json",
        "html": "reports/weekly/2026-W29/report.html",
    }
    assert ready.detail["periods"]["month"]["label"] == "2026-07"
    assert nightly.report["kpis"]["orders"] == 2
    schema = json.loads((ROOT / "events" / "schemas" / "ReportReady.json").read_text())
    jsonschema.validate({**ready.detail, "event_id": "6f0f3a52-61a4-4f7e-9a55-3c1f1d2b7e90"}, schema)
    week = json.loads(files.objects["reports/weekly/2026-W29/report.json"][0])
    assert week["days"] == {"from": "2026-07-13", "to": REPORT_DAY}
    assert week["margin"]["day"] == EXPECTED_MARGIN["day"]


def test_report_reads_do_not_grow_with_orders_or_customers() -> None:
    def reads(customers: int, orders_each: int) -> int:
        store = InMemoryAggregateStore()
        events = [
            _plain_order(
                f"R{n}-{k}",
                f"2026-0{6 + k % 2}-1{k % 2}T10:00:{k % 60:02d}.000Z",
                f"c{n}@example.com",
                "IE",
                "WIDGET",
                1,
                1000,
                2300,
                400,
                None,
            )
            for n in range(customers)
            for k in range(orders_each)
        ]
        count_events(store, events, TIMEZONE)
        store.items_read = 0
        service(store)[0].build(REPORT_DAY)
        return store.items_read

    base = reads(5, 2)
    assert reads(50, 2) == base  # 10x customers
    assert reads(5, 20) == base  # 10x orders
