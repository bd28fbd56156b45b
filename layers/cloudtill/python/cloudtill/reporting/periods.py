"""Report periods: a day (`YYYY-MM-DD`), an ISO week (`YYYY-Www`) or a month (`YYYY-MM`).

A week's or a month's report is the sum of its days' aggregates (never re-read from orders); it ends
on the period's last day, or on `until` for a period still running (week or month to date).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PERIOD_PATTERN = r"^(\d{4}-\d{2}-\d{2}|\d{4}-W\d{2}|\d{4}-\d{2})$"


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month
    label: str  # 2026-07-15 | 2026-W29 | 2026-07
    days: tuple[str, ...]  # oldest first

    @property
    def last(self) -> str:
        return self.days[-1]

    def keys(self) -> dict[str, str]:
        """Object keys: days `reports/YYYY/MM/DD/`, weeks `reports/weekly/YYYY-Www/`, months
        `reports/monthly/YYYY-MM/`."""
        if self.kind == "day":
            prefix = f"reports/{self.label[0:4]}/{self.label[5:7]}/{self.label[8:10]}/"
            files = {"order_lines_csv": prefix + "order-lines.csv"}
        else:
            prefix = f"reports/{'weekly' if self.kind == 'week' else 'monthly'}/{self.label}/"
            files = {}
        return {
            "json": prefix + "report.json",
            "skus_csv": prefix + "skus.csv",
            "tax_csv": prefix + "tax.csv",
            **files,
            "html": prefix + "report.html",
        }


def parse_period(value: str) -> Period:
    """The period named by `value`; ValueError when it names none (a 422 at the edge)."""
    if _DAY.match(value):
        date.fromisoformat(value)
        return Period("day", value, (value,))
    if match := _WEEK.match(value):
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        return Period("week", value, tuple((monday + timedelta(days=n)).isoformat() for n in range(7)))
    if match := _MONTH.match(value):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError("no such month")
        length = calendar.monthrange(year, month)[1]
        return Period("month", value, tuple(date(year, month, n).isoformat() for n in range(1, length + 1)))
    raise ValueError("not a day (YYYY-MM-DD), ISO week (YYYY-Www) or month (YYYY-MM)")


def periods_of(day: str) -> tuple[Period, Period]:
    """The ISO week and the month `day` belongs to, up to `day` (the nightly run writes them to date)."""
    moment = date.fromisoformat(day)
    year, week, _ = moment.isocalendar()
    weekly = parse_period(f"{year:04d}-W{week:02d}")
    monthly = parse_period(day[:7])
    return until(weekly, day), until(monthly, day)


def until(period: Period, day: str) -> Period:
    """`period` cut at `day` (a week or month to date)."""
    return Period(period.kind, period.label, tuple(d for d in period.days if d <= day))
