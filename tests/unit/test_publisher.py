"""The outbox publisher's batching and partial-failure reporting, with a fake event bus."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cloudtill import ddb
from cloudtill.events import MAX_ENTRIES_PER_CALL, EventBridgePublisher, OutgoingEvent

ROOT = Path(__file__).resolve().parents[2]


def load_handler() -> ModuleType:
    os.environ.setdefault("TABLE_NAME", "unit")
    spec = importlib.util.spec_from_file_location(
        "publisher_handler", ROOT / "functions/publisher/handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stream_record(sequence: int, entity: str = "outbox", event_name: str = "INSERT") -> dict[str, Any]:
    item = {
        "PK": f"OUTBOX#e{sequence}",
        "SK": "EVENT",
        "entity": entity,
        "id": f"e{sequence}",
        "detail_type": "Probe",
        "source": "cloudtill.tests",
        "time": "2026-11-23T12:00:00.000Z",
        "detail": {"n": sequence, "event_id": f"e{sequence}"},
    }
    return {
        "eventName": event_name,
        "dynamodb": {"SequenceNumber": str(sequence), "NewImage": ddb.to_item(item)},
    }


class FakeBus:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.published: list[OutgoingEvent] = []

    def publish(self, events: Sequence[OutgoingEvent]) -> list[OutgoingEvent]:
        self.published += [e for e in events if e.id not in self.refuse]
        return [e for e in events if e.id in self.refuse]


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return load_handler()


def test_only_inserted_outbox_items_are_published(handler: ModuleType) -> None:
    bus = FakeBus()
    records = [stream_record(1), stream_record(2, entity="product"), stream_record(3, event_name="REMOVE")]
    assert handler.publish_records(records, bus) == {"batchItemFailures": []}
    assert [e.id for e in bus.published] == ["e1"]


def test_refused_events_are_reported_from_the_first_failure(handler: ModuleType) -> None:
    bus = FakeBus(refuse={"e4", "e7"})
    result = handler.publish_records([stream_record(n) for n in range(1, 10)], bus)
    assert result == {"batchItemFailures": [{"itemIdentifier": "4"}]}


class FakeEventsClient:
    def __init__(self, fail_ids: set[str]) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail_ids = fail_ids

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append(Entries)
        results = [
            {"ErrorCode": "Throttled"} if e["Detail"] in self.fail_ids else {"EventId": "x"} for e in Entries
        ]
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


def test_eventbridge_adapter_sends_batches_of_ten_and_returns_refused_entries() -> None:
    events = [OutgoingEvent(f"e{n}", "Probe", "cloudtill.tests", "t", {"n": n}) for n in range(23)]
    client = FakeEventsClient(fail_ids={'{"n":12}'})
    refused = EventBridgePublisher("bus", client).publish(events)
    assert [len(c) for c in client.calls] == [MAX_ENTRIES_PER_CALL, MAX_ENTRIES_PER_CALL, 3]
    assert [e.id for e in refused] == ["e12"]
