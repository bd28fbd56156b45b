"""The orders domain's items (docs/data-model.md): the order `ORDER#<id>` / `ORDER` (entity `order`),
GSI1 `ORDERS#<status>` / `<created_at>#<id>` (admin list by status and day), GSI2 `EMAIL#<hash>` /
`ORDER#<created_at>`; fulfilments `ORDER#<id>` / `FULFILMENT#<nnnn>` and returns `ORDER#<id>` /
`RETURN#<nnnn>`, put once."""

from __future__ import annotations

from typing import Any

from cloudtill import keys
from cloudtill.orders.records import Fulfilment, OrderLine, OrderRecord, OrderReturn, TimelineEntry


def order_fields(order: OrderRecord) -> dict[str, Any]:
    gsi2pk, gsi2sk = keys.customer_index(order.email_hash, order.created_at, "ORDER")
    return {
        "entity": "order",
        "id": order.id,
        "checkout_id": order.checkout_id,
        "token_hash": order.token_hash,
        "status": order.status,
        "email": order.email,
        "email_hash": order.email_hash,
        "lines": [
            {
                "sku": ln.sku,
                "name": ln.name,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "line_total": ln.line_total,
                "discount": ln.discount,
                "tax": ln.tax,
                "unit_cost": ln.unit_cost,
                "shipped": ln.shipped,
                "returned": ln.returned,
            }
            for ln in order.lines
        ],
        "currency": order.currency,
        "subtotal": order.subtotal,
        "discount": order.discount,
        "shipping": order.shipping,
        "tax": order.tax,
        "total": order.total,
        "prices_include_tax": order.prices_include_tax,
        "shipping_method": order.shipping_method,
        "shipping_address": {k: v for k, v in order.shipping_address.items() if v is not None},
        "promo_code": order.promo_code,
        "payment_intent_id": order.payment_intent_id,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "timeline": [{"at": e.at, "event": e.event} for e in order.timeline],
        "fulfilment_count": order.fulfilment_count,
        "return_count": order.return_count,
        "cancel_requested": order.cancel_requested,
        "refunded_amount": order.refunded_amount,
        "version": order.version,
        "GSI1PK": keys.orders_by_status(order.status),
        "GSI1SK": f"{order.created_at}#{order.id}",
        "GSI2PK": gsi2pk,
        "GSI2SK": gsi2sk,
    }


def order_from_item(item: dict[str, Any]) -> OrderRecord:
    return OrderRecord(
        id=item["id"],
        checkout_id=item["checkout_id"],
        token_hash=item["token_hash"],
        status=item["status"],
        email=item["email"],
        email_hash=item["email_hash"],
        lines=tuple(
            OrderLine(
                sku=ln["sku"],
                name=ln["name"],
                quantity=ln["quantity"],
                unit_price=ln["unit_price"],
                line_total=ln["line_total"],
                discount=ln["discount"],
                tax=ln["tax"],
                unit_cost=ln.get("unit_cost", 0),
                shipped=ln.get("shipped", 0),
                returned=ln.get("returned", 0),
            )
            for ln in item["lines"]
        ),
        currency=item["currency"],
        subtotal=item["subtotal"],
        discount=item["discount"],
        shipping=item["shipping"],
        tax=item["tax"],
        total=item["total"],
        prices_include_tax=bool(item["prices_include_tax"]),
        shipping_method=item["shipping_method"],
        shipping_address=dict(item["shipping_address"]),
        promo_code=item.get("promo_code"),
        payment_intent_id=item["payment_intent_id"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        timeline=tuple(TimelineEntry(e["at"], e["event"]) for e in item.get("timeline", [])),
        fulfilment_count=int(item.get("fulfilment_count", 0)),
        return_count=int(item.get("return_count", 0)),
        cancel_requested=bool(item.get("cancel_requested", False)),
        refunded_amount=int(item.get("refunded_amount", 0)),
        version=int(item.get("version", 0)),
    )


def fulfilment_from_item(item: dict[str, Any]) -> Fulfilment:
    return Fulfilment(
        number=int(item["number"]),
        carrier=item["carrier"],
        tracking_number=item["tracking_number"],
        tracking_url=item.get("tracking_url"),
        lines={k: int(v) for k, v in item["lines"].items()},
        at=item["at"],
    )


def return_from_item(item: dict[str, Any]) -> OrderReturn:
    return OrderReturn(
        number=int(item["number"]),
        lines={k: int(v) for k, v in item["lines"].items()},
        restock=bool(item["restock"]),
        refund_amount=int(item["refund_amount"]),
        at=item["at"],
        refund_id=item.get("refund_id"),
    )


def fulfilment_item(order_id: str, fulfilment: Fulfilment) -> dict[str, Any]:
    pk, sk = keys.order_fulfilment(order_id, fulfilment.number)
    return {
        "PK": pk,
        "SK": sk,
        "entity": "fulfilment",
        "order_id": order_id,
        "number": fulfilment.number,
        "carrier": fulfilment.carrier,
        "tracking_number": fulfilment.tracking_number,
        "tracking_url": fulfilment.tracking_url,
        "lines": dict(fulfilment.lines),
        "at": fulfilment.at,
    }


def return_item(order_id: str, order_return: OrderReturn) -> dict[str, Any]:
    pk, sk = keys.order_return(order_id, order_return.number)
    return {
        "PK": pk,
        "SK": sk,
        "entity": "order_return",
        "order_id": order_id,
        "number": order_return.number,
        "lines": dict(order_return.lines),
        "restock": order_return.restock,
        "refund_amount": order_return.refund_amount,
        "at": order_return.at,
    }
