"""The checkout's transaction parts that other domains compose: the order confirmation completes the
checkout and commits its reservations in the order's own transaction (docs/orders.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudtill import ddb, keys

HELD = "held"
RELEASED = "released"
COMMITTED = "committed"
AWAITING_PAYMENT = "awaiting_payment"
COMPLETED = "completed"


def complete(
    table: str, checkout_id: str, order_id: str, at: str, also_remove: Sequence[str] = ()
) -> dict[str, Any]:
    """`awaiting_payment -> completed` with its `order_id`, off the paid-checkout list too (the order
    settles the payment); `also_remove` names attributes that end with it (a workflow's task token)."""
    names = {"#status": "status", **{f"#r{i}": name for i, name in enumerate(also_remove)}}
    removes = "".join(f"#r{i}, " for i in range(len(also_remove)))
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*keys.checkout(checkout_id)),
            "UpdateExpression": (
                f"SET #status = :completed, order_id = :order, updated_at = :at "
                f"REMOVE {removes}GSI1PK, GSI1SK"
            ),
            "ConditionExpression": "#status = :awaiting",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": ddb.to_values(
                {":completed": COMPLETED, ":order": order_id, ":at": at, ":awaiting": AWAITING_PAYMENT}
            ),
        }
    }


def close_reservation(table: str, checkout_id: str, sku: str, status: str, at: str) -> dict[str, Any]:
    """A held reservation `committed` (sold with its order) or `released` (stock back), stamped
    `<status>_at` and taken off the held indexes; conditioned on still being held."""
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*keys.reservation(checkout_id, sku)),
            "UpdateExpression": f"SET #status = :to, {status}_at = :at REMOVE GSI1PK, GSI1SK, GSI2PK, GSI2SK",
            "ConditionExpression": "#status = :held",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": ddb.to_values({":to": status, ":held": HELD, ":at": at}),
        }
    }
