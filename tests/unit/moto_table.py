"""The stack's main table in an in-process moto DynamoDB (no sockets: moto patches botocore), for unit
tests that run the real DynamoDB adapters. Note moto's gaps: it accepts an `ExclusiveStartKey` outside
the query's key condition (DynamoDB refuses it), so such checks are our code's and tested as such."""

from __future__ import annotations

from collections.abc import Iterator

import moto
import pytest
from cloudtill import ddb

TABLE = "main"
_ATTRIBUTES = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")


@pytest.fixture
def main_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The table's name; `ddb.client()` talks to it for the test's duration."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ddb.client.cache_clear()
    with moto.mock_aws():
        create_main_table()
        yield TABLE
    ddb.client.cache_clear()


def create_main_table() -> None:
    """The main table's keys and indexes, as the stack declares them."""
    ddb.client().create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in _ATTRIBUTES],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": f"{index}PK", "KeyType": "HASH"},
                    {"AttributeName": f"{index}SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in ("GSI1", "GSI2")
        ],
    )
