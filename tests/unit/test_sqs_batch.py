"""The one SQS batch helper every queue consumer uses: unreadable bodies and failed values are exactly
the `batchItemFailures`, a batch-wide failure fails every readable record, and handling sees the
readable values together, in order."""

from __future__ import annotations

import json
from typing import Any

from cloudtill.batch import handle_sqs_batch


def record(message_id: str, body: str) -> dict[str, Any]:
    return {"messageId": message_id, "body": body}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_unreadable_and_failed_records_are_reported_and_only_they() -> None:
    # Given a batch with one body that is not JSON and one value the handler refuses
    records = [record("m1", '{"n": 1}'), record("m2", "not json"), record("m3", '{"n": 3}')]
    seen: list[list[dict[str, int]]] = []

    def handle(values: list[dict[str, int]]) -> list[int | Exception]:
        seen.append(values)
        return [ValueError("refused") if v["n"] == 3 else v["n"] for v in values]

    # When the batch is handled
    result = handle_sqs_batch(records, json.loads, handle)
    # Then the readable values were handled together, in order, and m2 and m3 are redelivered
    assert seen == [[{"n": 1}, {"n": 3}]]
    assert failed_ids(result.response()) == ["m2", "m3"]
    assert [(h.message_id, h.failed) for h in result.handled] == [("m1", False), ("m3", True)]
    assert result.handled[0].outcome == 1


def test_a_batch_wide_failure_fails_every_readable_record() -> None:
    def handle(values: list[Any]) -> list[Any]:
        raise TimeoutError("the batch read timed out")

    result = handle_sqs_batch([record("a", "1"), record("b", "2")], json.loads, handle)
    assert failed_ids(result.response()) == ["a", "b"]
    assert all(isinstance(h.outcome, TimeoutError) for h in result.handled)


def test_an_empty_or_fully_handled_batch_reports_nothing() -> None:
    assert handle_sqs_batch([], json.loads, lambda values: []).response() == {"batchItemFailures": []}
    result = handle_sqs_batch([record("a", "1")], json.loads, lambda values: values)
    assert result.response() == {"batchItemFailures": []}
