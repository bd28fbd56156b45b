"""Pure aggregation: what one domain event adds to the daily counters (docs/reporting.md).

A consumer turns each event into an `AggregateUpdate` (counter increments for one local day, per-SKU
increments, the order's lines) or a stock-level change; the DynamoDB adapter applies an update in one
transaction with the event's dedupe marker, so a redelivered event is counted once. Nothing here knows
about SQS, EventBridge or DynamoDB.

Which day: the event's own timestamp (`confirmed_at`, `created_at`, ... or the envelope's `time` for
events without one), converted to the shop's time zone.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

# The event fields that say when the fact happened; events without one use the envelope time.
OCCURRED_AT_FIELDS: dict[str, str] = {
    "OrderConfirmed": "confirmed_at",
    "OrderCancelled": "cancelled_at",
    "OrderReturned": "returned_at",
    "CheckoutCreated": "created_at",
    "CheckoutExpired": "expired_at",
    "StockAdjusted": "occurred_at",
}

# Every detail type the aggregates consume (the wiring's subscription lists the same).
CONSUMED_DETAIL_TYPES: tuple[str, ...] = (
    "OrderConfirmed",
    "OrderCancelled",
    "OrderReturned",
    "RefundIssued",
    "CheckoutCreated",
    "CheckoutExpired",
    "StockReleased",
    "PaymentSucceeded",
    "PaymentFailed",
    "StockAdjusted",
    "StockLow",
)

# Day counters (attribute names of the `TOTALS` item).
TOTAL_COUNTERS: tuple[str, ...] = (
    "orders",
    "gross_sales",
    "discounts",
    "shipping",
    "tax",
    "total_sales",
    "units_sold",
    "promo_orders",
    "new_customers",
    "returning_customers",
    "cancelled_orders",
    "returns",
    "units_returned",
    "refunds",
    "refunds_amount",
    "checkouts_created",
    "checkouts_expired",
    "checkouts_cancelled",
    "payments_succeeded",
    "payments_failed",
)
SKU_COUNTERS: tuple[str, ...] = ("units", "revenue", "orders", "units_returned")


class UnusableEvent(ValueError):
    """An event this consumer cannot count (malformed): reported, never retried forever."""


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_day(moment: datetime, timezone: str) -> str:
    """The shop's calendar day of `moment` (ISO date)."""
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def email_hash(email: str) -> str:
    """The same hash as the rest of the table (`EMAIL#<sha256>`): trimmed, lower case."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class IncomingEvent:
    """A domain event as the consumer sees it: deduplicated by `event_id` (the outbox id)."""

    event_id: str
    detail_type: str
    occurred_at: datetime
    detail: dict[str, Any]

    @classmethod
    def parse(cls, event: dict[str, Any]) -> IncomingEvent:
        """An EventBridge event (`detail-type`) or an outbox envelope (`detail_type`)."""
        try:
            detail_type = event.get("detail-type") or event["detail_type"]
            detail = event["detail"]
            event_id = str(detail.get("event_id") or event["id"])
            stamp_field = OCCURRED_AT_FIELDS.get(detail_type)
            stamp = detail.get(stamp_field) if stamp_field else None
            occurred_at = parse_time(stamp or event["time"])
        except (KeyError, TypeError, ValueError) as error:
            raise UnusableEvent(f"not a domain event: {error}") from error
        return cls(event_id, detail_type, occurred_at, detail)


@dataclass(frozen=True)
class CustomerOrder:
    """An order of a customer (by email hash), to tell new from returning customers."""

    email_hash: str
    order_id: str
    at: str  # ISO UTC: orders compare by time, so a late-arriving earlier order still wins
    day: str


@dataclass(frozen=True)
class FirstOrder:
    """The `CUSTOMER#<hash>` marker: the customer's earliest order seen so far."""

    order_id: str
    at: str
    day: str


@dataclass(frozen=True)
class CustomerResolution:
    """What an order does to the customer counters, given the marker read: counter deltas per day and
    the marker to write (None: keep it). `expected` is the marker the write is conditional on."""

    deltas: dict[str, dict[str, int]]
    new_marker: FirstOrder | None
    expected: FirstOrder | None


