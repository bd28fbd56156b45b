"""Ports of the notifications domain (Protocols) and the values that cross them.

Adapters: `aws.SesMailer`, `aws.SnsSmsSender`, `aws.S3ReportLinks` (AWS and local), `dynamo.*` (main
table); in-memory fakes for unit tests live in tests/fakes.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Channel = Literal["email", "sms"]
# Final statuses of a notification record: a redelivery of the event finds one and does nothing.
FINAL_STATUSES = frozenset({"sent", "suppressed", "no_consent"})


def address_hash(address: str) -> str:
    """SHA-256 of a normalised address: the only form an address takes in keys and logs."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def recipient_hash(channel: Channel, address: str) -> str:
    """Identifies (channel, address) in the notification record's key: e-mail and SMS are separate."""
    return address_hash(f"{channel}:{address.strip().lower()}")


# The message tag naming the notification record an e-mail was sent for: SES repeats it in the events
# it publishes, so its Send event can confirm that record (cloudtill.notifications.feedback).
NOTIFICATION_TAG = "notification"
_HEX = frozenset("0123456789abcdef")


def notification_tag(event_id: str, recipient: str) -> str:
    """The record's key as a tag value: hex only (SES tag values allow letters, digits, `_ - .`), and
    no address (the recipient is already its hash)."""
    return f"{event_id.encode().hex()}_{recipient}"


def parse_notification_tag(value: str) -> tuple[str, str] | None:
    """(event id, recipient hash) from `notification_tag`'s value, or None if it is not one."""
    encoded, _, recipient = value.partition("_")
    if not encoded or not recipient or not set(encoded + recipient) <= _HEX:
        return None
    try:
        return bytes.fromhex(encoded).decode(), recipient
    except ValueError:
        return None


@dataclass(frozen=True)
class Email:
    """One rendered e-mail to one recipient. `tags` travel with the message (event id, message, the
    notification record)."""

    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContactLine:
    name: str
    quantity: int
    unit_price: int
    line_total: int


@dataclass(frozen=True)
class Contact:
    """What a checkout (or the order made from it) tells about how to reach the shopper."""

    email: str
    phone: str | None
    marketing_consent: bool
    currency: str
    total: int
    lines: tuple[ContactLine, ...] = ()
    order_id: str | None = None
    status: str | None = None


class Mailer(Protocol):
    def send(self, email: Email) -> str:
        """Sends `email`; returns the provider's message id. Raises on any failure (retried by SQS)."""
        ...


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> str: ...


@dataclass(frozen=True)
class ReportLink:
    """A time-limited link to a report file. `url` is a bearer credential (its signature grants the
    read): it goes into the e-mail and nowhere else, never into a log, an event or a record."""

    url: str = field(repr=False)
    expires_at: datetime  # timezone-aware


class ReportLinks(Protocol):
    def link(self, key: str) -> ReportLink:
        """A link that lets whoever holds it GET the report file `key` until `expires_at`."""
        ...


@dataclass(frozen=True)
class ClaimResult:
    """`proceed`: this delivery sends. Otherwise `status` is why not (final, or another delivery is
    sending right now)."""

    proceed: bool
    status: str | None = None
    attempts: int = 0


class NotificationLog(Protocol):
    """One record per (event, recipient): the two-phase guard that makes sends exactly-once in effect."""

    def claim(self, event_id: str, recipient: str, message: str, channel: Channel) -> ClaimResult:
        """Marks the record `sending` unless it is final or another delivery claimed it recently."""
        ...

    def finish(self, event_id: str, recipient: str, status: str, details: dict[str, Any]) -> None:
        """Records the outcome: `sent` (with the provider id), `failed`, `suppressed`, `no_consent`.
        A record SES already confirmed as `sent` stays as it is (no error)."""
        ...

    def confirm_sent(self, event_id: str, recipient: str, provider_message_id: str) -> bool:
        """SES says it accepted the message: the record becomes `sent` if it is `sending` or `failed`
        (never changes a final one). True if this call made it `sent`."""
        ...


class Suppressions(Protocol):
    def is_suppressed(self, email: str) -> bool: ...

    def suppress(self, email: str, reason: str, feedback_id: str) -> None: ...


class Contacts(Protocol):
    def of_checkout(self, checkout_id: str) -> Contact | None: ...

    def email_of_order(self, order_id: str) -> str | None: ...


@dataclass(frozen=True)
class ReadAhead:
    """Items a batch of events is about to read through `Contacts`, `Suppressions` and
    `NotificationLog`: checkouts and orders by id, suppression entries by address, notification records
    by (event id, recipient hash)."""

    checkouts: frozenset[str] = frozenset()
    orders: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    records: frozenset[tuple[str, str]] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.checkouts or self.orders or self.emails or self.records)


class Prefetcher(Protocol):
    """Reads a whole batch's items in as few round trips as possible (one BatchGetItem per 100 keys).
    Until `forget`, the other ports answer those reads from what was fetched; writes always go to the
    table, so what a prefetched read decides is only ever "skip" for a record already final."""

    def prefetch(self, wanted: ReadAhead) -> None: ...

    def forget(self) -> None:
        """Drops everything prefetched: nothing read for one batch is trusted in the next."""
        ...


class NoPrefetch:
    """Every read is its own round trip (the in-memory fakes need nothing else)."""

    def prefetch(self, wanted: ReadAhead) -> None:
        return None

    def forget(self) -> None:
        return None
