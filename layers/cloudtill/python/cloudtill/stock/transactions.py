"""The SKU item as stored (`state_from_item`) and its transaction parts: the only writers of its
stock invariants (`on_hand`, `available`, `reserved`, `backorder_limit`, `low_stock`, `fifo`,
`stock_version`).

Other domains never build an update of the SKU item themselves: they compose these parts into their
own TransactWriteItems (the checkout reserves and releases, the order workflow commits a sale or a
restock). Each part's condition is what keeps the invariants when transactions race:
`available = on_hand + backorder_limit - reserved`, never below zero (docs/stock.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudtill import ddb, keys
from cloudtill.outbox import DomainEvent, outbox_put
from cloudtill.stock.fifo import CostLayer, FifoStock
from cloudtill.stock.items import FIFO, MOVEMENT_ITEM, SKU_ITEM
from cloudtill.stock.records import SkuRecord
from cloudtill.stock.rules import StockChange, StockState, is_low

_NAMES = {
    "#on_hand": "on_hand",
    "#reserved": "reserved",
    "#available": "available",
    "#backorder_limit": "backorder_limit",
    "#threshold": "low_stock_threshold",
    "#low": "low_stock",
    "#fifo": "fifo",
    "#version": "stock_version",
}


def _fifo_of(sku: SkuRecord) -> FifoStock:
    if sku.fifo is not None:
        return sku.fifo
    # Stock that predates valuation (or was set outside this domain) has no known cost: one layer
    # at cost 0, so the layers still hold exactly `on_hand` units.
    if sku.on_hand > 0:
        return FifoStock(layers=(CostLayer(1, sku.on_hand, 0),), next_seq=2)
    return FifoStock(unvalued_backorder=-sku.on_hand)


def stock_state(sku: SkuRecord) -> StockState:
    """The stock part of a SKU item, as the stock rules compute with it."""
    # Never written yet: the flag is whatever the current level says, so no alert for a SKU
    # that was already low before the stock domain first touched it.
    low = sku.low_stock
    if low is None:
        low = is_low(max(sku.on_hand - sku.reserved, 0), sku.low_stock_threshold)
    counters = (sku.on_hand, sku.reserved, sku.backorder_limit, sku.low_stock_threshold)
    name = sku.title if sku.product_name or sku.name else ""
    return StockState(sku.sku, *counters, low, _fifo_of(sku), sku.stock_version or 0, name)


def state_from_item(item: dict[str, Any]) -> StockState:
    """The stock state of a SKU item read in plain values (`ddb.from_item`)."""
    return stock_state(SKU_ITEM.from_plain(item))


def change_items(table: str, change: StockChange, events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
    """The TransactWriteItems parts of `change`: the SKU item update FIRST (a cancellation code
    `ConditionalCheckFailed` at its index means the stock changed: read again, recompute), then the
    ledger movement, then the outbox events.

    The order workflow commits a sale with these parts plus its own (reservation -> committed):
    `change = rules.commit_sale(repo.get(sku), qty, order_id, at)`,
    `events = [stock_adjusted(change.after, change.movement, now)]`."""
    items: list[dict[str, Any]] = [sku_update(table, change)]
    if change.movement is not None:
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": MOVEMENT_ITEM.item(change.movement),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
    items += [outbox_put(table, event) for event in events]
    return items


def sku_update(table: str, change: StockChange) -> dict[str, Any]:
    """`change.after` on the SKU item, conditioned on the values it was computed from."""
    before, after = change.before, change.after
    reserved_delta = after.reserved - before.reserved
    values: dict[str, Any] = {
        ":on_hand": after.on_hand,
        ":available_delta": after.reservable - before.reservable,
        ":backorder_limit": after.backorder_limit,
        ":threshold": after.low_stock_threshold,
        ":low": after.low_stock,
        ":fifo": FIFO.encode(after.fifo),
        ":version": after.version,
        ":read_version": before.version,
        ":read_on_hand": before.on_hand,
        ":read_backorder_limit": before.backorder_limit,
    }
    assignments = [
        "#on_hand = :on_hand",
        # By delta: a stored `available` that was already wrong stays visibly wrong for
        # reconciliation instead of being silently overwritten.
        "#available = #available + :available_delta",
        "#backorder_limit = :backorder_limit",
        "#threshold = :threshold",
        "#low = :low",
        "#fifo = :fifo",
        "#version = :version",
    ]
    conditions = [
        "attribute_exists(PK)",
        "#on_hand = :read_on_hand",
        "#backorder_limit = :read_backorder_limit",
        "attribute_not_exists(#version)" if before.version == 0 else "#version = :read_version",
    ]
    if before.version == 0:
        del values[":read_version"]
    if reserved_delta:
        # A sale: reservations of other checkouts may come and go meanwhile; only the units sold
        # must still be reserved.
        assignments.append("#reserved = #reserved + :reserved_delta")
        conditions.append("#reserved >= :units_sold")
        values[":reserved_delta"] = reserved_delta
        values[":units_sold"] = -reserved_delta
    else:
        # The low-stock flag was computed from this reserved count.
        conditions.append("#reserved = :read_reserved")
        values[":read_reserved"] = before.reserved
    pk, sk = keys.sku(before.sku)
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(pk, sk),
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": _NAMES,
            "ExpressionAttributeValues": ddb.to_values(values),
        }
    }


def reserve(
    table: str, sku: str, quantity: int, backorder_limit: int | None, backordered: bool
) -> dict[str, Any]:
    """Hold `quantity` units for a checkout: `available` down, `reserved` up, if `available` allows
    (and, with the backorder limit as read, the plan's choice of stock or backorder still holds)."""
    # `available` = on_hand + backorder_limit - reserved, kept by every writer: the oversell guard.
    condition = "available >= :q AND active = :true"
    values: dict[str, Any] = {":q": quantity, ":true": True}
    if backorder_limit is not None:
        # With the limit as read, `available >= q + limit` means `on_hand - reserved >= q`: the units
        # come from stock; below it they are backordered. The plan's choice must still hold.
        condition += " AND available < :from_stock" if backordered else " AND available >= :from_stock"
        condition += (
            " AND (backorder_limit = :limit OR attribute_not_exists(backorder_limit))"
            if backorder_limit == 0
            else " AND backorder_limit = :limit"
        )
        values |= {":from_stock": quantity + backorder_limit, ":limit": backorder_limit}
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*keys.sku(sku)),
            "UpdateExpression": "SET available = available - :q, reserved = reserved + :q",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": ddb.to_values(values),
        }
    }


def unreserve(table: str, sku: str, quantity: int) -> dict[str, Any]:
    """Give back `quantity` held units (a checkout released): `available` up, `reserved` down."""
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*keys.sku(sku)),
            "UpdateExpression": "SET available = available + :q, reserved = reserved - :q",
            "ConditionExpression": "reserved >= :q",
            "ExpressionAttributeValues": ddb.to_values({":q": quantity}),
        }
    }