def resolve_customer(marker: FirstOrder | None, order: CustomerOrder) -> CustomerResolution:
    """New or returning? The earliest order of an email hash is its `new` order; every other is
    `returning`. If an earlier order arrives after a later one was counted as new, the later day moves
    one customer from new to returning and this order's day counts the new one."""
    this = FirstOrder(order.order_id, order.at, order.day)
    if marker is None:
        return CustomerResolution({order.day: {"new_customers": 1}}, this, None)
    if (order.at, order.order_id) < (marker.at, marker.order_id):
        deltas: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        deltas[order.day]["new_customers"] += 1
        deltas[marker.day]["new_customers"] -= 1
        deltas[marker.day]["returning_customers"] += 1
        cleaned = {d: {k: v for k, v in c.items() if v} for d, c in deltas.items()}
        return CustomerResolution({d: c for d, c in cleaned.items() if c}, this, marker)
    return CustomerResolution({order.day: {"returning_customers": 1}}, None, marker)


@dataclass
class AggregateUpdate:
    """Counter increments of one event: applied once (by `event_id`) or not at all."""

    event_id: str
    day: str
    totals: dict[str, int] = field(default_factory=dict)
    skus: dict[str, dict[str, int]] = field(default_factory=dict)
    sku_names: dict[str, str] = field(default_factory=dict)
    # One item per order: the CSV export's order lines (never read by the KPIs).
    order_lines: dict[str, Any] | None = None
    customer: CustomerOrder | None = None


@dataclass(frozen=True)
class StockLevel:
    """Latest level of a SKU after a ledger movement. Applied when newer than what is stored
    (`movement_id` is the SKU's ledger sequence), so replays and reordering are harmless."""

    sku: str
    movement_id: str
    on_hand: int
    reserved: int
    available: int
    value: int
    at: str


@dataclass(frozen=True)
class StockThreshold:
    """The low-stock threshold a StockLow event named (the stock events carry no other copy)."""

    sku: str
    low_stock_threshold: int
    available: int


Change = AggregateUpdate | StockLevel | StockThreshold


def plan(raw: dict[str, Any], timezone: str) -> Change | None:
    """What `raw` (EventBridge event or outbox envelope) changes; None for events not counted."""
    event = IncomingEvent.parse(raw)
    day = local_day(event.occurred_at, timezone)
    d = event.detail
    try:
        match event.detail_type:
            case "OrderConfirmed":
                return _order_confirmed(event, day)
            case "OrderCancelled":
                return AggregateUpdate(event.event_id, day, totals={"cancelled_orders": 1})
            case "OrderReturned":
                units: dict[str, int] = defaultdict(int)
                for line in d["lines"]:
                    units[line["sku"]] += int(line["quantity"])
                return AggregateUpdate(
                    event.event_id,
                    day,
                    totals={"returns": 1, "units_returned": sum(units.values())},
                    skus={sku: {"units_returned": q} for sku, q in units.items()},
                )
            case "RefundIssued":
                # Refund money is counted from RefundIssued only (on the refund's day): cancellations
                # and returns are refunded through payments, which emits it.
                return AggregateUpdate(
                    event.event_id, day, totals={"refunds": 1, "refunds_amount": int(d["amount"])}
                )
            case "CheckoutCreated":
                return AggregateUpdate(event.event_id, day, totals={"checkouts_created": 1})
            case "CheckoutExpired":
                return AggregateUpdate(event.event_id, day, totals={"checkouts_expired": 1})
            case "StockReleased":
                # Expiries are counted from CheckoutExpired; this counts cancelled checkouts only.
                if d["reason"] != "cancelled":
                    return None
                return AggregateUpdate(event.event_id, day, totals={"checkouts_cancelled": 1})
            case "PaymentSucceeded":
                return AggregateUpdate(event.event_id, day, totals={"payments_succeeded": 1})
            case "PaymentFailed":
                return AggregateUpdate(event.event_id, day, totals={"payments_failed": 1})
            case "StockAdjusted":
                return StockLevel(
                    sku=d["sku"],
                    movement_id=d["movement_id"],
                    on_hand=int(d["on_hand"]),
                    reserved=int(d["reserved"]),
                    available=int(d["available"]),
                    value=int(d["value"]),
                    at=d["occurred_at"],
                )
            case "StockLow":
                return StockThreshold(d["sku"], int(d["low_stock_threshold"]), int(d["available"]))
    except (KeyError, TypeError, ValueError) as error:
        raise UnusableEvent(f"{event.detail_type} {event.event_id}: {error}") from error
    return None


