"""DynamoDB adapter of the stock ports.

Items (docs/stock.md):
* the SKU item (`SKU#<sku>` / `SKU`, created by the catalog): the stock domain writes `on_hand`,
  `available` (by delta), `backorder_limit`, `low_stock_threshold`, `low_stock`, `fifo`
  (`stock.items.FIFO`) and `stock_version`; `reserved` belongs to the checkout, except that a
  sale lowers it;
* ledger movements (`SKU#<sku>` / `MOVEMENT#<iso time>#<sequence>`), put once, never changed.

A change is ONE TransactWriteItems: the SKU item update conditioned on the values it was computed
from, the ledger put, and the outbox events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudtill import ddb, keys
from cloudtill.outbox import DomainEvent, outbox_put
from cloudtill.stock.fifo import CostLayer, FifoStock
from cloudtill.stock.items import FIFO, MOVEMENT_ITEM, SKU_ITEM
from cloudtill.stock.ports import StaleStock, StockCounters
from cloudtill.stock.records import SkuRecord
from cloudtill.stock.rules import MovementRecord, StockChange, StockState, is_low

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
    return StockState(sku.sku, *counters, low, _fifo_of(sku), sku.stock_version or 0)


def state_from_item(item: dict[str, Any]) -> StockState:
    """The stock state of a SKU item read in plain values (`ddb.from_item`)."""
    return stock_state(SKU_ITEM.from_plain(item))


@ddb.transient_errors
class DynamoStockRepository(ddb.TableAdapter):
    """The stock repository (StockRepository) and reconciliation reader (ReservationLedger)."""

    # -- StockRepository ---------------------------------------------------------------------------

    def get(self, sku: str) -> StockState | None:
        record = self._sku(sku)
        return stock_state(record) if record else None

    def save(self, change: StockChange, events: Sequence[DomainEvent]) -> None:
        cancelled = ddb.transact(self._client, self.transaction_items(change, events))
        if cancelled is not None:
            raise StaleStock(change.before.sku) if cancelled.refused(0) else cancelled.error

    def transaction_items(self, change: StockChange, events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
        """The TransactWriteItems parts of `change`: the SKU item update FIRST (a cancellation code
        `ConditionalCheckFailed` at index 0 means the stock changed: read again, recompute), then the
        ledger movement, then the outbox events.

        The order workflow commits a sale with these parts plus its own (reservation -> committed):
        `change = rules.commit_sale(repo.get(sku), qty, order_id, at)`,
        `events = [stock_adjusted(change.after, change.movement, now)]`."""
        items: list[dict[str, Any]] = [self._sku_update(change)]
        if change.movement is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": MOVEMENT_ITEM.item(change.movement),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        items += [outbox_put(self._table, event) for event in events]
        return items

    def list_movements(
        self, sku: str, limit: int, cursor: str | None
    ) -> tuple[list[MovementRecord], str | None]:
        pk, _ = keys.sku(sku)
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": ddb.to_values({":pk": pk, ":prefix": keys.MOVEMENT_PREFIX}),
            "ScanIndexForward": False,
            "Limit": limit,
            "ConsistentRead": True,
        }
        # A cursor starts inside this SKU's ledger (not another SKU's, not another listing's).
        start = ddb.decode_cursor(
            cursor, ddb.CursorScope(equal={"PK": pk}, prefix={"SK": keys.MOVEMENT_PREFIX})
        )
        if start is not None:
            query["ExclusiveStartKey"] = start
        response = self._client.query(**query)
        records = [MOVEMENT_ITEM.from_item(i) for i in response.get("Items", [])]
        return records, ddb.encode_cursor(response.get("LastEvaluatedKey"))

    # -- ReservationLedger -------------------------------------------------------------------------

    def stock_counters(self, sku: str) -> StockCounters | None:
        record = self._sku(sku)
        if record is None:
            return None
        return StockCounters(
            sku=sku,
            on_hand=record.on_hand,
            reserved=record.reserved,
            available=record.available,
            backorder_limit=record.backorder_limit,
            fifo_quantity=record.fifo.quantity if record.fifo is not None else None,
            version=record.stock_version or 0,
        )

    def held_quantity(self, sku: str) -> int:
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI2",
            "KeyConditionExpression": "GSI2PK = :pk",
            "ExpressionAttributeValues": ddb.to_values({":pk": keys.held_by_sku_partition(sku)}),
        }
        total = 0
        while True:
            response = self._client.query(**query)
            for raw in response.get("Items", []):
                item = ddb.from_item(raw)
                if item.get("entity") == "reservation" and item.get("status", "held") == "held":
                    total += int(item.get("quantity", 0))
            if not response.get("LastEvaluatedKey"):
                return total
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def all_skus(self) -> list[str]:
        # An admin-only full scan: fine for a shop's catalogue size, run on demand, not on a hot path.
        scan: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "entity = :sku",
            "ProjectionExpression": "sku",
            "ExpressionAttributeValues": ddb.to_values({":sku": "sku"}),
        }
        skus: list[str] = []
        while True:
            response = self._client.scan(**scan)
            skus += [ddb.from_item(i)["sku"] for i in response.get("Items", [])]
            if not response.get("LastEvaluatedKey"):
                return sorted(skus)
            scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- internals ---------------------------------------------------------------------------------

    def _sku(self, sku: str) -> SkuRecord | None:
        item = ddb.get_item(self._client, self._table, keys.sku(sku))
        return SKU_ITEM.from_item(item) if item else None

    def _sku_update(self, change: StockChange) -> dict[str, Any]:
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
                "TableName": self._table,
                "Key": ddb.key(pk, sk),
                "UpdateExpression": "SET " + ", ".join(assignments),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": _NAMES,
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }
