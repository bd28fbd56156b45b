"""The parts of Stripe's objects the payments domain reads, as pydantic models.

Unknown fields are ignored, and every field we do not strictly need is optional, so a newer Stripe
API version (or localstripe's older shapes, e.g. `latest_charge` expanded to an object) still parses.
Amounts are integer minor units, currencies are lower case as Stripe sends them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StripeObject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _id_of(value: str | dict[str, Any] | None) -> str | None:
    """A Stripe reference is an id, or the object itself when expanded."""
    if isinstance(value, dict):
        found = value.get("id")
        return str(found) if found else None
    return value


class PaymentError(StripeObject):
    code: str | None = None
    decline_code: str | None = None
    type: str | None = None


class PaymentIntent(StripeObject):
    object: Literal["payment_intent"] = "payment_intent"
    id: str
    amount: int
    amount_received: int | None = None
    currency: str
    status: str
    capture_method: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    latest_charge: str | dict[str, Any] | None = None
    last_payment_error: PaymentError | None = None

    @property
    def latest_charge_id(self) -> str | None:
        return _id_of(self.latest_charge)

    @property
    def received(self) -> int:
        """What the customer paid: `amount_received` when Stripe sends it, else the intent's amount."""
        return self.amount_received if self.amount_received is not None else self.amount


class Refund(StripeObject):
    object: Literal["refund"] = "refund"
    id: str
    amount: int
    currency: str
    status: str | None = None
    charge: str | dict[str, Any] | None = None
    payment_intent: str | dict[str, Any] | None = None
    reason: str | None = None


class RefundList(StripeObject):
    data: list[Refund] = Field(default_factory=list)
    has_more: bool = False


class Charge(StripeObject):
    object: Literal["charge"] = "charge"
    id: str
    amount: int
    amount_captured: int | None = None
    amount_refunded: int = 0
    currency: str
    status: str | None = None
    payment_intent: str | dict[str, Any] | None = None
    # Not included by default since API version 2022-11-15; localstripe includes it.
    refunds: RefundList | None = None

    @property
    def payment_intent_id(self) -> str | None:
        return _id_of(self.payment_intent)


class Dispute(StripeObject):
    object: Literal["dispute"] = "dispute"
    id: str
    amount: int
    currency: str
    charge: str | dict[str, Any] | None = None
    payment_intent: str | dict[str, Any] | None = None
    reason: str | None = None
    status: str | None = None

    @property
    def charge_id(self) -> str | None:
        return _id_of(self.charge)

    @property
    def payment_intent_id(self) -> str | None:
        return _id_of(self.payment_intent)


class EventData(StripeObject):
    object: dict[str, Any]


class Event(StripeObject):
    """A webhook event (snapshot payload). `data.object` is parsed per type by the webhook logic."""

    object: Literal["event"] = "event"
    id: str = Field(min_length=1, max_length=255)
    type: str
    created: int
    livemode: bool = False
    api_version: str | None = None
    data: EventData
