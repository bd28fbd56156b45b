"""Order request/response models (the API contract; OpenAPI is generated from these)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudtill.catalog.api import Sku
from cloudtill.clock import Timestamp
from cloudtill.payments.refunds import RefundReason

OrderStatusIn = Literal["confirmed", "partially_shipped", "shipped", "delivered", "completed", "cancelled"]
Quantity = Annotated[int, Field(strict=True, ge=1, le=999)]
OrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-11-23"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderLineIn(_Strict):
    sku: Sku
    quantity: Quantity


class FulfilmentIn(_Strict):
    """`POST /admin/orders/{id}/fulfillments`: a shipment; without `lines`, everything not shipped yet."""

    carrier: str = Field(min_length=1, max_length=40, examples=["an_post"])
    tracking_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")
    lines: list[OrderLineIn] | None = Field(default=None, min_length=1, max_length=100)


class ReturnIn(_Strict):
    """`POST /admin/orders/{id}/returns`: shipped units coming back."""

    lines: list[OrderLineIn] = Field(min_length=1, max_length=100)
    restock: bool = Field(description="put the units back on hand (stock ledger `adjust`)")
    refund: bool = Field(description="refund their paid amount, pro rata (shipping is not refunded)")


class OrderLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int
    shipped: int
    returned: int


class FulfilmentOut(BaseModel):
    number: int
    carrier: str
    tracking_number: str
    tracking_url: str | None
    lines: list[OrderLineIn]
    shipped_at: Timestamp


class ReturnOut(BaseModel):
    number: int
    lines: list[OrderLineIn]
    restocked: bool
    refund_amount: int
    returned_at: Timestamp


class TimelineOut(BaseModel):
    at: Timestamp
    event: str


class OrderOut(BaseModel):
    """An order as its shopper sees it (`GET /orders/{id}` with the checkout's `X-Checkout-Token`)."""

    id: str
    status: str
    lines: list[OrderLineOut]
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    payment_status: str = Field(description="paid | partially_refunded | refunded")
    fulfillments: list[FulfilmentOut]
    timeline: list[TimelineOut]


class AdminOrderOut(OrderOut):
    """What ops see: the shopper's view plus contact, address, payment and returns."""

    checkout_id: str
    email: str
    shipping_method: str
    shipping_address: dict[str, str]
    promo_code: str | None
    payment_intent_id: str
    cancel_requested: bool
    refunded_amount: int
    returns: list[ReturnOut]
    created_at: Timestamp
    updated_at: Timestamp


class OrderSummaryOut(BaseModel):
    id: str
    status: str
    email: str
    currency: str
    total: int
    created_at: Timestamp


class OrderPageOut(BaseModel):
    items: list[OrderSummaryOut]
    next_cursor: str | None


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(default=None, gt=0, description="minor units; default: all that remains")
    reason: RefundReason = "requested_by_customer"
    note: str | None = Field(default=None, max_length=500, description="kept in Stripe's metadata")


class RefundOut(BaseModel):
    order_id: str
    payment_intent_id: str
    refund_id: str
    amount: int
    currency: str
    status: str = Field(description="Stripe's refund status; recorded when charge.refunded arrives")
    idempotency_key: str = Field(
        description="the refund's key (the header's, or one made for it): retry with it, never twice"
    )
