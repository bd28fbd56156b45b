"""The consumed events (EventBridge envelope + the `detail` fields notifications read).

Lenient on purpose (`extra="ignore"`): producers own their schemas (events/schemas/*.json) and may add
fields; a consumer must keep working when they do. Fields the messages need are required.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1)


class IncomingEvent(BaseModel):
    """An EventBridge event as the SQS queue delivers it (the message body)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        """The domain event id consumers deduplicate by (stable across republishing)."""
        return str(self.detail.get("event_id") or self.id)


class AddressDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str


class OrderLineDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int
    discount: int = 0
    tax: int = 0


class OrderConfirmed(_Detail):
    order_id: str
    checkout_id: str
    email: str | None = None
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    promo_code: str | None = None
    shipping_method: str | None = None
    shipping_address: AddressDetail
    lines: list[OrderLineDetail]


class ShippedLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sku: str
    quantity: int


class OrderShipped(_Detail):
    order_id: str
    checkout_id: str
    email: str | None = None
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    lines: list[ShippedLine] = Field(default_factory=list)
    fully_shipped: bool = True


class OrderDelivered(_Detail):
    order_id: str
    checkout_id: str
    email: str | None = None


class OrderCancelled(_Detail):
    order_id: str
    checkout_id: str
    email: str | None = None
    reason: str | None = None
    currency: str
    refund_amount: int


class PaymentFailed(_Detail):
    checkout_id: str
    failure_code: str | None = None
    retryable: bool


class RefundIssued(_Detail):
    checkout_id: str
    amount: int
    currency: str
    refunded_total: int
    fully_refunded: bool


class CheckoutExpired(_Detail):
    checkout_id: str


class StockLow(_Detail):
    sku: str
    on_hand: int
    reserved: int
    available: int
    low_stock_threshold: int
    cause: str | None = None


class ReportReady(_Detail):
    """The nightly report is ready (reporting domain). `summary` is shown as the report lists it."""

    date: str
    url: str | None = Field(default=None, validation_alias=AliasChoices("url", "report_url"))
    # Where the HTML report lies in the reports bucket (the e-mail names it; see docs/notifications.md).
    html_key: str | None = None
    currency: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    # The ISO week's and the month's reports to date: {"week"|"month": {"label", "json", "html"}}.
    periods: dict[str, dict[str, str]] = Field(default_factory=dict)


DETAIL_MODELS: dict[str, type[_Detail]] = {
    "OrderConfirmed": OrderConfirmed,
    "OrderShipped": OrderShipped,
    "OrderDelivered": OrderDelivered,
    "OrderCancelled": OrderCancelled,
    "PaymentFailed": PaymentFailed,
    "RefundIssued": RefundIssued,
    "CheckoutExpired": CheckoutExpired,
    "StockLow": StockLow,
    "ReportReady": ReportReady,
}
# What the notifications subscription consumes (infra/wiring.py uses this list).
CONSUMED_DETAIL_TYPES: tuple[str, ...] = tuple(DETAIL_MODELS)
