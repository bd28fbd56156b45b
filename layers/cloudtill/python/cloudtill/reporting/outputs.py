"""The report's files: report.json, the per-SKU and order-line CSVs, and a self-contained HTML page.

Every output is a pure function of the report data (and the template and chart library), so a re-run
of a day writes byte-identical objects.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

SKU_COLUMNS: tuple[str, ...] = (
    "sku",
    "name",
    "units",
    "revenue",
    "orders",
    "units_returned",
    "units_30d",
    "revenue_30d",
    "abc_class",
    "on_hand",
    "available",
    "stock_value",
    "low_stock",
    "days_of_cover",
    "net_revenue",
    "cogs",
    "gross_margin",
    "gross_margin_30d",
)
TAX_COLUMNS: tuple[str, ...] = (
    "country",
    "collected",
    "refunded",
    "net",
    "collected_mtd",
    "refunded_mtd",
    "net_mtd",
)
ORDER_LINE_COLUMNS: tuple[str, ...] = (
    "order_id",
    "confirmed_at",
    "line",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "line_total",
    "discount",
    "tax",
    "promo_code",
)
# Spreadsheet formula injection: a text cell starting with one of these is prefixed with a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def report_keys(day: str) -> dict[str, str]:
    """Object keys of a day's report: `reports/YYYY/MM/DD/...` (weeks, months: `periods.Period.keys`)."""
    from cloudtill.reporting.periods import parse_period

    return parse_period(day).keys()


def report_json(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(hashlib.sha256(part).digest())
    return hashed.hexdigest()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue().encode()


def skus_csv(report: dict[str, Any]) -> bytes:
    return _csv(SKU_COLUMNS, report["skus"])


def tax_csv(report: dict[str, Any]) -> bytes:
    """Tax per destination country, the period and month to date (what a VAT/OSS return needs)."""
    return _csv(TAX_COLUMNS, report["tax"]["countries"])


def order_lines_csv(orders: Iterable[dict[str, Any]]) -> bytes:
    rows = []
    for order in sorted(orders, key=lambda o: (o["confirmed_at"], o["order_id"])):
        for number, line in enumerate(order["lines"], start=1):
            rows.append(
                {
                    "order_id": order["order_id"],
                    "confirmed_at": order["confirmed_at"],
                    "line": number,
                    "promo_code": order.get("promo_code"),
                    **line,
                }
            )
    return _csv(ORDER_LINE_COLUMNS, rows)


def money_formatter(currency: str, locale: str) -> Any:
    """Minor units -> a localized amount (babel), e.g. 123456 -> '€1,234.56' for EUR/en_IE."""
    from babel.numbers import format_currency, get_currency_precision

    exponent = get_currency_precision(currency)

    def format_money(minor: int | None) -> str:
        if minor is None:
            return "\u2013"
        return str(format_currency(Decimal(minor).scaleb(-exponent), currency, locale=locale))

    format_money.exponent = exponent  # type: ignore[attr-defined]
    return format_money


def report_html(report: dict[str, Any], *, template: str, chart_js: str, locale: str) -> bytes:
    """The page: KPIs, tables and three charts drawn by the inlined Chart.js (no network needed)."""
    from jinja2 import Environment, StrictUndefined

    if "</script" in chart_js.lower():  # could end the inline script early
        raise ValueError("the chart library contains '</script'")
    # The library's source map comment points at a file the page does not have.
    chart_js = "\n".join(
        line for line in chart_js.splitlines() if not line.startswith("//# sourceMappingURL")
    )
    money = money_formatter(report["currency"], locale)
    scale = 10**money.exponent
    environment = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    environment.filters["money"] = money
    environment.filters["percent"] = lambda r: "\u2013" if r is None else f"{r * 100:.1f} %"
    environment.filters["bps"] = lambda b: "\u2013" if b is None else f"{b / 100:.1f} %"
    chart_data = {
        "trend": {
            "labels": [d["date"] for d in report["trend"]],
            "total_sales": [d["total_sales"] / scale for d in report["trend"]],
            "net_sales": [d["net_sales"] / scale for d in report["trend"]],
            "orders": [d["orders"] for d in report["trend"]],
            "gross_margin": [d["gross_margin"] / scale for d in report["trend"]],
        },
        "acquisition": {
            "labels": [a["channel"] for a in report["acquisition"]["trailing_30d"]["channels"]],
            "spend": [a["spend"] / scale for a in report["acquisition"]["trailing_30d"]["channels"]],
            "new_customers": [a["new_customers"] for a in report["acquisition"]["trailing_30d"]["channels"]],
        },
        "cohorts": {
            "labels": [f"+{n}" for n in report["cohorts"]["offsets"]],
            "rows": [
                {"cohort": r["cohort"], "shares": [c["share_bps"] for c in r["retention"]]}
                for r in report["cohorts"]["rows"]
            ],
        },
        "top": {
            "labels": [p["sku"] for p in report["top_products"]["by_revenue"]],
            "revenue": [p["revenue"] / scale for p in report["top_products"]["by_revenue"]],
        },
        "abc": {
            "labels": ["A", "B", "C"],
            "revenue": [report["abc"]["classes"][c]["revenue"] / scale for c in ("A", "B", "C")],
            "skus": [report["abc"]["classes"][c]["skus"] for c in ("A", "B", "C")],
        },
        "currency": report["currency"],
    }
    page = environment.from_string(template).render(report=report, chart_data=chart_data, chart_js=chart_js)
    return page.encode()
