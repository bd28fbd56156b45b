"""Pure aggregation: what one domain event adds to the daily counters (docs/reporting.md).

A consumer turns each event into an `AggregateUpdate` (counter increments for one local day, per-SKU
increments, the order's lines) or a stock-level change; the DynamoDB adapter applies an update in one
transaction with the event's dedupe marker, so a redelivered event is counted once. Nothing here knows
about SQS, EventBridge or DynamoDB.

Which day: the event's own timestamp (`confirmed_at`, `created_at`, ... or the envelope's `time` for
events without one), converted to the shop's time zone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cloudtill.reporting.customers import (
    UNATTRIBUTED,
    CustomerOrder,
    CustomerState,
    customer_id,
    order_deltas,
)

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
    "cogs",
    "cogs_reversed",
    "tax_refunded",
    "repeat_customers",
)
SKU_COUNTERS: tuple[str, ...] = ("units", "revenue", "orders", "units_returned")
# Per SKU, for the margin: revenue net of tax, FIFO cost of the units sold and of the units restocked.
SKU_MARGIN_COUNTERS: tuple[str, ...] = ("net_revenue", "cogs", "cogs_reversed")


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
    # Tax per destination country: `collected` (orders) and `refunded` (cancellations, returns).
    taxes: dict[str, dict[str, int]] = field(default_factory=dict)


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
    # The SKU's name from the event ("" when it named none: the stored name is kept).
    name: str = ""


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
                update = AggregateUpdate(event.event_id, day, totals={"cancelled_orders": 1})
                return _reversal(update, d, d["restocked"])
            case "OrderReturned":
                units: dict[str, int] = defaultdict(int)
                for line in d["lines"]:
                    units[line["sku"]] += int(line["quantity"])
                update = AggregateUpdate(
                    event.event_id,
                    day,
                    totals={"returns": 1, "units_returned": sum(units.values())},
                    skus={sku: {"units_returned": q} for sku, q in units.items()},
                )
                return _reversal(update, d, d["lines"] if d.get("restocked") else [])
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
                    name=str(d.get("name") or ""),
                )
            case "StockLow":
                return StockThreshold(d["sku"], int(d["low_stock_threshold"]), int(d["available"]))
    except (KeyError, TypeError, ValueError) as error:
        raise UnusableEvent(f"{event.detail_type} {event.event_id}: {error}") from error
    return None


def _order_confirmed(event: IncomingEvent, day: str) -> AggregateUpdate:
    d = event.detail
    skus: dict[str, dict[str, int]] = defaultdict(
        lambda: {"units": 0, "revenue": 0, "orders": 1, "net_revenue": 0, "cogs": 0}
    )
    names: dict[str, str] = {}
    included = _prices_include_tax(d)
    for line in d["lines"]:
        counters = skus[line["sku"]]
        counters["units"] += int(line["quantity"])
        # Revenue of a line: its shelf amount after its share of the discount (as the shopper paid).
        counters["revenue"] += int(line["line_total"]) - int(line["discount"])
        counters["net_revenue"] += (
            int(line["line_total"]) - int(line["discount"]) - (int(line["tax"]) if included else 0)
        )
        # The FIFO cost the stock ledger took for the line (the sale movement's cost of goods sold).
        counters["cogs"] += int(line.get("cost_of_goods_sold", 0))
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
        "cogs": sum(c["cogs"] for c in skus.values()),
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
    who = customer_id(d)
    customer = (
        CustomerOrder(
            who, d["order_id"], confirmed_at, day, int(d["total"]), str(d.get("channel") or UNATTRIBUTED)
        )
        if who
        else None
    )
    country = _country(d)
    return AggregateUpdate(
        event.event_id,
        day,
        totals={k: v for k, v in totals.items() if v},
        skus=dict(skus),
        sku_names=names,
        order_lines=order_lines,
        customer=customer,
        taxes={country: {"collected": int(d["tax"])}} if int(d["tax"]) else {},
    )


def _prices_include_tax(d: dict[str, Any]) -> bool:
    """As the order says; events without the flag: tax-inclusive lines sum above the net subtotal."""
    if "prices_include_tax" in d:
        return bool(d["prices_include_tax"])
    return sum(int(ln["line_total"]) for ln in d["lines"]) != int(d["subtotal"])


def _country(d: dict[str, Any]) -> str:
    return str(d.get("country") or (d.get("shipping_address") or {}).get("country") or "ZZ").upper()


def _reversal(update: AggregateUpdate, d: dict[str, Any], restocked: list[dict[str, Any]]) -> AggregateUpdate:
    """Restocked units go back into the FIFO layers at `unit_cost` (the cost they were sold at), so
    their cost leaves the cost of goods sold; the refund's tax is counted for its destination."""
    reversed_cost: dict[str, int] = defaultdict(int)
    for line in restocked:
        reversed_cost[line["sku"]] += int(line["quantity"]) * int(line.get("unit_cost", 0))
    for sku, cost in reversed_cost.items():
        if cost:
            update.skus.setdefault(sku, {})["cogs_reversed"] = cost
    total_cost = sum(reversed_cost.values())
    if total_cost:
        update.totals["cogs_reversed"] = total_cost
    tax_refunded = int(d.get("tax_refunded", 0))
    if tax_refunded:
        update.totals["tax_refunded"] = tax_refunded
        update.taxes[_country(d)] = {"refunded": tax_refunded}
    return update


