"""Checkout request/response models (the API contract; OpenAPI is generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from cloudtill import transaction_sizes
from cloudtill.catalog.api import Sku
from cloudtill.checkout.pricing import ShippingOption
from cloudtill.checkout.records import CheckoutRecord
from cloudtill.clock import Timestamp
from cloudtill.reporting.api import Channel

MAX_LINES = 100
# As many distinct SKUs as every transaction of the checkout's life fits in the worst case (the
# order's confirmation is the widest: 19). Derived in `cloudtill.transaction_sizes`; docs/checkout.md.
MAX_DISTINCT_SKUS = transaction_sizes.MAX_DISTINCT_SKUS
MAX_QUANTITY = 999

CheckoutStatus = Literal["awaiting_payment", "expired", "cancelled", "completed"]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", examples=["IE"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineIn(_Strict):
    sku: Sku
    quantity: Quantity


class AddressIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: CountryCode


class CheckoutIn(_Strict):
    """Body of `POST /checkouts`. Prices are never taken from the client."""

    # Built on first validation, not at import: `EmailStr` loads email_validator (about 40 ms with
    # byte code, 90 ms without), which only this route needs, not reading a checkout or the shipping
    # methods or the expiry sweep.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    email: EmailStr = Field(max_length=254)
    lines: list[LineIn] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="Lines of the same SKU are merged into one (quantities summed). At most 19 different "
        "SKUs, and at most the shop's `max_quantity_per_sku` units of a SKU (default 10) across its "
        "lines: beyond that 422 naming `lines[i].quantity`.",
    )
    shipping_address: AddressIn
    shipping_method: str | None = Field(default=None, min_length=1, max_length=40)
    promo_code: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,32}$")
    marketing_consent: bool = False
    channel: Channel | None = Field(
        default=None,
        description="Marketing channel the shopper came from (the words of `POST /admin/marketing-spend`): "
        "the report's acquisition counts a customer's first order under it, else `unattributed`",
    )


class CheckoutLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: int = Field(description="catalog price, minor units")
    line_total: int = Field(description="unit_price * quantity, minor units")
    backordered: bool = Field(
        description="units reserved beyond stock (within the backorder limit), as of the reservation's commit"
    )


class AddressOut(BaseModel):
    name: str
    line1: str
    line2: str | None
    city: str
    postal_code: str
    country: str

    @model_validator(mode="before")
    @classmethod
    def _line2_absent(cls, data: Any) -> Any:
        # A stored address leaves out an absent `line2`; the API shows it as null.
        return {"line2": None, **data} if isinstance(data, dict) else data


class PaymentOut(BaseModel):
    """Where the shopper pays: the client secret goes to Stripe.js in the shopper's browser only."""

    provider: Literal["stripe"]
    payment_intent_id: str
    client_secret: str
    status: str = Field(
        description="The PaymentIntent's status as last reported by Stripe: requires_payment_method "
        "(also after a decline: pay again with another card), requires_action (3-D Secure), "
        "succeeded, canceled"
    )
    failure_code: str | None = Field(
        default=None, description="Why the last attempt failed (e.g. card_declined), until one succeeds"
    )


class CheckoutOut(BaseModel):
    """A checkout as its owner sees it. Always ``subtotal - discount + shipping + tax == total``."""

    id: str
    status: CheckoutStatus
    email: str
    lines: list[CheckoutLineOut] = Field(
        description="One line per SKU, in the order each SKU first appears in the request (lines of the "
        "same SKU are merged, quantities summed)"
    )
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    prices_include_tax: bool
    tax_rate_bps: int
    shipping_method: str
    shipping_address: AddressOut
    promo_code: str | None
    created_at: Timestamp
    expires_at: Timestamp
    order_id: str | None = None
    payment: PaymentOut | None = Field(default=None, description="The payment to complete with Stripe.js")


class CreatedCheckoutOut(CheckoutOut):
    """`POST /checkouts` answer: the checkout plus its access token (shown once; only a hash is kept)."""

    token: str = Field(description="send as X-Checkout-Token to read the checkout")


class ShippingMethodsOut(BaseModel):
    """`GET /shipping-methods?country=XX`: the methods shipping there, cheapest first."""

    country: str
    currency: str
    methods: list[ShippingOption]


class ExpirySweepResult(BaseModel):
    """What one run of the `release-expired-checkouts` schedule did."""

    expired: int
    already_released: int
    # Paid, so not expired: they become orders, or the settle-paid-checkouts sweep refunds them.
    paid: int = 0
    # Checkouts whose release failed (logged, counted in the CheckoutExpiryFailed metric); the next
    # run tries them again.
    failed: int = 0


def checkout_out(record: CheckoutRecord) -> CheckoutOut:
    """A checkout as its owner sees it, from its record (fields of the same name)."""
    return CheckoutOut.model_validate(record, from_attributes=True)
