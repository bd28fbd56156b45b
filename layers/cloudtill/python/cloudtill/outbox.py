"""Transactional outbox: a domain event is an item written in the same DynamoDB transaction as the
state change it describes. The table's stream carries it to the publisher, which puts it on
EventBridge. So no event is published for a change that did not commit, and no
committed change loses its event.

Outbox item: PK `OUTBOX#<event id>`, SK `EVENT`, `entity = "outbox"`, the envelope fields, and a TTL
(`ttl`, epoch seconds) a week later; the stream, not the item, is what gets published.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloudtill import ddb
from cloudtill.clock import iso

SOURCE_PREFIX = "cloudtill."
RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class DomainEvent:
    """An event as consumers see it: EventBridge `detail-type`, `source`, and `detail`."""

    detail_type: str
    domain: str
    detail: dict[str, Any]
    time: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def source(self) -> str:
        return SOURCE_PREFIX + self.domain

    def envelope(self) -> dict[str, Any]:
        """The event as stored and published (`detail.event_id` lets consumers deduplicate)."""
        return {
            "id": self.id,
            "detail_type": self.detail_type,
            "source": self.source,
            "time": iso(self.time),
            "detail": {**self.detail, "event_id": self.id},
        }


def outbox_item(event: DomainEvent) -> dict[str, Any]:
    return {
        "PK": f"OUTBOX#{event.id}",
        "SK": "EVENT",
        "entity": "outbox",
        **event.envelope(),
        "ttl": int((event.time + RETENTION).timestamp()),
    }


def outbox_put(table_name: str, event: DomainEvent) -> dict[str, Any]:
    """The TransactWriteItems `Put` that records `event` alongside the change it describes."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": ddb.to_item(outbox_item(event)),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }
