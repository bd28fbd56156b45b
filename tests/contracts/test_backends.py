"""Why two DynamoDB implementations: where DynamoDB is strict, ministack is too and moto is not. An
adapter that passes its contract on moto alone may still rely on moto's leniency."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contracts.conftest import Backend

STRICT = {"moto": False, "ministack": True}


@pytest.mark.parametrize("backend", list(STRICT), indirect=True)
def test_a_start_key_outside_the_querys_partition_is_refused_where_dynamodb_refuses_it(
    backend: Backend,
) -> None:
    for n in range(3):
        backend.put({"PK": "A", "SK": f"x{n}"})
    query = {
        "TableName": backend.table,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "A"}},
        "ExclusiveStartKey": {"PK": {"S": "B"}, "SK": {"S": "x1"}},
    }
    if STRICT[backend.name]:
        with pytest.raises(ClientError) as refused:
            backend.client.query(**query)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
    else:
        assert backend.client.query(**query)["Items"] == []
