"""Invariants every checkout/stock scenario must leave behind, as reusable assertions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx

from infra.wiring import ROUTES
from tests.integration.stock_helpers import TABLE, counters, dynamodb

if TYPE_CHECKING:
    from tests.integration.conftest import RunningBackend

_RECONCILIATION_SERVED = ("GET", "/admin/stock/reconciliation") in {(r.method, r.path) for r in ROUTES}


def held_quantity(backend: RunningBackend, sku: str) -> int:
    """Sum of the quantities of the SKU's held reservation items (GSI2 `HELD#<sku>`)."""
    client = dynamodb(backend.aws_endpoint)
    query = {
        "TableName": TABLE,
        "IndexName": "GSI2",
        "KeyConditionExpression": "GSI2PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"HELD#{sku}"}},
    }
    total = 0
    while True:
        page = client.query(**query)
        for item in page["Items"]:
            assert item["status"]["S"] == "held", item
            total += int(item["quantity"]["N"])
        if "LastEvaluatedKey" not in page:
            return total
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def assert_reservations_reconcile(
    backend: RunningBackend, skus: Iterable[str], admin: httpx.Client | None = None
) -> None:
    """For each SKU: reserved == sum of its held reservations, the stored `available` equals
    on_hand + backorder_limit - reserved, and nothing is oversold (available >= 0). When the stock
    function serves its reconciliation route, it must agree."""
    skus = list(skus)
    for sku in skus:
        level = counters(backend, sku)
        assert level["reserved"] == held_quantity(backend, sku), (sku, level)
        assert level["available"] == level["on_hand"] + level["backorder_limit"] - level["reserved"], level
        assert level["available"] >= 0, (sku, level)
    if admin is not None and _RECONCILIATION_SERVED:
        response = admin.get("/admin/stock/reconciliation", params=[("sku", s) for s in skus])
        assert response.status_code == 200, response.text
        assert response.json()["ok"] is True, response.json()
