"""Pure report sections beyond the KPIs: margin, tax by country, customers and CLV, cohorts,
acquisition cost (definitions: docs/reporting.md). Inputs are aggregates only: day counters, the
cohort cells and the marketing spend rows, so their cost never depends on orders or customers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from cloudtill.money import round_half_up
from cloudtill.reporting.customers import ACQUIRED_PREFIX

BPS = 10_000
DEFAULT_MAX_LIFESPAN_MONTHS = 36
COHORT_MONTHS = 12  # cohorts shown in the triangle (the latest ones)


@dataclass(frozen=True)
class CohortCell:
    """Customers whose first order was in `cohort` and who ordered in `month` (both YYYY-MM)."""

    COUNTERS: ClassVar[tuple[str, ...]] = ("customers", "orders", "revenue", "repeat_customers")

    cohort: str
    month: str
    counters: Mapping[str, int]

    def get(self, name: str) -> int:
        return int(self.counters.get(name, 0))


@dataclass(frozen=True)
class SpendRow:
    """Marketing spend of one channel on one day (minor units of the shop's currency)."""

    date: str
    channel: str
    amount: int
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "channel": self.channel, "amount": self.amount, "currency": self.currency}


def bps(numerator: int | Fraction, denominator: int | Fraction) -> int | None:
    """A share in basis points, half up; None when the denominator is not positive."""
    if denominator <= 0:
        return None
    share = Fraction(numerator) * BPS / Fraction(denominator)
    return round_half_up(share.numerator, share.denominator)


def _divide(numerator: int, denominator: int) -> int | None:
    return round_half_up(numerator, denominator) if denominator > 0 else None


def margin(totals: Mapping[str, int]) -> dict[str, Any]:
    """Revenue net of tax and refunds (shipping charged included) less the FIFO cost of the units sold,
    net of the cost of restocked units."""
    revenue = (
        totals.get("total_sales", 0)
        - totals.get("tax", 0)
        - totals.get("refunds_amount", 0)
        + totals.get("tax_refunded", 0)
    )
    cogs = totals.get("cogs", 0) - totals.get("cogs_reversed", 0)
    gross = revenue - cogs
    return {"revenue": revenue, "cogs": cogs, "gross_margin": gross, "gross_margin_bps": bps(gross, revenue)}


def tax_by_country(
    period: Mapping[str, Mapping[str, int]], month_to_date: Mapping[str, Mapping[str, int]]
) -> dict[str, Any]:
    """Tax collected and refunded per destination country, in the period and month to date."""

    def figures(found: Mapping[str, int] | None) -> dict[str, int]:
        collected, refunded = int((found or {}).get("collected", 0)), int((found or {}).get("refunded", 0))
        return {"collected": collected, "refunded": refunded, "net": collected - refunded}

    rows: list[dict[str, Any]] = []
    for country in sorted(set(period) | set(month_to_date)):
        day, mtd = figures(period.get(country)), figures(month_to_date.get(country))
        rows.append({"country": country, **day, **{f"{k}_mtd": v for k, v in mtd.items()}})
    total = {
        name: sum(row[name] for row in rows)
        for name in ("collected", "refunded", "net", "collected_mtd", "refunded_mtd", "net_mtd")
    }
    return {"countries": rows, "total": total}


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def cohort_table(cells: Sequence[CohortCell], month: str, limit: int = COHORT_MONTHS) -> dict[str, Any]:
    """Monthly retention by first-order month, up to `month`: each cohort's size and, per later
    month, the customers who ordered in it and their share of the cohort (basis points)."""
    last = _month_index(month)
    by_cell = {(c.cohort, c.month): c for c in cells if _month_index(c.month) <= last}
    cohorts = sorted({cohort for cohort, _ in by_cell if _month_index(cohort) <= last})[-limit:]
    rows: list[dict[str, Any]] = []
    for cohort in cohorts:
        size = by_cell[(cohort, cohort)].get("customers") if (cohort, cohort) in by_cell else 0
        start = _month_index(cohort)
        retention: list[dict[str, Any]] = []
        for offset in range(last - start + 1):
            found = by_cell.get((cohort, _month_name(start + offset)))
            active = found.get("customers") if found else 0
            retention.append(
                {
                    "offset": offset,
                    "month": _month_name(start + offset),
                    "customers": active,
                    "share_bps": bps(active, size),
                }
            )
        rows.append({"cohort": cohort, "size": size, "retention": retention})
    width = max((len(r["retention"]) for r in rows), default=0)
    return {"through": month, "offsets": list(range(width)), "rows": rows}


