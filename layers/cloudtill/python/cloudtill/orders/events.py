"""The orders domain's events (schemas in events/schemas/Order*.json). Source `cloudtill.orders`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

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
    "shipping_method",
    "shipping_address",
)


def _items(quantities: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"sku": sku, "quantity": qty} for sku, qty in quantities.items()]


def order_confirmed(order: OrderRecord, time: datetime) -> DomainEvent:
    detail = {
        **_base(order),
        **_pick(order, _CONFIRMED),
        "lines": [priced_line(ln) for ln in order.lines],
        "confirmed_at": order.created_at,
    }
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
    detail = {
        **_base(order),
        "reason": reason,
        "currency": order.currency,
        # What the refund ledger had left when it was cancelled: the cancel refunds the rest.
        "refund_amount": max(order.total - order.refunded_amount, 0),
        "restocked": _items(rules.ordered_quantities(order)),
        "cancelled_at": order.updated_at,
    }
    return DomainEvent("OrderCancelled", DOMAIN, detail, time)


def order_returned(order: OrderRecord, returned: OrderReturn, time: datetime) -> DomainEvent:
    detail = {
        **_base(order),
        "return_number": returned.number,
        "lines": _items(returned.lines),
        "restocked": returned.restock,
        "currency": order.currency,
        "refund_amount": returned.refund_amount,
        "returned_at": returned.at,
    }
    return DomainEvent("OrderReturned", DOMAIN, detail, time)
