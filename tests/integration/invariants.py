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


FINAL_CHECKOUT_STATUSES = ("expired", "cancelled", "completed")


def assert_order_invariants(
    backend: RunningBackend,
    checkout_ids: Iterable[str],
    skus: Iterable[str],
    admin: httpx.Client | None = None,
) -> None:
    """After every order-lifecycle scenario: a final checkout holds no reserved units, every captured
    payment belongs to a live order or is refunded in full (or, for a cancelled/returned order, refunded
    as much as the order says), and the stock reconciles (reserved == held reservations)."""
    from cloudtill import ddb

    client = dynamodb(backend.aws_endpoint)

    def item(pk: str, sk: str) -> dict[str, object] | None:
        raw = client.get_item(
            TableName=TABLE, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return ddb.from_item(raw) if raw else None

    for checkout_id in checkout_ids:
        checkout = item(f"CHECKOUT#{checkout_id}", "CHECKOUT")
        assert checkout is not None, checkout_id
        status = checkout["status"]
        reservations = client.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :r)",
            ExpressionAttributeValues={":pk": {"S": f"CHECKOUT#{checkout_id}"}, ":r": {"S": "RESERVATION#"}},
            ConsistentRead=True,
        )["Items"]
        if status in FINAL_CHECKOUT_STATUSES:
            held = [r for r in reservations if r["status"]["S"] == "held"]
            assert not held, (checkout_id, status, held)
        payment = checkout.get("payment") or {}
        intent_id = payment.get("payment_intent_id") if isinstance(payment, dict) else None
        record = item(f"PAYMENT_INTENT#{intent_id}", "INTENT") if intent_id else None
        if record is None or record["status"] != "succeeded":
            continue
        paid, refunded = int(record["amount_received"]), int(record.get("refunded_amount", 0))
        order = item(f"ORDER#{checkout['order_id']}", "ORDER") if checkout.get("order_id") else None
        if order is None:
            assert refunded >= paid, f"{checkout_id}: {paid} captured, no order, {refunded} refunded"
        else:
            assert order["payment_intent_id"] == intent_id
            if order["status"] == "cancelled":
                assert refunded >= paid, (
                    f"{checkout_id}: cancelled order, {paid} captured, {refunded} refunded"
                )
            assert refunded == int(order.get("refunded_amount", 0)), (checkout_id, refunded, order)
    assert_reservations_reconcile(backend, skus, admin)
