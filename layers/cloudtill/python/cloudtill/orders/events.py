"""The orders domain's events (schemas in events/schemas/Order*.json). Source `cloudtill.orders`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cloudtill.money import round_half_up
from cloudtill.orders import rules
from cloudtill.orders.records import Fulfilment, OrderRecord, OrderReturn, priced_line
from cloudtill.outbox import DomainEvent

DOMAIN = "orders"


def _base(order: OrderRecord) -> dict[str, Any]:
    return {"order_id": order.id, "checkout_id": order.checkout_id, "email": order.email}


def _pick(record: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


# The order's fields that OrderConfirmed carries (events/schemas/OrderConfirmed.json).
_CONFIRMED = (
    "payment_intent_id",
    "currency",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "promo_code",
    "prices_include_tax",
    "shipping_method",
    "shipping_address",
)


def _items(quantities: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"sku": sku, "quantity": qty} for sku, qty in quantities.items()]


def _restocked(order: OrderRecord, quantities: Mapping[str, int]) -> list[dict[str, Any]]:
    """Units back in stock with the FIFO unit cost they go back at (the reports reverse that cost)."""
    return [
        {"sku": sku, "quantity": qty, "unit_cost": line.unit_cost if (line := order.line(sku)) else 0}
        for sku, qty in quantities.items()
    ]


def _refund_tax(order: OrderRecord, refund: int) -> dict[str, Any]:
    """The refund's destination and its share of the order's tax (pro rata of the total): the reports'
    tax refunded per country."""
    share = round_half_up(refund * order.tax, order.total) if order.total > 0 else 0
    return {
        "country": str(order.shipping_address.get("country", "")).upper(),
        "tax_refunded": min(share, order.tax),
    }


def _line_costs(order: OrderRecord, costs: Mapping[str, int] | None) -> list[int]:
    """Each line's share of its SKU's sale cost: `unit_cost x quantity`, the SKU's last line the rest,
    so the lines of a SKU add up to exactly what the stock ledger took."""
    left = dict(costs or {})
    last = {ln.sku: n for n, ln in enumerate(order.lines)}
    shares = []
    for n, ln in enumerate(order.lines):
        share = ln.unit_cost * ln.quantity
        if ln.sku in left:
            share = left[ln.sku] if last[ln.sku] == n else min(share, left[ln.sku])
            left[ln.sku] -= share
        shares.append(share)
    return shares


def order_confirmed(
    order: OrderRecord, time: datetime, costs: Mapping[str, int] | None = None
) -> DomainEvent:
    """`costs`: per SKU, the FIFO cost of goods sold of the sale movement (for the margin report)."""
    line_costs = _line_costs(order, costs)
    detail = {
        **_base(order),
        **_pick(order, _CONFIRMED),
        "lines": [
            {**priced_line(ln), "unit_cost": ln.unit_cost, "cost_of_goods_sold": cost}
            for ln, cost in zip(order.lines, line_costs, strict=True)
        ],
        "confirmed_at": order.created_at,
    }
    if order.channel is not None:  # optional in the schema: absent, never null
        detail["channel"] = order.channel
    return DomainEvent("OrderConfirmed", DOMAIN, detail, time)


def order_shipped(order: OrderRecord, fulfilment: Fulfilment, time: datetime) -> DomainEvent:
    detail = {
        **_base(order),
        "fulfilment_number": fulfilment.number,
        "carrier": fulfilment.carrier,
        "tracking_number": fulfilment.tracking_number,
        "tracking_url": fulfilment.tracking_url,
        "lines": _items(fulfilment.lines),
        "fully_shipped": order.fully_shipped,
        "shipped_at": fulfilment.at,
    }
    return DomainEvent("OrderShipped", DOMAIN, detail, time)


def order_delivered(order: OrderRecord, time: datetime) -> DomainEvent:
    return DomainEvent("OrderDelivered", DOMAIN, {**_base(order), "delivered_at": order.updated_at}, time)


def order_cancelled(order: OrderRecord, reason: str, time: datetime) -> DomainEvent:
    # What the refund ledger had left when it was cancelled: the cancel refunds the rest.
    refund = max(order.total - order.refunded_amount, 0)
    detail = {
        **_base(order),
        "reason": reason,
        "currency": order.currency,
        "refund_amount": refund,
        "restocked": _restocked(order, rules.ordered_quantities(order)),
        **_refund_tax(order, refund),
        "cancelled_at": order.updated_at,
    }
    return DomainEvent("OrderCancelled", DOMAIN, detail, time)


def order_returned(order: OrderRecord, returned: OrderReturn, time: datetime) -> DomainEvent:
    detail = {
        **_base(order),
        "return_number": returned.number,
        "lines": _restocked(order, returned.lines),
        "restocked": returned.restock,
        "currency": order.currency,
        "refund_amount": returned.refund_amount,
        **_refund_tax(order, returned.refund_amount),
        "returned_at": returned.at,
    }
    return DomainEvent("OrderReturned", DOMAIN, detail, time)
