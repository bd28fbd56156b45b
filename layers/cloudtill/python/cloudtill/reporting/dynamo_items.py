"""The DynamoDB items and transaction entries of the reporting aggregates (keys: cloudtill.keys)."""

from __future__ import annotations

from typing import Any

from cloudtill import ddb, keys
from cloudtill.reporting.aggregates import MarkerWrite, StockLevel


def order_lines_item(day: str, order_lines: dict[str, Any]) -> dict[str, Any]:
    """The CSV export's item of one order (`AGG#LINES#<day>` / `ORDER#<confirmed_at>#<order id>`)."""
    pk, sk = keys.day_order_lines(day, order_lines["confirmed_at"], order_lines["order_id"])
    return {"PK": pk, "SK": sk, "entity": "aggregate_order_lines", **order_lines}


def add_update(
    table: str, key: tuple[str, str], counters: dict[str, int], sets: dict[str, Any]
) -> dict[str, Any]:
    """`ADD` the counters and `SET` the attributes of one item (a transaction's `Update`)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds, assigns = [], []
    for i, (name, delta) in enumerate(sorted(counters.items())):
        names[f"#c{i}"] = name
        values[f":c{i}"] = delta
        adds.append(f"#c{i} :c{i}")
    for i, (name, value) in enumerate(sorted(sets.items())):
        names[f"#s{i}"] = name
        values[f":s{i}"] = value
        assigns.append(f"#s{i} = :s{i}")
    parts = ([f"ADD {', '.join(adds)}"] if adds else []) + ([f"SET {', '.join(assigns)}"] if assigns else [])
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*key),
            "UpdateExpression": " ".join(parts),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": ddb.to_values(values),
        }
    }


def marker_write(table: str, who: str, write: MarkerWrite) -> dict[str, Any]:
    """The customer's state put: conditional on the state believed stored (by its version; a marker
    from before versions by its first order), so a concurrent order of the same customer cannot be
    missed; on failure DynamoDB returns the stored item, which the retry uses instead of reading it."""
    pk, sk = keys.customer_first_order(who)
    condition: dict[str, Any] = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    expected = write.expected
    if expected is None:
        condition["ConditionExpression"] = "attribute_not_exists(PK)"
    elif expected.version == 0:
        condition["ConditionExpression"] = "attribute_not_exists(#version) AND order_id = :seen_order"
        condition["ExpressionAttributeNames"] = {"#version": "version"}
        condition["ExpressionAttributeValues"] = ddb.to_values({":seen_order": expected.first.order_id})
    else:
        condition["ConditionExpression"] = "#version = :seen_version"
        condition["ExpressionAttributeNames"] = {"#version": "version"}
        condition["ExpressionAttributeValues"] = ddb.to_values({":seen_version": expected.version})
    item = {"PK": pk, "SK": sk, "entity": "customer_first_order", **write.state.to_item()}
    return {"Put": {"TableName": table, "Item": ddb.to_item(item), **condition}}


def level_update(table: str, level: StockLevel) -> dict[str, Any]:
    """The SKU's latest level, when `level` is newer (by movement id) than the stored one. Its name
    is set when the event named one (an event without leaves the stored name)."""
    pk, sk = keys.stock_level(level.sku)
    names = {"#value": "value", "#at": "at"}
    values: dict[str, Any] = {
        ":entity": "aggregate_stock",
        ":sku": level.sku,
        ":m": level.movement_id,
        ":on_hand": level.on_hand,
        ":reserved": level.reserved,
        ":available": level.available,
        ":value": level.value,
        ":at": level.at,
    }
    expression = (
        "SET entity = :entity, sku = :sku, movement_id = :m, on_hand = :on_hand, "
        "reserved = :reserved, available = :available, #value = :value, #at = :at"
    )
    if level.name:
        expression += ", #name = :name"
        names["#name"] = "name"
        values[":name"] = level.name
    return {
        "TableName": table,
        "Key": ddb.key(pk, sk),
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_not_exists(movement_id) OR movement_id < :m",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": ddb.to_values(values),
    }
