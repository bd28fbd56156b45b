"""The local runtime's check of DynamoDB calls against the declared grants: what IAM would authorize
for each request shape, and the verdict, on the real wiring (no emulator needed)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.wiring import MAIN_TABLE, function_spec
from localrt.table_access import Request, allowed, requests_of

TABLES = {"main": MAIN_TABLE}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def test_a_transaction_is_authorized_item_by_item_with_each_partition_key() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "main", "Item": {"PK": _s("ORDER#o1"), "SK": _s("ORDER")}}},
            {"Update": {"TableName": "main", "Key": {"PK": _s("SKU#A"), "SK": _s("SKU")}}},
            {"Delete": {"TableName": "main", "Key": {"PK": _s("REFUND_CLAIM#x"), "SK": _s("CLAIM")}}},
            {"ConditionCheck": {"TableName": "main", "Key": {"PK": _s("AGG#1"), "SK": _s("X")}}},
        ]
    }
    assert requests_of("TransactWriteItems", params, TABLES) == [
        Request("dynamodb:PutItem", "main", None, "ORDER#o1"),
        Request("dynamodb:UpdateItem", "main", None, "SKU#A"),
        Request("dynamodb:DeleteItem", "main", None, "REFUND_CLAIM#x"),
        Request("dynamodb:ConditionCheckItem", "main", None, "AGG#1"),
    ]


@pytest.mark.parametrize(
    ("params", "key"),
    [
        (
            {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": _s("ORDER#o1")}},
            "ORDER#o1",
        ),
        (
            {
                "IndexName": "GSI1",
                "KeyConditionExpression": "#pk = :pk AND begins_with(GSI1SK, :day)",
                "ExpressionAttributeNames": {"#pk": "GSI1PK"},
                "ExpressionAttributeValues": {":pk": _s("ORDERS#confirmed"), ":day": _s("2026")},
            },
            "ORDERS#confirmed",
        ),
    ],
)
def test_a_query_is_authorized_on_the_partition_key_of_its_table_or_index(
    params: dict[str, Any], key: str
) -> None:
    (request,) = requests_of("Query", {"TableName": "main", **params}, TABLES)
    assert request.key == key and request.index_name == params.get("IndexName")


def _put(key: str) -> Request:
    return Request("dynamodb:PutItem", "main", None, key)


def test_the_wirings_grants_decide() -> None:
    catalog, payments, stock = function_spec("catalog"), function_spec("payments"), function_spec("stock")
    # Allowed: what each spec declares
    assert allowed(catalog, Request("dynamodb:PutItem", "main", None, "PRODUCT#p1"), "Main")
    assert allowed(catalog, Request("dynamodb:Query", "main", "GSI2", "CATEGORY#hats"), "Main")
    assert allowed(stock, Request("dynamodb:Scan", "main", None, None), "Main")
    assert allowed(
        payments, Request("dynamodb:PutItem", "main", None, "REFUND_CLAIM#late-CHECKOUT#c"), "Main"
    )
    # Refused: another prefix, another action, the table instead of the index, no key
    assert not allowed(catalog, Request("dynamodb:PutItem", "main", None, "ORDER#o1"), "Main")
    assert not allowed(catalog, Request("dynamodb:DeleteItem", "main", None, "PRODUCT#p1"), "Main")
    assert not allowed(catalog, Request("dynamodb:Query", "main", None, "CATEGORY#hats"), "Main")
    assert not allowed(catalog, Request("dynamodb:Scan", "main", None, None), "Main")
    assert not allowed(
        payments, Request("dynamodb:PutItem", "main", None, "REFUND_CLAIM#cancel-ORDER#o"), "Main"
    )
    assert not allowed(payments, Request("dynamodb:UpdateItem", "main", None, "ORDER#o1"), "Main")
