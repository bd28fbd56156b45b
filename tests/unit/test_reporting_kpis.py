"""Reporting, pure: events (built from the schemas' samples) -> aggregates -> the day's KPIs."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cloudtill.reporting.aggregates import UnusableEvent, local_day, parse_time, plan
from cloudtill.reporting.kpis import DayAggregates, StockRow, abc_classes, build_report, days_of_cover
from cloudtill.reporting.service import count_event, previous_local_day

from tests.reporting_fakes import InMemoryAggregateStore
from tests.reporting_scenario import (
    EXPECTED_ABC,
    EXPECTED_ABC_CLASSES,
    EXPECTED_KPIS,
    REPORT_DAY,
    ROOT,
    TIMEZONE,
    expected_low_stock,
    expected_top,
    scenario,
)


def schema(detail_type: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / "schemas" / f"{detail_type}.json").read_text())


def all_events(events: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return events["orders"] + events["other"] + events["stock"] + events["late_stock"]


def seeded(events: list[dict[str, Any]]) -> InMemoryAggregateStore:
    store = InMemoryAggregateStore()
    for event in events:
        count_event(store, event, TIMEZONE)
    return store


def report_of(store: InMemoryAggregateStore, day: str = REPORT_DAY) -> dict[str, Any]:
    from cloudtill.reporting.aggregates import days_back

    return build_report(
        day,
        timezone=TIMEZONE,
        currency="EUR",
        window=store.read_days(days_back(day, 30)),
        stock=store.stock_snapshot(day),
    )


def test_scenario_events_follow_their_schemas() -> None:
    for event in all_events(scenario()):
        jsonschema.validate(event["detail"], schema(event["detail_type"]))


def test_seeded_day_matches_the_hand_computed_kpis() -> None:
    # Given the scenario's events, counted in the order they happened
    report = report_of(seeded(all_events(scenario())))

    # Then every KPI of the day is what was computed by hand
    assert report["kpis"] == EXPECTED_KPIS
    assert report["top_products"] == expected_top()
    assert report["abc"]["classes"] == EXPECTED_ABC_CLASSES
    assert {row["sku"]: row["abc_class"] for row in report["skus"]} == EXPECTED_ABC
    assert report["stock"]["low_stock"] == expected_low_stock()
    assert report["stock"]["value"] == 3000 + 20000 + 1200  # TEE's late, older movement is ignored
    assert report["period"] == {"start": "2026-07-14T23:00:00.000Z", "end": "2026-07-15T23:00:00.000Z"}


def test_trend_covers_30_days_ending_with_the_report_day() -> None:
    trend = report_of(seeded(all_events(scenario())))["trend"]

    assert len(trend) == 30
    assert (trend[0]["date"], trend[-1]["date"]) == ("2026-06-16", REPORT_DAY)
    by_day = {d["date"]: d for d in trend}
    assert by_day["2026-07-01"]["orders"] == 1
    assert by_day["2026-07-14"] == {
        "date": "2026-07-14",
        "orders": 1,
        "total_sales": 4495,
        "refunds": 0,
        "net_sales": 4495,
        "units_sold": 2,
        "gross_margin": 4495 - 841,  # no cost of goods recorded in this scenario
    }
    assert by_day[REPORT_DAY]["net_sales"] == 6000
    assert sum(d["orders"] for d in trend) == 6  # E is on 07-16


def test_any_delivery_order_gives_the_same_report() -> None:
    # Given the same events delivered shuffled (B before A: ann's later order first)
    events = all_events(scenario())
    expected = report_of(seeded(events))
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)

    # Then new/returning customers and stock levels still come out the same
    assert report_of(seeded(shuffled)) == expected


def test_redelivered_events_change_nothing() -> None:
    events = all_events(scenario())
    store = seeded(events)
    before = report_of(store, REPORT_DAY)

    # When every event arrives again (at-least-once delivery)
    changed = [count_event(store, event, TIMEZONE) for event in events]

    # Then none is counted twice
    assert not any(changed)
    assert report_of(store, REPORT_DAY) == before


def test_day_is_the_shops_local_day() -> None:
    assert local_day(parse_time("2026-07-14T22:59:59.999Z"), "Europe/Dublin") == "2026-07-14"
    assert local_day(parse_time("2026-07-14T23:00:00.000Z"), "Europe/Dublin") == "2026-07-15"
    assert local_day(parse_time("2026-11-23T23:30:00.000Z"), "Europe/Dublin") == "2026-11-23"  # winter: UTC
    assert local_day(parse_time("2026-11-23T23:30:00.000Z"), "Europe/Berlin") == "2026-11-24"


def test_nightly_run_reports_the_previous_local_day() -> None:
    # 02:00 in Dublin in summer is 01:00 UTC
    assert previous_local_day(parse_time("2026-07-16T01:00:00Z"), "Europe/Dublin") == "2026-07-15"
    assert previous_local_day(parse_time("2026-07-15T23:30:00Z"), "Europe/Dublin") == "2026-07-15"


def test_earlier_order_arriving_late_moves_the_new_customer() -> None:
    from cloudtill.reporting.customers import CustomerOrder, CustomerState, FirstOrder, order_deltas

    later = CustomerState(
        FirstOrder("ord_b", "2026-07-15T10:00:00.000Z", "2026-07-15"), months=(("2026-07", 1, 0),)
    )
    earlier = CustomerOrder("h", "ord_a", "2026-07-14T10:00:00.000Z", "2026-07-14")
    state, deltas = order_deltas(later, earlier)
    assert deltas.days == {
        "2026-07-14": {"new_customers": 1, "acquired#unattributed": 1},
        "2026-07-15": {"new_customers": -1, "returning_customers": 1, "repeat_customers": 1},
    }
    assert state.first == FirstOrder("ord_a", "2026-07-14T10:00:00.000Z", "2026-07-14")


def test_abc_puts_the_sku_crossing_80_percent_in_a() -> None:
    assert abc_classes({"X": 90, "Y": 6, "Z": 4}) == {"X": "A", "Y": "B", "Z": "C"}
    assert abc_classes({"X": 50, "Y": 40, "Z": 10}) == {"X": "A", "Y": "A", "Z": "B"}
    assert abc_classes({"X": 0}) == {"X": "C"}
    assert abc_classes({}) == {}


def test_days_of_cover() -> None:
    assert days_of_cover(available=10, units_in_window=60) == 5.0  # 2 a day
    assert days_of_cover(available=1, units_in_window=7) == 4.3
    assert days_of_cover(available=5, units_in_window=0) is None  # no sales: unbounded
    assert days_of_cover(available=-2, units_in_window=30) == 0.0


def test_empty_day_has_no_ratios_and_no_average() -> None:
    report = build_report(REPORT_DAY, timezone=TIMEZONE, currency="EUR", window=[], stock=[])
    kpis = report["kpis"]
    assert kpis["orders"] == 0
    assert kpis["average_order_value"] is None
    assert kpis["checkouts"]["conversion_rate"] is None
    assert kpis["payments"]["failure_rate"] is None
    assert report["top_products"] == {"by_revenue": [], "by_units": []}
    assert len(report["trend"]) == 30


def test_top_products_are_capped_at_ten() -> None:
    skus = {f"S{n:02d}": {"units": n, "revenue": 100 * (30 - n), "orders": 1} for n in range(1, 16)}
    report = build_report(
        REPORT_DAY, timezone=TIMEZONE, currency="EUR", window=[DayAggregates(REPORT_DAY, {}, skus)], stock=[]
    )
    assert [p["sku"] for p in report["top_products"]["by_revenue"]] == [f"S{n:02d}" for n in range(1, 11)]
    assert [p["sku"] for p in report["top_products"]["by_units"]] == [f"S{n:02d}" for n in range(15, 5, -1)]


def test_stock_row_low_only_with_a_known_threshold() -> None:
    assert StockRow("A", 3, 0, 3, 0, 5).low
    assert not StockRow("A", 3, 0, 3, 0, None).low
    assert StockRow("A", 0, 0, 0, 0, 0).low


def test_malformed_event_is_reported_not_counted() -> None:
    with pytest.raises(UnusableEvent):
        plan(
            {"detail-type": "OrderConfirmed", "detail": {"event_id": "x"}, "time": "2026-07-15T10:00:00Z"},
            TIMEZONE,
        )
    with pytest.raises(UnusableEvent):
        plan({"nothing": True}, TIMEZONE)


def test_eventbridge_shape_is_understood() -> None:
    # What the SQS message body carries: EventBridge's `detail-type`; the outbox id dedupes.
    event = scenario()["other"][1]
    bridged = {
        "id": "eb-id",
        "detail-type": event["detail_type"],
        "time": "2026-07-15T12:00:05Z",
        "detail": event["detail"],
    }
    change = plan(bridged, TIMEZONE)
    assert change is not None and change.event_id == event["detail"]["event_id"]


def test_unknown_detail_types_are_ignored() -> None:
    assert (
        plan(
            {"detail-type": "OrderShipped", "detail": {"event_id": "x"}, "time": "2026-07-15T10:00:00Z"},
            TIMEZONE,
        )
        is None
    )


def test_reporting_files_are_in_the_repo() -> None:
    assert (ROOT / "functions" / "reporting" / "templates" / "report.html").is_file()
    assert Path(ROOT / "functions" / "reporting" / "templates" / "chart.umd.min.js").stat().st_size < 300_000


def test_returns_count_on_the_return_day_and_refund_money_only_from_refund_issued() -> None:
    from tests.reporting_scenario import envelope

    returned = envelope(
        "OrderReturned",
        "2026-07-15T10:00:00.000Z",
        lines=[{"sku": "TEE-BLK-M", "quantity": 1}],
        refund_amount=2000,
        returned_at="2026-07-15T10:00:00.000Z",
    )
    jsonschema.validate(returned["detail"], schema("OrderReturned"))
    store = seeded([returned])
    kpis = report_of(store)["kpis"]
    assert kpis["returns"] == {"count": 1, "units": 1}
    assert kpis["refunds"] == {"count": 0, "amount": 0}  # the RefundIssued brings the money
    [row] = report_of(store)["skus"]
    assert (row["sku"], row["units_returned"], row["units"]) == ("TEE-BLK-M", 1, 0)
