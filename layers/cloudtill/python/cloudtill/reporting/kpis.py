"""Pure KPI computation from the daily aggregates (no I/O). Definitions: docs/reporting.md.

Amounts are integer minor units of the shop's currency; ratios are fractions rounded to 4 places
(None when the denominator is 0). The result is plain JSON data, identical for identical input,
so a re-run of a day writes byte-identical files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cloudtill.clock import iso
from cloudtill.money import round_half_up
from cloudtill.reporting import insights
from cloudtill.reporting.aggregates import SKU_COUNTERS, TOTAL_COUNTERS

SCHEMA_VERSION = 2
WINDOW_DAYS = 30
TOP_N = 10
# ABC: SKUs whose revenue starts within the first 80 % of the window's revenue are A, next 15 % B.
ABC_A_PERCENT = 80
ABC_B_PERCENT = 95


@dataclass(frozen=True)
class DayAggregates:
    """One day's counters: `TOTALS` and one entry per SKU sold or returned that day."""

    day: str
    totals: Mapping[str, int] = field(default_factory=dict)
    skus: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    sku_names: Mapping[str, str] = field(default_factory=dict)
    taxes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return int(self.totals.get(name, 0))


def _summed(into: dict[str, int], counters: Mapping[str, int]) -> None:
    for name, value in counters.items():
        into[name] = into.get(name, 0) + int(value)


def combine(label: str, aggregates: Sequence[DayAggregates]) -> DayAggregates:
    """The sum of several days' aggregates (a week, a month, a window): counters add up; the latest
    day's SKU names win (`aggregates` oldest first)."""
    totals: dict[str, int] = {}
    skus: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    taxes: dict[str, dict[str, int]] = {}
    for agg in aggregates:
        _summed(totals, agg.totals)
        for sku, counters in agg.skus.items():
            _summed(skus.setdefault(sku, {}), counters)
        for country, counters in agg.taxes.items():
            _summed(taxes.setdefault(country, {}), counters)
        names.update(agg.sku_names)
    return DayAggregates(label, totals, skus, names, taxes)


@dataclass(frozen=True)
class StockRow:
    """A SKU's stock level (latest StockAdjusted), the threshold its last StockLow named and the name
    the stock events gave it (the report's name of a SKU not sold in the window)."""

    sku: str
    on_hand: int
    reserved: int
    available: int
    value: int
    low_stock_threshold: int | None = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "value": self.value,
            "low_stock_threshold": self.low_stock_threshold,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StockRow:
        threshold = data.get("low_stock_threshold")
        return cls(
            sku=str(data["sku"]),
            on_hand=int(data["on_hand"]),
            reserved=int(data["reserved"]),
            available=int(data["available"]),
            value=int(data["value"]),
            low_stock_threshold=None if threshold is None else int(threshold),
            name=str(data.get("name") or ""),
        )

    @property
    def low(self) -> bool:
        return self.low_stock_threshold is not None and self.available <= self.low_stock_threshold


def ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(numerator / denominator, 4)


