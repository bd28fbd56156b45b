"""What the orders domain stores (independent of DynamoDB), and its statuses.

Status flow (docs/orders.md):

    confirmed -> partially_shipped -> shipped -> delivered -> completed
    confirmed -> cancelled            (admin cancel before anything shipped: refund + restock)

Returns do not change the status; they are listed on the order with their refunds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OrderStatus = Literal["confirmed", "partially_shipped", "shipped", "delivered", "completed", "cancelled"]
ORDER_STATUSES: tuple[str, ...] = (
    "confirmed",
    "partially_shipped",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: str
    event: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int
    discount: int
    tax: int
    # FIFO cost of one unit at the sale (cost of goods sold / quantity): restocked units go back
    # into the FIFO layers at this cost.
    unit_cost: int
    shipped: int = 0
    returned: int = 0

    @property
    def unshipped(self) -> int:
        return self.quantity - self.shipped


# The fields of an order line that come from the checkout line it was bought as (the priced line, as
# the shopper saw it): what the line's OrderConfirmed detail carries too.
PRICED_LINE_FIELDS = ("sku", "name", "quantity", "unit_price", "line_total", "discount", "tax")


def priced_line(line: object) -> dict[str, Any]:
    """The priced fields of an order line, or of the checkout line an order line is made from."""
    return {name: getattr(line, name) for name in PRICED_LINE_FIELDS}


@dataclass(frozen=True, slots=True)
class Fulfilment:
    number: int
    carrier: str
    tracking_number: str
    tracking_url: str | None
    lines: dict[str, int]
    at: str


@dataclass(frozen=True, slots=True)
class OrderReturn:
    number: int
    lines: dict[str, int]
    restock: bool
    refund_amount: int
    at: str
    refund_id: str | None = None


@dataclass(frozen=True)
class OrderRecord:
    id: str
    checkout_id: str
    token_hash: str
    status: str
    email: str
    email_hash: str
    lines: tuple[OrderLine, ...]
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    prices_include_tax: bool
    shipping_method: str
    shipping_address: dict[str, Any]
    promo_code: str | None
    payment_intent_id: str
    created_at: str
    updated_at: str
    timeline: tuple[TimelineEntry, ...] = ()
    fulfilment_count: int = 0
    return_count: int = 0
    cancel_requested: bool = False
    refunded_amount: int = 0  # refunds this domain requested (cancel, returns)
    version: int = 0
    # Marketing channel of the checkout (reports' acquisition); not stored when None.
    channel: str | None = None

    def line(self, sku: str) -> OrderLine | None:
        return next((ln for ln in self.lines if ln.sku == sku), None)

    @property
    def fully_shipped(self) -> bool:
        return all(ln.shipped >= ln.quantity for ln in self.lines)


@dataclass(frozen=True)
class OrderView:
    """An order with its fulfilments and returns (one Query of the order's partition), or the order
    alone (one GetItem: `fulfilments`/`returns` empty). `task_token` is the token the waiting
    workflow task stored on the order item, as of the same read."""

    order: OrderRecord
    fulfilments: tuple[Fulfilment, ...] = ()
    returns: tuple[OrderReturn, ...] = field(default_factory=tuple)
    task_token: str | None = None