def days_back(day: str, count: int) -> list[str]:
    """`count` days ending with `day` (inclusive), oldest first."""
    end = date.fromisoformat(day).toordinal()
    return [date.fromordinal(n).isoformat() for n in range(end - count + 1, end + 1)]


@dataclass(frozen=True)
class MarkerWrite:
    """What a batch does to one customer's state item: write `state`, conditional on `expected` being
    the stored one (None: no item yet)."""

    state: CustomerState
    expected: CustomerState | None


def _add(into: dict[str, int], counters: dict[str, int]) -> None:
    for name, delta in counters.items():
        into[name] = into.get(name, 0) + delta


def _nonzero(by_key: dict[Any, dict[str, int]]) -> dict[Any, dict[str, int]]:
    cleaned = {key: {k: v for k, v in c.items() if v} for key, c in by_key.items()}
    return {key: c for key, c in cleaned.items() if c}


@dataclass
class MergedUpdate:
    """Several updates as one write per item (a transaction may not touch an item twice): day counters
    per day, SKU counters per (day, SKU), tax per (day, country), cohort cells per (cohort, month),
    the customers' states. Applied with every update's dedupe marker in one transaction, it changes
    exactly what applying them one by one would."""

    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    skus: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    sku_names: dict[tuple[str, str], str] = field(default_factory=dict)
    taxes: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    cells: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    markers: dict[str, MarkerWrite] = field(default_factory=dict)


def merge_updates(updates: list[AggregateUpdate], stored: dict[str, CustomerState | None]) -> MergedUpdate:
    """Sum `updates` per item. `stored` is the customers' states as believed stored (missing: none);
    each customer's orders are folded from it, in order, so the deltas are the sum of the one-by-one
    deltas and the state is the last one-by-one state."""
    merged = MergedUpdate()
    state: dict[str, CustomerState] = {}
    for update in updates:
        _add(merged.totals.setdefault(update.day, {}), update.totals)
        for sku, counters in update.skus.items():
            _add(merged.skus.setdefault((update.day, sku), {}), counters)
        for sku, name in update.sku_names.items():
            merged.sku_names[(update.day, sku)] = name  # the last one wins, as SET one by one
        for country, counters in update.taxes.items():
            _add(merged.taxes.setdefault((update.day, country), {}), counters)
        if update.customer is not None:
            who = update.customer.email_hash
            after, deltas = order_deltas(state.get(who, stored.get(who)), update.customer)
            state[who] = after
            for day, counters in deltas.days.items():
                _add(merged.totals.setdefault(day, {}), counters)
            for cell, counters in deltas.cells.items():
                _add(merged.cells.setdefault(cell, {}), counters)
    for who, after in state.items():
        merged.markers[who] = MarkerWrite(after, stored.get(who))
    # One-by-one writes drop zero counters too (a move nets new_customers to 0 on a day, say).
    merged.totals = _nonzero(merged.totals)
    merged.cells = _nonzero(merged.cells)
    return merged
