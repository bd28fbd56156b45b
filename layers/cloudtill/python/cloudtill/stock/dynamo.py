"""DynamoDB adapter of the stock ports.

Items (docs/stock.md):
* the SKU item (`SKU#<sku>` / `SKU`, created by the catalog): the stock domain writes `on_hand`,
  `available` (by delta), `backorder_limit`, `low_stock_threshold`, `low_stock`, `fifo`
  (`stock.items.FIFO`) and `stock_version`; reservations move `reserved` and `available` through
  the `reserve`/`unreserve` parts the checkout composes, a sale lowers `reserved`;
* ledger movements (`SKU#<sku>` / `MOVEMENT#<iso time>#<sequence>`), put once, never changed.

A change is ONE TransactWriteItems: the SKU item update conditioned on the values it was computed
from, the ledger put, and the outbox events (the parts of `cloudtill.stock.transactions`, which other
domains compose into their own transactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudtill import ddb, keys
from cloudtill.outbox import DomainEvent
from cloudtill.stock.items import MOVEMENT_ITEM, SKU_ITEM
from cloudtill.stock.ports import StaleStock, StockCounters
from cloudtill.stock.records import SkuRecord
from cloudtill.stock.rules import MovementRecord, StockChange, StockState
from cloudtill.stock.transactions import change_items, stock_state


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
        """The TransactWriteItems parts of `change` (`cloudtill.stock.transactions.change_items`)."""
        return change_items(self._table, change, events)

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
