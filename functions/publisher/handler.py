"""Outbox publisher: the table's stream -> EventBridge.

Each outbox item inserted by a committed transaction arrives here as a stream record and is put on the
event bus, in batches of 10. Records whose events EventBridge refused (or that came after a failure) are
reported as batch item failures, so the stream delivers them again: no committed event is lost, and
consumers deduplicate by `detail.event_id`.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill import ddb
from cloudtill.events import EventBridgePublisher, EventPublisher, OutgoingEvent
from cloudtill.observability import logger, metrics
from cloudtill.settings import get_settings

settings = get_settings()


@functools.cache
def publisher() -> EventPublisher:
    return EventBridgePublisher(settings.event_bus_name)


def outbox_events(records: list[dict[str, Any]]) -> list[tuple[str, OutgoingEvent]]:
    """(sequence number, event) for every newly inserted outbox item, in stream order."""
    found = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue
        image = record.get("dynamodb", {}).get("NewImage")
        if not image:
            continue
        item = ddb.from_item(image)
        if item.get("entity") != "outbox":
            continue
        found.append((record["dynamodb"]["SequenceNumber"], OutgoingEvent.from_envelope(item)))
    return found


def publish_records(records: list[dict[str, Any]], events_publisher: EventPublisher) -> dict[str, Any]:
    pending = outbox_events(records)
    refused = {e.id for e in events_publisher.publish([event for _, event in pending])}
    failures = [sequence for sequence, event in pending if event.id in refused]
    metrics.add_metric(name="EventsPublished", unit="Count", value=len(pending) - len(failures))
    if failures:
        metrics.add_metric(name="EventsRefused", unit="Count", value=len(failures))
        logger.warning(
            "EventBridge refused events; the stream will redeliver", extra={"refused": len(failures)}
        )
    # For a stream, Lambda retries from the lowest failed sequence number on.
    return {"batchItemFailures": [{"itemIdentifier": min(failures, key=int)}] if failures else []}


@logger.inject_lambda_context
@metrics.log_metrics
def stream_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return publish_records(event.get("Records", []), publisher())
