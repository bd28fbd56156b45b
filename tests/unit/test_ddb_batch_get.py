"""`ddb.batch_get`, the one BatchGetItem loop every adapter uses: chunks of 100 keys, unprocessed keys
asked again after a capped exponential backoff with jitter (a transient error when they stay
unprocessed), read options passed through."""

from __future__ import annotations

from typing import Any

import pytest
from cloudtill import ddb
from cloudtill.errors import TransientError
from cloudtill.orders.ports import TransientError as OrdersTransientError


class _FlakyBatchClient:
    """Holds items by PK; leaves the last key of every first request for a chunk unprocessed."""

    def __init__(self, pks: set[str]) -> None:
        self.pks = pks
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        ((table, request),) = RequestItems.items()
        self.requests.append(request)
        asked = request["Keys"]
        retry = len(asked) > 1
        served, left = (asked[:-1], asked[-1:]) if retry else (asked, [])
        found = [k for k in served if k["PK"]["S"] in self.pks]
        unprocessed = {table: {**request, "Keys": left}} if left else {}
        return {"Responses": {table: found}, "UnprocessedKeys": unprocessed}


def test_every_existing_item_comes_back_across_chunks_and_unprocessed_keys() -> None:
    keys = [ddb.key(f"SKU#{n}", "SKU") for n in range(230)]
    client = _FlakyBatchClient({f"SKU#{n}" for n in range(0, 230, 3)})

    found = ddb.batch_get(client, "t", keys, consistent=True, projection="PK")

    assert sorted(item["PK"]["S"] for item in found) == sorted(f"SKU#{n}" for n in range(0, 230, 3))
    # 3 chunks (100, 100, 30), each asked again for the key left unprocessed
    assert [len(r["Keys"]) for r in client.requests] == [100, 1, 100, 1, 30, 1]
    assert all(r["ConsistentRead"] is True and r["ProjectionExpression"] == "PK" for r in client.requests)


def test_eventual_reads_without_projection_by_default_and_nothing_asked_for_no_keys() -> None:
    client = _FlakyBatchClient({"A"})
    assert ddb.batch_get(client, "t", [ddb.key("A", "X")]) == [ddb.key("A", "X")]
    assert "ConsistentRead" not in client.requests[0] and "ProjectionExpression" not in client.requests[0]
    assert ddb.batch_get(client, "t", []) == [] and len(client.requests) == 1


class _ThrottledBatchClient:
    """Leaves every key unprocessed for the first `throttled` requests (DynamoDB does so when the table
    or a partition is over its throughput), then serves them all."""

    def __init__(self, throttled: int) -> None:
        self.throttled = throttled
        self.requests = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        ((table, request),) = RequestItems.items()
        self.requests += 1
        if self.requests <= self.throttled:
            return {"Responses": {table: []}, "UnprocessedKeys": {table: request}}
        return {"Responses": {table: list(request["Keys"])}, "UnprocessedKeys": {}}


def test_unprocessed_keys_are_asked_again_after_a_growing_jittered_wait() -> None:
    keys = [ddb.key(f"SKU#{n}", "SKU") for n in range(3)]
    client = _ThrottledBatchClient(throttled=3)
    waits: list[float] = []

    # With the jitter at its top, the waits are the exponential bound itself: 50, 100, 200 ms
    found = ddb.batch_get(client, "t", keys, sleep=waits.append, jitter=lambda: 1.0)

    assert len(found) == 3 and client.requests == 4
    assert waits == [0.05, 0.1, 0.2]
    # Full jitter: a wait is anywhere from 0 up to that bound
    half: list[float] = []
    ddb.batch_get(_ThrottledBatchClient(throttled=2), "t", keys, sleep=half.append, jitter=lambda: 0.5)
    assert half == [0.025, 0.05]


def test_a_batch_still_unprocessed_after_every_round_is_a_transient_error() -> None:
    client = _ThrottledBatchClient(throttled=1_000)
    waits: list[float] = []

    with pytest.raises(TransientError) as gave_up:
        ddb.batch_get(client, "t", [ddb.key("SKU#A", "SKU")], sleep=waits.append, jitter=lambda: 1.0)

    assert client.requests == ddb.BATCH_GET_ROUNDS == 8
    # 7 waits between 8 rounds, doubling from 50 ms and capped at 1 s
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert "unprocessed" in str(gave_up.value)


def test_the_orders_domain_retries_what_batch_get_gives_up_on() -> None:
    # The state machine retries errors named TransientError: the orders domain's is this very class
    assert OrdersTransientError is TransientError
