"""`ddb.batch_get`, the one BatchGetItem loop every adapter uses: chunks of 100 keys, unprocessed keys
asked again, read options passed through."""

from __future__ import annotations

from typing import Any

from cloudtill import ddb


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
