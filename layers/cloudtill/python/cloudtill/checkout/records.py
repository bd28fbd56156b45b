"""What the checkout domain stores (independent of DynamoDB)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudtill.stock.records import SkuRecord

# A checkout's statuses (`completed` once it became an order).
AWAITING_PAYMENT = "awaiting_payment"
EXPIRED = "expired"
CANCELLED = "cancelled"

# The SKU item as checkout reads it: the catalog's price copy and the stock counters.
SkuSnapshot = SkuRecord


@dataclass(frozen=True, slots=True)
class CheckoutLineRecord:
    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int
    discount: int
    tax: int
    backordered: bool


@dataclass(frozen=True, slots=True)
class PromotionRedemption:
    """The promotion counters a checkout holds: given back when it expires or is cancelled."""

    code: str
    email_hash: str
    max_redemptions: int | None
    max_per_email: int | None


@dataclass(frozen=True)
class CheckoutRecord:
    id: str
    token_hash: str
    status: str
    email: str
    email_hash: str
    phone: str | None
    marketing_consent: bool
    lines: tuple[CheckoutLineRecord, ...]
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    prices_include_tax: bool
    tax_rate_bps: int
    shipping_method: str
    shipping_address: dict[str, Any]
    redemption: PromotionRedemption | None
    created_at: str
    updated_at: str
    expires_at: str
    order_id: str | None = None
    payment: dict[str, Any] | None = None
    # What is reserved per SKU (lines of the same SKU summed), in order of first appearance.
    reserved: dict[str, int] = field(default_factory=dict)
    # Each reserved SKU's backorder limit as read when the reservation was planned (not stored): the
    # checkout's transaction holds its lines' `backordered` on it, so they are exact at commit.
    backorder_limits: dict[str, int] = field(default_factory=dict)
    # Set by the payments webhook when the PaymentIntent succeeded (`outcome` `paid` or `mismatch`): a
    # checkout with one is never expired as unpaid; it becomes an order or is refunded.
    payment_outcome: dict[str, Any] | None = None
    # Marketing channel the storefront named (reports' acquisition); not stored when None.
    channel: str | None = None

    @property
    def promo_code(self) -> str | None:
        return self.redemption.code if self.redemption else None


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    """One SKU's units held by a checkout, next to the checkout item (docs/data-model.md)."""

    checkout_id: str
    sku: str
    quantity: int
    status: str  # held, then released or committed
    expires_at: str
    created_at: str
    released_at: str | None = None
