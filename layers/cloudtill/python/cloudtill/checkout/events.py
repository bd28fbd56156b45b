"""The checkout domain's events (schemas in events/schemas/), built from the checkout record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.outbox import DomainEvent

DOMAIN = "checkout"


class _FromRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CreatedLine(_FromRecord):
    sku: str
    quantity: int
    unit_price: int
    backordered: bool


class CheckoutCreated(_FromRecord):
    """`CheckoutCreated`: what a consumer needs of a new checkout (no token, no address)."""

    checkout_id: str = Field(validation_alias="id")
    email: str
    phone: str | None
    marketing_consent: bool
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    promo_code: str | None
    lines: list[CreatedLine]
    created_at: str
    expires_at: str


def event(detail_type: str, detail: dict[str, Any], at: datetime) -> DomainEvent:
    return DomainEvent(detail_type=detail_type, domain=DOMAIN, detail=detail, time=at)


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def created_events(record: CheckoutRecord) -> list[DomainEvent]:
    """`CheckoutCreated` and `StockReserved`, written in the checkout's own transaction."""
    at = _parse(record.created_at)
    created = CheckoutCreated.model_validate(record).model_dump()
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
