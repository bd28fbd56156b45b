"""DynamoDB adapter of the stock ports.

Items (docs/stock.md):
* the SKU item (`SKU#<sku>` / `SKU`, created by the catalog): the stock domain writes `on_hand`,
  `available` (by delta), `backorder_limit`, `low_stock_threshold`, `low_stock`, `fifo`
  (`FifoStock.to_dict()`) and `stock_version`; reservations move `reserved` and `available` through
  the `reserve`/`unreserve` parts the checkout composes, a sale lowers `reserved`;
* ledger movements (`SKU#<sku>` / `MOVEMENT#<iso time>#<sequence>`), put once, never changed.

A change is ONE TransactWriteItems: the SKU item update conditioned on the values it was computed
from, the ledger put, and the outbox events (the parts of `cloudtill.stock.transactions`, which other
domains compose into their own transactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.outbox import DomainEvent
from cloudtill.stock.fifo import FifoStock
from cloudtill.stock.ports import StaleStock, StockCounters
from cloudtill.stock.rules import MovementRecord, StockChange, StockState
from cloudtill.stock.transactions import change_items, state_from_item


def movement_from_item(item: dict[str, Any]) -> MovementRecord:
    return MovementRecord(
        sku=item["sku"],
        sequence=int(item["sequence"]),
        type=item["type"],
        quantity=int(item["quantity"]),
        delta=int(item["delta"]),
        on_hand_before=int(item["on_hand_before"]),
        on_hand_after=int(item["on_hand_after"]),
        unit_cost=item.get("unit_cost"),
        value_before=int(item["value_before"]),
        value_after=int(item["value_after"]),
        cost_of_goods_sold=int(item["cost_of_goods_sold"]),
        reason=item["reason"],
        reference=item.get("reference"),
        at=item["at"],
    )


@ddb.transient_errors
class DynamoStockRepository:
    """The stock repository (StockRepository) and reconciliation reader (ReservationLedger)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client or ddb.client()

    # -- StockRepository ---------------------------------------------------------------------------

    def get(self, sku: str) -> StockState | None:
        item = self._get_sku_item(sku)
        return state_from_item(item) if item else None

    def save(self, change: StockChange, events: Sequence[DomainEvent]) -> None:
        try:
            self._client.transact_write_items(TransactItems=self.transaction_items(change, events))  # type: ignore[arg-type]
        except ClientError as error:
            if ddb.is_transaction_cancelled(error) and ddb.cancellation_codes(error)[:1] == [
                "ConditionalCheckFailed"
            ]:
                raise StaleStock(change.before.sku) from None
            raise

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
        records = [movement_from_item(ddb.from_item(i)) for i in response.get("Items", [])]
        return records, ddb.encode_cursor(response.get("LastEvaluatedKey"))

    # -- ReservationLedger -------------------------------------------------------------------------

    def stock_counters(self, sku: str) -> StockCounters | None:
        item = self._get_sku_item(sku)
        if item is None:
            return None
        on_hand = int(item.get("on_hand", 0))
        return StockCounters(
            sku=sku,
            on_hand=on_hand,
            reserved=int(item.get("reserved", 0)),
            available=int(item.get("available", 0)),
            backorder_limit=int(item.get("backorder_limit", 0)),
            fifo_quantity=FifoStock.from_dict(item["fifo"]).quantity if "fifo" in item else None,
            version=int(item.get("stock_version", 0)),
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

    def _get_sku_item(self, sku: str) -> dict[str, Any] | None:
        pk, sk = keys.sku(sku)
        response = self._client.get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True)
        item = response.get("Item")
        return ddb.from_item(item) if item else None
