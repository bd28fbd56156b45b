"""The checkout domain's items as the codec stores them (docs/data-model.md): the checkout, read by
the orders, payments and notifications adapters too, and one reservation per SKU. Keys from
`cloudtill.keys`; a held reservation is in GSI1 (the expiry sweep) and GSI2 (per-SKU
reconciliation), a released one leaves both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cloudtill import ddb, keys
from cloudtill.checkout.records import AWAITING_PAYMENT, CheckoutRecord, ReservationRecord
from cloudtill.ddb_codec import Attr, ItemCodec, without_none

HELD = "held"
RELEASED = "released"
COMMITTED = "committed"  # by the order that sold it
COMPLETED = "completed"  # a checkout that became an order


def _reserved_rows(reserved: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"sku": sku, "quantity": quantity} for sku, quantity in reserved.items()]


def _reserved_map(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {str(row["sku"]): int(row["quantity"]) for row in rows}


CHECKOUT_ITEM = ItemCodec(
    CheckoutRecord,
    entity="checkout",
    keys=lambda c: keys.item_keys(
        keys.checkout(c.id), gsi2=keys.customer_index(c.email_hash, c.created_at, "CHECKOUT")
    ),
    attrs={
        # Removed from the item by a privacy erasure.
        "marketing_consent": Attr(default=False),
        "shipping_address": Attr(encode=without_none),
        # What is reserved per SKU, as a list in order of first appearance.
        "reserved": Attr(encode=_reserved_rows, decode=_reserved_map),
        # Known while the reservation is planned, never stored.
        "backorder_limits": Attr(stored=False),
    },
)


def _reservation_keys(r: ReservationRecord) -> dict[str, str]:
    if r.status != HELD:
        return keys.item_keys(keys.reservation(r.checkout_id, r.sku))
    return keys.item_keys(
        keys.reservation(r.checkout_id, r.sku),
        gsi1=keys.held_reservation_index(r.expires_at, r.checkout_id, r.sku),
        gsi2=keys.held_by_sku_index(r.sku, r.checkout_id),
    )


RESERVATION_ITEM = ItemCodec(ReservationRecord, entity="reservation", keys=_reservation_keys)


def held_reservations(checkout: CheckoutRecord) -> list[ReservationRecord]:
    """The reservation records a new checkout holds, one per SKU it reserves."""
    return [
        ReservationRecord(checkout.id, sku, quantity, HELD, checkout.expires_at, checkout.created_at)
        for sku, quantity in checkout.reserved.items()
    ]


def close_reservation(table: str, checkout_id: str, sku: str, status: str, at: str) -> dict[str, Any]:
    """The transaction part that ends a held reservation: `status` (`released`, or `committed` by the
    order) and `<status>_at`, out of both indexes; refused unless the reservation is still held."""
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*keys.reservation(checkout_id, sku)),
            "UpdateExpression": f"SET #status = :status, {status}_at = :at "
            "REMOVE GSI1PK, GSI1SK, GSI2PK, GSI2SK",
            "ConditionExpression": "#status = :held",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": ddb.to_values({":status": status, ":held": HELD, ":at": at}),
        }
    }


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
