"""Pure customer aggregation: what one order does to the customer counters and the cohort cells.

A customer (the account when signed in, else the normalised e-mail's hash: never the address itself, so
an erased customer stays counted, pseudonymised) has ONE state item: its two earliest orders, the
channel of the first, and per active month its orders and revenue. Every aggregate a customer
contributes is a function of that state (`contribution`), so an order changes the aggregates by
`contribution(after) - contribution(before)` plus what the order adds on its own day. The result
depends only on the set of orders seen, never on the order they arrived in: an earlier order arriving
late moves the customer's `new` day, repeat day and whole cohort row.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

UNATTRIBUTED = "unattributed"
ACQUIRED_PREFIX = "acquired#"  # day counter: new customers per channel (`acquired#<channel>`)


def customer_id(detail: dict[str, Any]) -> str | None:
    """The account when the order names one, else the normalised e-mail's sha256 (as `EMAIL#<hash>`)."""
    account = detail.get("account_id")
    if account:
        return f"acct-{account}"
    email = detail.get("email")
    if not email:
        return None
    return hashlib.sha256(str(email).strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class CustomerOrder:
    """An order of a customer, with what the customer metrics need from it."""

    email_hash: str  # the customer id (`customer_id`); the name is the marker key's
    order_id: str
    at: str  # ISO UTC: orders compare by time, so a late-arriving earlier order still wins
    day: str
    revenue: int = 0
    channel: str = UNATTRIBUTED


@dataclass(frozen=True)
class FirstOrder:
    """One of the customer's orders as kept in its state (the two earliest)."""

    order_id: str
    at: str
    day: str


@dataclass(frozen=True)
class CustomerState:
    """The `CUSTOMER#<id>` item. `version` counts the orders folded in (the write's condition);
    0 is a marker written before months were kept (its months are then unknown, so empty)."""

    first: FirstOrder
    second: FirstOrder | None = None
    channel: str = ""
    months: tuple[tuple[str, int, int], ...] = ()  # (YYYY-MM, orders, revenue), sorted
    version: int = 1

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "order_id": self.first.order_id,
            "at": self.first.at,
            "day": self.first.day,
            "channel": self.channel,
            "months": {m: {"orders": n, "revenue": r} for m, n, r in self.months},
            "version": self.version,
        }
        if self.second is not None:
            item["second"] = {"order_id": self.second.order_id, "at": self.second.at, "day": self.second.day}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> CustomerState:
        second = item.get("second")
        return cls(
            first=FirstOrder(str(item["order_id"]), str(item["at"]), str(item["day"])),
            second=FirstOrder(str(second["order_id"]), str(second["at"]), str(second["day"]))
            if second
            else None,
            channel=str(item.get("channel", "")),
            months=tuple(
                sorted(
                    (str(m), int(v["orders"]), int(v["revenue"]))
                    for m, v in (item.get("months") or {}).items()
                )
            ),
            version=int(item.get("version", 0)),
        )


def _key(order: FirstOrder) -> tuple[str, str]:
    return order.at, order.order_id


def fold(state: CustomerState | None, order: CustomerOrder) -> CustomerState:
    """The state after `order` (each order is folded once: the event's dedupe marker sees to it)."""
    this = FirstOrder(order.order_id, order.at, order.day)
    month = order.day[:7]
    if state is None:
        return CustomerState(this, None, order.channel, ((month, 1, order.revenue),), 1)
    months = dict((m, (n, r)) for m, n, r in state.months)
    n, r = months.get(month, (0, 0))
    months[month] = (n + 1, r + order.revenue)
    ranked = sorted([state.first, *([state.second] if state.second else []), this], key=_key)
    channel = order.channel if ranked[0] == this else state.channel
    return CustomerState(
        ranked[0],
        ranked[1],
        channel,
        tuple(sorted((m, n, r) for m, (n, r) in months.items())),
        state.version + 1,
    )


Counters = dict[str, int]


@dataclass
class CustomerDeltas:
    """Increments of the day counters (per day) and of the cohort cells (per (cohort, month))."""

    days: dict[str, Counters]
    cells: dict[tuple[str, str], Counters]


def contribution(state: CustomerState | None) -> CustomerDeltas:
    """What a customer in `state` adds to the aggregates, apart from what each order adds on its own
    day (`returning_customers` + 1): the first order's day turns that into a new customer."""
    days: dict[str, Counters] = defaultdict(lambda: defaultdict(int))
    cells: dict[tuple[str, str], Counters] = defaultdict(lambda: defaultdict(int))
    if state is not None:
        first = days[state.first.day]
        first["new_customers"] += 1
        first["returning_customers"] -= 1
        if state.channel:
            first[ACQUIRED_PREFIX + state.channel] += 1
        cohort = state.first.day[:7]
        for month, orders, revenue in state.months:
            cell = cells[(cohort, month)]
            cell["customers"] += 1
            cell["orders"] += orders
            cell["revenue"] += revenue
        if state.second is not None:
            days[state.second.day]["repeat_customers"] += 1
            if state.months:
                cells[(cohort, state.second.day[:7])]["repeat_customers"] += 1
    return CustomerDeltas({d: dict(c) for d, c in days.items()}, {k: dict(c) for k, c in cells.items()})


def _difference(after: dict[Any, Counters], before: dict[Any, Counters]) -> dict[Any, Counters]:
    out: dict[Any, Counters] = {}
    for key in set(after) | set(before):
        names = set(after.get(key, {})) | set(before.get(key, {}))
        counters = {n: after.get(key, {}).get(n, 0) - before.get(key, {}).get(n, 0) for n in names}
        counters = {n: v for n, v in counters.items() if v}
        if counters:
            out[key] = counters
    return out


def order_deltas(state: CustomerState | None, order: CustomerOrder) -> tuple[CustomerState, CustomerDeltas]:
    """The new state and what `order` changes: the difference of the contributions plus the order's
    own `returning_customers` on its day (a first order nets it to 0 through `contribution`)."""
    after = fold(state, order)
    new, old = contribution(after), contribution(state)
    days = _difference(new.days, old.days)
    own = dict(days.get(order.day, {}))
    own["returning_customers"] = own.get("returning_customers", 0) + 1
    days[order.day] = {n: v for n, v in own.items() if v}
    return after, CustomerDeltas({d: c for d, c in days.items() if c}, _difference(new.cells, old.cells))
