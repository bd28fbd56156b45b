"""Putting stock on hand for integration tests, and reading a SKU's counters.

Stock arrives through the stock function's movements route when the wiring serves it (the real
path); otherwise the SKU item's counters are written directly in the emulator, keeping
`available = on_hand + backorder_limit - reserved` as every writer must.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import boto3
import httpx

from infra.wiring import ROUTES

if TYPE_CHECKING:
    from tests.integration.conftest import RunningBackend

TABLE = "cloudtill-main"
_MOVEMENTS = ("POST", "/admin/stock/{sku}/movements")
_SETTINGS = ("PUT", "/admin/stock/{sku}/settings")
_SERVED = {(r.method, r.path) for r in ROUTES}


@functools.cache
def dynamodb(aws_endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _sku_key(sku: str) -> dict[str, Any]:
    return {"PK": {"S": f"SKU#{sku}"}, "SK": {"S": "SKU"}}


def receive(backend: RunningBackend, admin: httpx.Client, sku: str, quantity: int) -> None:
    """Put `quantity` more units of `sku` on hand."""
    if _MOVEMENTS in _SERVED:
        response = admin.post(
            f"/admin/stock/{sku}/movements",
            json={"type": "receive", "quantity": quantity, "unit_cost": 100, "reason": "test"},
        )
        assert response.status_code == 201, response.text
        return
    dynamodb(backend.aws_endpoint).update_item(
        TableName=TABLE,
        Key=_sku_key(sku),
        UpdateExpression="SET on_hand = on_hand + :q, available = available + :q",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":q": {"N": str(quantity)}},
    )


def allow_backorders(backend: RunningBackend, admin: httpx.Client, sku: str, limit: int) -> None:
    """Let `sku` be sold up to `limit` units beyond what is on hand (from a limit of 0)."""
    if _SETTINGS in _SERVED:
        response = admin.put(f"/admin/stock/{sku}/settings", json={"backorder_limit": limit})
        assert response.status_code == 200, response.text
        return
    dynamodb(backend.aws_endpoint).update_item(
        TableName=TABLE,
        Key=_sku_key(sku),
        UpdateExpression="SET backorder_limit = :limit, available = available + :limit",
        ConditionExpression="backorder_limit = :zero",
        ExpressionAttributeValues={":limit": {"N": str(limit)}, ":zero": {"N": "0"}},
    )


def counters(backend: RunningBackend, sku: str) -> dict[str, int]:
    """The SKU item's stock counters, read consistently from the emulator."""
    item = dynamodb(backend.aws_endpoint).get_item(TableName=TABLE, Key=_sku_key(sku), ConsistentRead=True)
    return {
        name: int(item["Item"][name]["N"]) for name in ("on_hand", "reserved", "available", "backorder_limit")
    }
