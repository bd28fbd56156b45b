"""Publishing domain events to EventBridge: the one adapter every publisher goes through.

Entries are sent in batches of at most 10 (PutEvents' limit); entries EventBridge refuses are returned
to the caller, never dropped, so the caller can retry them (the outbox publisher reports them as
partial batch failures and the stream redelivers).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

MAX_ENTRIES_PER_CALL = 10


@dataclass(frozen=True)
class OutgoingEvent:
    """An event envelope as stored in the outbox (see cloudtill.outbox)."""

    id: str
    detail_type: str
    source: str
    time: str
    detail: dict[str, Any]

    @classmethod
    def from_envelope(cls, envelope: dict[str, Any]) -> OutgoingEvent:
        return cls(
            id=envelope["id"],
            detail_type=envelope["detail_type"],
            source=envelope["source"],
            time=envelope["time"],
            detail=envelope["detail"],
        )


class EventPublisher(Protocol):
    def publish(self, events: Sequence[OutgoingEvent]) -> list[OutgoingEvent]:
        """Publish; return the events that were NOT accepted (empty when all were)."""


class EventBridgePublisher:
    def __init__(self, bus_name: str, client: Any | None = None) -> None:
        self._bus = bus_name
        self._client = client

    def _events_client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("events")
        return self._client

    def _entry(self, event: OutgoingEvent) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "EventBusName": self._bus,
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":")),
        }
        # When it happened, not when it was published: consumers (daily aggregates) place events on
        # days by it, and a publisher catching up after an outage must not move them. Not a timestamp:
        # EventBridge stamps the publish time.
        with contextlib.suppress(ValueError):
            entry["Time"] = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
        trace_header = os.environ.get("_X_AMZN_TRACE_ID")
        if trace_header:  # joins the publisher's X-Ray trace with the consumers'
            entry["TraceHeader"] = trace_header
        return entry

    def publish(self, events: Sequence[OutgoingEvent]) -> list[OutgoingEvent]:
        refused: list[OutgoingEvent] = []
        for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
            batch = list(events[start : start + MAX_ENTRIES_PER_CALL])
            response = self._events_client().put_events(Entries=[self._entry(e) for e in batch])
            if response.get("FailedEntryCount", 0):
                # Results are positional: an entry with an ErrorCode was not accepted.
                results = response.get("Entries", [])
                refused += [e for e, r in zip(batch, results, strict=False) if r.get("ErrorCode")]
                refused += batch[len(results) :]
        return refused