def day_period(day: str, timezone: str, last: str | None = None) -> dict[str, str]:
    """The report's days (`day` to `last`) as a UTC interval [start, end) in the shop's time zone
    (23/25 h days at DST changes)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(date.fromisoformat(day), time(0), tzinfo=zone)
    end = datetime.combine(date.fromisoformat(last or day) + timedelta(days=1), time(0), tzinfo=zone)
    return {"start": iso(start), "end": iso(end)}


def report_days(day: str, period_days: Sequence[str] | None = None) -> list[str]:
    """Every day a report ending with `day` reads: its period, the 30-day window, the month to date."""
    first = date.fromisoformat(day)
    window = {(first - timedelta(days=n)).isoformat() for n in range(WINDOW_DAYS)}
    month = {(first.replace(day=n)).isoformat() for n in range(1, first.day + 1)}
    return sorted(window | month | set(period_days or ()))


def day_kpis(agg: DayAggregates) -> dict[str, Any]:
    t = agg.total
    orders, total_sales, refunds_amount = t("orders"), t("total_sales"), t("refunds_amount")
    attempts = t("payments_succeeded") + t("payments_failed")
    return {
        "orders": orders,
        "gross_sales": t("gross_sales"),
        "discounts": t("discounts"),
        "shipping": t("shipping"),
        "tax": t("tax"),
        "total_sales": total_sales,
        "refunds": {"count": t("refunds"), "amount": refunds_amount},
        "net_sales": total_sales - refunds_amount,
        "average_order_value": round_half_up(total_sales, orders) if orders else None,
        "units_sold": t("units_sold"),
        "promo_orders": t("promo_orders"),
        "cancelled_orders": t("cancelled_orders"),
        "returns": {"count": t("returns"), "units": t("units_returned")},
        "customers": {"new": t("new_customers"), "returning": t("returning_customers")},
        "checkouts": {
            "created": t("checkouts_created"),
            "expired": t("checkouts_expired"),
            "cancelled": t("checkouts_cancelled"),
            "conversion_rate": ratio(orders, t("checkouts_created")),
        },
        "payments": {
            "succeeded": t("payments_succeeded"),
            "failed": t("payments_failed"),
            "failure_rate": ratio(t("payments_failed"), attempts),
        },
    }


def abc_classes(revenue_by_sku: Mapping[str, int]) -> dict[str, str]:
    """A/B/C by revenue share: sorted by revenue (then SKU), a SKU is A while the revenue before it is
    below 80 % of the total, B below 95 %, else C. So the SKU crossing 80 % is still A. No revenue: C."""
    total = sum(max(v, 0) for v in revenue_by_sku.values())
    classes: dict[str, str] = {}
    before = 0
    for sku, revenue in sorted(revenue_by_sku.items(), key=lambda kv: (-kv[1], kv[0])):
        if total <= 0 or revenue <= 0:
            classes[sku] = "C"
            continue
        if before * 100 < ABC_A_PERCENT * total:
            classes[sku] = "A"
        elif before * 100 < ABC_B_PERCENT * total:
            classes[sku] = "B"
        else:
            classes[sku] = "C"
        before += revenue
    return classes


def days_of_cover(available: int, units_in_window: int, window_days: int = WINDOW_DAYS) -> float | None:
    """Days the units buyable now last at the window's average daily sales (one decimal); None: no sales."""
    if units_in_window <= 0:
        return None
    return round_half_up(max(available, 0) * window_days * 10, units_in_window) / 10