def customers(
    *,
    period: Mapping[str, int],
    month_to_date: Mapping[str, int],
    cells: Sequence[CohortCell],
    month: str,
    max_lifespan_months: int = DEFAULT_MAX_LIFESPAN_MONTHS,
) -> dict[str, Any]:
    """New and returning customers of the period; to date (months before `month` from the cohort
    cells, `month` itself from the day counters up to the report day): repeat purchase rate,
    historic and predicted lifetime value (docs/reporting.md "Customer lifetime value")."""
    current = _month_index(month)
    past = [c for c in cells if _month_index(c.month) < current]
    customers_to_date = sum(c.get("customers") for c in past if c.cohort == c.month) + month_to_date.get(
        "new_customers", 0
    )
    repeat = sum(c.get("repeat_customers") for c in past) + month_to_date.get("repeat_customers", 0)
    orders = sum(c.get("orders") for c in past) + month_to_date.get("orders", 0)
    revenue = sum(c.get("revenue") for c in past) + month_to_date.get("total_sales", 0)

    # Customer-months observed: each cohort's size times the months from its first to `month`.
    sizes = {c.cohort: c.get("customers") for c in past if c.cohort == c.month}
    customer_months = sum(size * (current - _month_index(cohort) + 1) for cohort, size in sizes.items())
    customer_months += month_to_date.get("new_customers", 0)
    # Churn: 1 - the share of a cohort ordering again in its second month (cohorts whose second
    # month has begun, the current month counted so far).
    later = {(c.cohort, c.month): c.get("customers") for c in cells if _month_index(c.month) <= current}
    eligible = [cohort for cohort in sizes if _month_index(cohort) + 1 <= current]
    cohort_size = sum(sizes[c] for c in eligible)
    retained = sum(later.get((c, _month_name(_month_index(c) + 1)), 0) for c in eligible)
    cap = Fraction(max_lifespan_months)
    churn = Fraction(cohort_size - retained, cohort_size) if cohort_size else None
    lifespan = min(cap, 1 / churn) if churn else cap
    predicted = None
    if customer_months and orders:
        value = Fraction(revenue, customer_months) * lifespan  # AOV x frequency x lifespan
        predicted = round_half_up(value.numerator, value.denominator)
    return {
        "new": period.get("new_customers", 0),
        "returning": period.get("returning_customers", 0),
        "to_date": customers_to_date,
        "repeat_customers_to_date": repeat,
        "repeat_purchase_rate_bps": bps(repeat, customers_to_date),
        "clv": {
            "historic_average": _divide(revenue, customers_to_date),
            "predicted_average": predicted,
            "average_order_value": _divide(revenue, orders),
            "purchase_frequency_per_month": None
            if not customer_months
            else round(orders / customer_months, 4),
            "monthly_churn_bps": None if churn is None else bps(churn, 1),
            "expected_lifespan_months": round(float(lifespan), 2),
            "method": (
                "predicted = average order value x orders per customer per month x expected lifespan; "
                f"lifespan = 1 / monthly churn (1 - second-month retention of the cohorts), at most "
                f"{max_lifespan_months} months"
            ),
        },
    }


def acquisition(totals: Mapping[str, int], spend: Sequence[SpendRow]) -> dict[str, Any]:
    """Spend, new customers and cost per acquired customer, per channel and in total."""
    spent: dict[str, int] = {}
    for row in spend:
        spent[row.channel] = spent.get(row.channel, 0) + row.amount
    acquired = {k[len(ACQUIRED_PREFIX) :]: v for k, v in totals.items() if k.startswith(ACQUIRED_PREFIX)}
    channels = [
        {
            "channel": channel,
            "spend": spent.get(channel, 0),
            "new_customers": acquired.get(channel, 0),
            "cac": _divide(spent.get(channel, 0), acquired.get(channel, 0)),
        }
        for channel in sorted(set(spent) | {c for c, n in acquired.items() if n})
    ]
    total_spend, new = sum(spent.values()), totals.get("new_customers", 0)
    return {
        "channels": channels,
        "total": {"spend": total_spend, "new_customers": new, "cac": _divide(total_spend, new)},
    }
