"""Multi-region roll-up: one consolidated report from each regional stack's `report.json`.

    python -m cloudtill.reporting.rollup --date 2026-07-15 \\
        --stack eu=cloudtill-reports-eu --stack us=cloudtill-reports-us@us-east-1 \\
        --currency EUR --rates rates.json --rate USD=0.9150 --out rollup.json

Each region's figures are kept as reported (its own currency) beside the total, which converts every
amount at the rate given for its currency (units of the target currency per unit of the region's:
the rate at the close of the day, from a source the user names in the rates file's `source`). Amounts
are minor units; currencies with other exponents are scaled. Locally the stacks share the local
bucket (`AWS_ENDPOINT_URL` points boto3 at moto).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from cloudtill.reporting.periods import parse_period

# Money fields summed across regions (paths into report.json).
_KPI_AMOUNTS = ("gross_sales", "discounts", "shipping", "tax", "total_sales", "net_sales")
_KPI_COUNTS = ("orders", "units_sold", "promo_orders", "cancelled_orders")


def _exponent(currency: str) -> int:
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))


def converter(source: str, target: str, rates: Mapping[str, Decimal]) -> Callable[[int], int]:
    """Minor units of `source` -> minor units of `target`, half up."""
    if source == target:
        return lambda amount: amount
    if source not in rates:
        raise SystemExit(f"no rate for {source} -> {target}: give --rate {source}=... or a rates file")
    factor = rates[source] * Decimal(10) ** (_exponent(target) - _exponent(source))

    def convert(amount: int) -> int:
        return int((Decimal(amount) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    return convert


def figures(report: Mapping[str, Any], convert: Callable[[int], int]) -> dict[str, Any]:
    """The additive figures of one report, amounts through `convert`."""
    kpis = report["kpis"]
    margin = report.get("margin", {}).get("day", {})
    acquisition = report.get("acquisition", {}).get("day", {}).get("total", {})
    out: dict[str, Any] = {name: convert(int(kpis[name])) for name in _KPI_AMOUNTS}
    out.update({name: int(kpis[name]) for name in _KPI_COUNTS})
    out["refunds"] = convert(int(kpis["refunds"]["amount"]))
    out["new_customers"] = int(kpis["customers"]["new"])
    out["returning_customers"] = int(kpis["customers"]["returning"])
    out["margin_revenue"] = convert(int(margin.get("revenue", 0)))
    out["cogs"] = convert(int(margin.get("cogs", 0)))
    out["gross_margin"] = convert(int(margin.get("gross_margin", 0)))
    out["marketing_spend"] = convert(int(acquisition.get("spend", 0)))
    out["tax_by_country"] = {
        row["country"]: {
            "collected": convert(int(row["collected"])),
            "refunded": convert(int(row["refunded"])),
        }
        for row in report.get("tax", {}).get("countries", [])
    }
    return out


def _add(total: dict[str, Any], part: Mapping[str, Any]) -> None:
    for name, value in part.items():
        if isinstance(value, dict):
            _add(total.setdefault(name, {}), value)
        else:
            total[name] = total.get(name, 0) + value


def rollup(
    day: str,
    reports: Mapping[str, Mapping[str, Any]],
    currency: str,
    rates: Mapping[str, Decimal],
    source: str,
) -> dict[str, Any]:
    """The consolidated report: each region as reported and converted, and the converted total."""
    regions: dict[str, Any] = {}
    total: dict[str, Any] = {}
    for name, report in sorted(reports.items()):
        convert = converter(report["currency"], currency, rates)
        regions[name] = {
            "currency": report["currency"],
            "rate": None if report["currency"] == currency else str(rates[report["currency"]]),
            "reported": figures(report, lambda amount: amount),
            "converted": figures(report, convert),
        }
        _add(total, regions[name]["converted"])
    orders = total.get("orders", 0)
    total["average_order_value"] = (
        int((Decimal(total["total_sales"]) / orders).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if orders
        else None
    )
    return {
        "schema_version": 1,
        "date": day,
        "currency": currency,
        "rates": {
            "source": source,
            "to": currency,
            "per_unit": {k: str(v) for k, v in sorted(rates.items())},
        },
        "regions": regions,
        "total": total,
    }


def _rates(path: str | None, pairs: list[str]) -> tuple[dict[str, Decimal], str]:
    rates: dict[str, Decimal] = {}
    source = "command line"
    if path:
        data = json.loads(Path(path).read_text())
        source = str(data.get("source", path))
        rates.update(
            {k.upper(): Decimal(str(v)) for k, v in data.get("rates", data).items() if k != "source"}
        )
    for pair in pairs:
        code, _, value = pair.partition("=")
        rates[code.strip().upper()] = Decimal(value)
    return rates, source


def _read(stack: str, key: str) -> dict[str, Any]:
    """`name=bucket[@region]`: the report.json at `key` in that bucket."""
    import boto3

    _, _, where = stack.partition("=")
    bucket, _, region = where.partition("@")
    client = boto3.client("s3", region_name=region or None)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", required=True, help="the local day (or ISO week / month) to roll up")
    parser.add_argument("--stack", action="append", required=True, help="name=bucket[@region], repeatable")
    parser.add_argument("--currency", default="EUR", help="the consolidated report's currency")
    parser.add_argument("--rates", help='JSON file {"source": "...", "rates": {"USD": "0.915"}}')
    parser.add_argument("--rate", action="append", default=[], help="CODE=rate (target units per unit)")
    parser.add_argument("--out", help="write here instead of stdout")
    args = parser.parse_args(argv)
    key = parse_period(args.date).keys()["json"]
    rates, source = _rates(args.rates, args.rate)
    reports = {stack.partition("=")[0]: _read(stack, key) for stack in args.stack}
    body = json.dumps(
        rollup(args.date, reports, args.currency.upper(), rates, source), indent=2, sort_keys=True
    )
    if args.out:
        Path(args.out).write_text(body + "\n")
    else:
        sys.stdout.write(body + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