def _order_confirmed(event: IncomingEvent, day: str) -> AggregateUpdate:
    d = event.detail
    skus: dict[str, dict[str, int]] = defaultdict(lambda: {"units": 0, "revenue": 0, "orders": 1})
    names: dict[str, str] = {}
    for line in d["lines"]:
        counters = skus[line["sku"]]
        counters["units"] += int(line["quantity"])
        # Revenue of a line: its shelf amount after its share of the discount (as the shopper paid).
        counters["revenue"] += int(line["line_total"]) - int(line["discount"])
        if line.get("name"):
            names[line["sku"]] = str(line["name"])
    totals = {
        "orders": 1,
        "gross_sales": int(d["subtotal"]),
        "discounts": int(d["discount"]),
        "shipping": int(d["shipping"]),
        "tax": int(d["tax"]),
        "total_sales": int(d["total"]),
        "units_sold": sum(c["units"] for c in skus.values()),
        "promo_orders": 1 if d.get("promo_code") else 0,
    }
    confirmed_at = d["confirmed_at"]
    order_lines = {
        "order_id": d["order_id"],
        "confirmed_at": confirmed_at,
        "currency": d["currency"],
        "promo_code": d.get("promo_code"),
        "lines": [
            {
                "sku": ln["sku"],
                "name": ln.get("name") or "",
                "quantity": int(ln["quantity"]),
                "unit_price": int(ln["unit_price"]),
                "line_total": int(ln["line_total"]),
                "discount": int(ln["discount"]),
                "tax": int(ln["tax"]),
            }
            for ln in d["lines"]
        ],
    }
    customer = (
        CustomerOrder(email_hash(d["email"]), d["order_id"], confirmed_at, day) if d.get("email") else None
    )
    return AggregateUpdate(
        event.event_id,
        day,
        totals={k: v for k, v in totals.items() if v},
        skus=dict(skus),
        sku_names=names,
        order_lines=order_lines,
        customer=customer,
    )


def days_back(day: str, count: int) -> list[str]:
    """`count` days ending with `day` (inclusive), oldest first."""
    end = date.fromisoformat(day).toordinal()
    return [date.fromordinal(n).isoformat() for n in range(end - count + 1, end + 1)]


@dataclass(frozen=True)
class MarkerWrite:
    """What a batch does to one customer's marker: write `marker` (conditional on `expected` being the
    stored one, None: no marker yet), or only check `expected` when the batch changes nothing."""

    marker: FirstOrder | None
    expected: FirstOrder | None


@dataclass
class MergedUpdate:
    """Several updates as one write per item (a transaction may not touch an item twice): day counters
    per day, SKU counters per (day, SKU), the customers' markers. Applied with every update's dedupe
    marker in one transaction, it changes exactly what applying them one by one would."""

    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    skus: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    sku_names: dict[tuple[str, str], str] = field(default_factory=dict)
    markers: dict[str, MarkerWrite] = field(default_factory=dict)


def merge_updates(updates: list[AggregateUpdate], stored: dict[str, FirstOrder | None]) -> MergedUpdate:
    """Sum `updates` per item. `stored` is the customers' markers as believed stored (missing: none);
    each customer's orders are folded through `resolve_customer` from it, in order, so the deltas are
    the sum of the one-by-one deltas and the marker is the last one-by-one marker."""
    merged = MergedUpdate()

    def add(into: dict[str, int], counters: dict[str, int]) -> None:
        for name, delta in counters.items():
            into[name] = into.get(name, 0) + delta

    state: dict[str, FirstOrder | None] = {}
    for update in updates:
        add(merged.totals.setdefault(update.day, {}), update.totals)
        for sku, counters in update.skus.items():
            add(merged.skus.setdefault((update.day, sku), {}), counters)
        for sku, name in update.sku_names.items():
            merged.sku_names[(update.day, sku)] = name  # the last one wins, as SET one by one
        if update.customer is not None:
            who = update.customer.email_hash
            resolution = resolve_customer(state.get(who, stored.get(who)), update.customer)
            for day, deltas in resolution.deltas.items():
                add(merged.totals.setdefault(day, {}), deltas)
            if resolution.new_marker is not None:
                state[who] = resolution.new_marker
            else:
                state.setdefault(who, stored.get(who))
    for who, marker in state.items():
        expected = stored.get(who)
        merged.markers[who] = MarkerWrite(None if marker == expected else marker, expected)
    # One-by-one writes drop zero day counters too (a move nets new_customers to 0 on a day, say).
    cleaned = {day: {k: v for k, v in c.items() if v} for day, c in merged.totals.items()}
    merged.totals = {day: c for day, c in cleaned.items() if c}
    return merged
