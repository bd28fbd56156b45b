"""The notification service's values: what a delivery is, what happened to it, its configuration,
and the errors that make the queue deliver an event again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudtill.notifications.ports import Channel

# Report summary figures that are amounts in minor units (shown as money when the report has a currency).
MONEY_SUMMARY_FIELDS = frozenset(
    {
        "total_sales",
        "net_sales",
        "gross",
        "net",
        "discounts",
        "shipping",
        "tax",
        "refunds",
        "average_order_value",
        "gross_margin",
    }
)


# Events whose only recipient is `ShopSettings.ops_email`.
OPS_EVENTS = frozenset({"StockLow", "ReportReady"})


class RecipientUnknown(LookupError):
    """The event names a checkout/order we cannot find: the record goes to the DLQ, not to /dev/null."""


class DeliveryInProgress(RuntimeError):
    """Another delivery of the same event is sending this message right now: try again later."""


class DeliveryFailed(RuntimeError):
    """At least one message of the event could not be sent; the others are recorded."""


@dataclass(frozen=True)
class Delivery:
    message: str
    channel: Channel
    address: str
    marketing: bool
    consent: bool
    context: dict[str, Any]
    # The customer was erased (cloudtill.privacy): nothing is sent, nothing recorded.
    erased: bool = False


@dataclass(frozen=True)
class Outcome:
    """What happened to one message (safe to log: the address only as a hash)."""

    message: str
    channel: Channel
    recipient_hash: str
    status: str  # sent | duplicate | suppressed | no_consent | erased | failed


@dataclass
class NotificationConfig:
    sender_email: str
    ops_email: str
    storefront_url: str
    shop_name: str
    extra_headers: dict[str, str] = field(default_factory=dict)