def build_report(
    day: str,
    *,
    timezone: str,
    currency: str,
    window: Sequence[DayAggregates],
    stock: Sequence[StockRow],
    cells: Sequence[insights.CohortCell] = (),
    spend: Sequence[insights.SpendRow] = (),
    period_days: Sequence[str] | None = None,
    kind: str = "day",
    max_lifespan_months: int = insights.DEFAULT_MAX_LIFESPAN_MONTHS,
) -> dict[str, Any]:
    """The report of the period ending with `day` (the day itself unless `period_days` names a week
    or a month) from the daily aggregates in `window` (`report_days`; missing days count 0): the
    period's figures are the sum of its days, never re-read from orders."""
    by_day = {agg.day: agg for agg in window}
    period = list(period_days or [day])
    today = combine(day, [by_day[d] for d in period if d in by_day])
    first = date.fromisoformat(day) - timedelta(days=WINDOW_DAYS - 1)
    days = [(first + timedelta(days=n)).isoformat() for n in range(WINDOW_DAYS)]
    last_30 = combine(day, [by_day[d] for d in days if d in by_day])
    month_days = [d for d in report_days(day) if d[:7] == day[:7] and d <= day]
    month = combine(day, [by_day[d] for d in month_days if d in by_day])

    names: dict[str, str] = {}
    units_30: dict[str, int] = {}
    revenue_30: dict[str, int] = {}
    for d in days:  # oldest first: the latest name wins
        agg = by_day.get(d)
        if agg is None:
            continue
        names.update(agg.sku_names)
        for sku, counters in agg.skus.items():
            units_30[sku] = units_30.get(sku, 0) + int(counters.get("units", 0))
            revenue_30[sku] = revenue_30.get(sku, 0) + int(counters.get("revenue", 0))
    classes = abc_classes(revenue_30)
    stock_by_sku = {row.sku: row for row in stock}

    all_skus = sorted(set(today.skus) | set(revenue_30) | set(stock_by_sku))
    rows = []
    for sku in all_skus:
        sold = today.skus.get(sku, {})
        level = stock_by_sku.get(sku)
        # The order lines' name when sold in the window, else the stock events' name.
        name = names.get(sku) or (level.name if level else "")
        row: dict[str, Any] = {"sku": sku, "name": name}
        row.update({name: int(sold.get(name, 0)) for name in SKU_COUNTERS})
        row.update(
            {
                "units_30d": units_30.get(sku, 0),
                "revenue_30d": revenue_30.get(sku, 0),
                "abc_class": classes.get(sku, "C"),
                "on_hand": level.on_hand if level else None,
                "available": level.available if level else None,
                "stock_value": level.value if level else None,
                "low_stock": level.low if level else False,
                "days_of_cover": days_of_cover(level.available, units_30.get(sku, 0)) if level else None,
            }
        )
        row.update(_sku_margin(sold, last_30.skus.get(sku, {})))
        rows.append(row)

    sold_today = [r for r in rows if r["units"] or r["revenue"]]

    def top(key: str, other: str) -> list[dict[str, Any]]:
        ranked = sorted(sold_today, key=lambda r: (-r[key], -r[other], r["sku"]))[:TOP_N]
        return [
            {"sku": r["sku"], "name": r["name"], "units": r["units"], "revenue": r["revenue"]} for r in ranked
        ]

    abc_summary = {
        cls: {
            "skus": sum(1 for s in revenue_30 if classes[s] == cls),
            "revenue": sum(v for s, v in revenue_30.items() if classes[s] == cls),
        }
        for cls in ("A", "B", "C")
    }
    low = [r for r in rows if r["low_stock"]]
    trend = []
    for d in days:
        agg = by_day.get(d, DayAggregates(d))
        trend.append(
            {
                "date": d,
                "orders": agg.total("orders"),
                "total_sales": agg.total("total_sales"),
                "refunds": agg.total("refunds_amount"),
                "net_sales": agg.total("total_sales") - agg.total("refunds_amount"),
                "units_sold": agg.total("units_sold"),
                "gross_margin": insights.margin(agg.totals)["gross_margin"],
            }
        )
    spend_in = [r for r in spend if r.date in set(period)]
    return {
        "schema_version": SCHEMA_VERSION,
        "date": day,
        "timezone": timezone,
        "currency": currency,
        "kind": kind,
        "period": day_period(period[0], timezone, period[-1]),
        "days": {"from": period[0], "to": period[-1]},
        "kpis": day_kpis(today),
        "margin": {"day": insights.margin(today.totals), "trailing_30d": insights.margin(last_30.totals)},
        "tax": {"month": day[:7], **insights.tax_by_country(today.taxes, month.taxes)},
        "customers": insights.customers(
            period=today.totals,
            month_to_date=month.totals,
            cells=cells,
            month=day[:7],
            max_lifespan_months=max_lifespan_months,
        ),
        "cohorts": insights.cohort_table(cells, day[:7]),
        "acquisition": {
            "day": insights.acquisition(today.totals, spend_in),
            "trailing_30d": insights.acquisition(last_30.totals, [r for r in spend if r.date in set(days)]),
        },
        "top_products": {"by_revenue": top("revenue", "units"), "by_units": top("units", "revenue")},
        "abc": {
            "window": {"from": days[0], "to": days[-1]},
            "thresholds_percent": {"A": ABC_A_PERCENT, "B": ABC_B_PERCENT},
            "classes": abc_summary,
        },
        "stock": {
            "value": sum(row.value for row in stock),
            "skus": len(stock),
            "low_stock": [
                {
                    "sku": r["sku"],
                    "name": r["name"],
                    "on_hand": r["on_hand"],
                    "available": r["available"],
                    "low_stock_threshold": stock_by_sku[r["sku"]].low_stock_threshold,
                    "avg_daily_units_30d": round(r["units_30d"] / WINDOW_DAYS, 2),
                    "days_of_cover": r["days_of_cover"],
                }
                for r in low
            ],
        },
        "skus": rows,
        "trend": trend,
    }


def _sku_margin(day: Mapping[str, int], window: Mapping[str, int]) -> dict[str, int]:
    def gross(counters: Mapping[str, int]) -> int:
        return int(counters.get("net_revenue", 0)) - _cogs(counters)

    return {
        "net_revenue": int(day.get("net_revenue", 0)),
        "cogs": _cogs(day),
        "gross_margin": gross(day),
        "gross_margin_30d": gross(window),
    }


def _cogs(counters: Mapping[str, int]) -> int:
    return int(counters.get("cogs", 0)) - int(counters.get("cogs_reversed", 0))


def empty_totals() -> dict[str, int]:
    return dict.fromkeys(TOTAL_COUNTERS, 0)
