"""The transactional outbox end to end: a committed outbox item reaches the event bus through the table
stream and the publisher, and an outage of the publisher between the write and the publish loses nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import httpx
from cloudtill import ddb
from cloudtill.outbox import DomainEvent, outbox_item

from tests.integration.conftest import RunningBackend

TABLE = "cloudtill-main"


def commit_outbox_event(backend: RunningBackend, detail: dict[str, Any]) -> str:
    """Stand-in for a domain transaction: commit one outbox item straight into the table."""
    from datetime import UTC, datetime

    event = DomainEvent(detail_type="OutboxProbe", domain="tests", detail=detail, time=datetime.now(UTC))
    client = boto3.client(
        "dynamodb",
        endpoint_url=backend.aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.put_item(TableName=TABLE, Item=ddb.to_item(outbox_item(event)))
    return event.id


def published(api: httpx.Client, event_id: str) -> list[dict[str, Any]]:
    items = api.get("/_local/events", params={"detail_type": "OutboxProbe"}).json()["items"]
    return [e for e in items if e["detail"].get("event_id") == event_id]


def eventually(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_committed_outbox_item_is_published_once(backend: RunningBackend, api: httpx.Client) -> None:
    marker = str(uuid.uuid4())
    event_id = commit_outbox_event(backend, {"marker": marker})

    assert eventually(lambda: len(published(api, event_id)) == 1)
    event = published(api, event_id)[0]
    assert event["source"] == "cloudtill.tests"
    assert event["detail"] == {"marker": marker, "event_id": event_id}
    # Nothing more arrives later: the stream is handed over in order and the poller advances only past
    # handled records, so once an item committed after it is published, a second copy would be too.
    sentinel = commit_outbox_event(backend, {"marker": f"{marker}-after"})
    assert eventually(lambda: len(published(api, sentinel)) == 1)
    assert len(published(api, event_id)) == 1


def test_publisher_outage_between_write_and_publish_loses_no_event(
    backend: RunningBackend, api: httpx.Client
) -> None:
    # Given the publisher is down
    assert api.post("/_local/faults/publisher", json={"down": True}).status_code == 200
    try:
        # When changes commit while it is down
        ids = [commit_outbox_event(backend, {"n": n}) for n in range(12)]
        time.sleep(1.5)
        assert all(published(api, i) == [] for i in ids)
    finally:
        # Then, once it runs again, every event is published, each once
        api.post("/_local/faults/publisher", json={"down": False})
    assert eventually(lambda: all(len(published(api, i)) == 1 for i in ids))
