"""The checkout domain's events (schemas in events/schemas/), built from the checkout record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.outbox import DomainEvent

DOMAIN = "checkout"


# `CheckoutCreated`: what a consumer needs of a new checkout (no token, no address): these attributes
# of the record, and these of each line (events/schemas/CheckoutCreated.json).
CREATED_FIELDS = (
    *("email", "phone", "marketing_consent", "currency", "subtotal", "discount", "shipping", "tax"),
    *("total", "promo_code", "lines", "created_at", "expires_at"),
)
CREATED_LINE_FIELDS = ("sku", "quantity", "unit_price", "backordered")


def _attributes(source: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(source, name) for name in names}


def event(detail_type: str, detail: dict[str, Any], at: datetime) -> DomainEvent:
    return DomainEvent(detail_type=detail_type, domain=DOMAIN, detail=detail, time=at)


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def created_events(record: CheckoutRecord) -> list[DomainEvent]:
    """`CheckoutCreated` and `StockReserved`, written in the checkout's own transaction."""
    at = _parse(record.created_at)
    created = {"checkout_id": record.id, **_attributes(record, CREATED_FIELDS)}
    created["lines"] = [_attributes(line, CREATED_LINE_FIELDS) for line in record.lines]
    backordered = {ln.sku for ln in record.lines if ln.backordered}
    reserved = {
        "checkout_id": record.id,
        "expires_at": record.expires_at,
        "items": [
            {"sku": sku, "quantity": qty, "backordered": sku in backordered}
            for sku, qty in record.reserved.items()
        ],
    }
    return [event("CheckoutCreated", created, at), event("StockReserved", reserved, at)]


def stock_released(record: CheckoutRecord, reason: str, at: datetime) -> DomainEvent:
    """`StockReleased` for a checkout's whole reservation (`reason` `expired` or `cancelled`)."""
    items = [{"sku": sku, "quantity": qty} for sku, qty in record.reserved.items()]
    return event("StockReleased", {"checkout_id": record.id, "reason": reason, "items": items}, at)


def checkout_expired(record: CheckoutRecord, expired_at: str, at: datetime) -> DomainEvent:
    detail = {
        "checkout_id": record.id,
        "expired_at": expired_at,
        "expires_at": record.expires_at,
        "promo_code": record.promo_code,
    }
    return event("CheckoutExpired", detail, at)
