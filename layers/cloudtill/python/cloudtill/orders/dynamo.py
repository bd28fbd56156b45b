"""DynamoDB adapter of the orders port (single table, keys in `cloudtill.keys`, items in `items`).

The order is versioned, every change conditional on the version read. Written with Update (never a
whole Put after creation) so the attributes others keep on it survive: the workflow's task token, the
refund claims and the ledger `refunded_amount` (the payments domain's refund ledger). One change is
ONE transaction, composed of this domain's parts and those the owners of the other items export:
on confirmation the checkout completes and each reservation is committed (`checkout.items`),
each SKU's sale or restock is the stock domain's (`stock.transactions`: counters, ledger movement,
StockAdjusted/StockLow), and a return's refund is claimed on the order (`payments.refund_claims`).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.checkout import items as checkout_parts
from cloudtill.order_workflow.contracts import ORDER_TOKEN, PAYMENT_TOKEN
from cloudtill.orders.items import (
    fulfilment_from_item,
    fulfilment_item,
    order_fields,
    order_from_item,
    return_from_item,
    return_item,
)
from cloudtill.orders.ports import CheckoutClosed, OrderWrite, StaleOrder
from cloudtill.orders.records import Fulfilment, OrderRecord, OrderReturn, OrderView
from cloudtill.orders.rules import StatusStep
from cloudtill.outbox import outbox_put
from cloudtill.payments import refund_claims as claim_parts
from cloudtill.stock import transactions as stock_parts
from cloudtill.stock.ports import StaleStock
from cloudtill.stock.rules import StockState
from cloudtill.stock.transactions import state_from_item


@ddb.transient_errors
class DynamoOrderRepository(ddb.TableAdapter):
    # -- reads -----------------------------------------------------------------------------------------

    def get(self, order_id: str) -> OrderView | None:
        pk, _ = keys.order(order_id)
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": ddb.to_values({":pk": pk}),
            "ConsistentRead": True,
        }
        order: OrderRecord | None = None
        token: str | None = None
        fulfilments: list[Fulfilment] = []
        returns: list[OrderReturn] = []
        while True:
            page = self._client.query(**query)
            for raw in page.get("Items", []):
                item = ddb.from_item(raw)
                if item["SK"] == "ORDER":
                    order = order_from_item(item)
                    token = item.get(ORDER_TOKEN)
                elif item["SK"].startswith(keys.FULFILMENT_PREFIX):
                    fulfilments.append(fulfilment_from_item(item))
                elif item["SK"].startswith(keys.RETURN_PREFIX):
                    returns.append(return_from_item(item))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if order is None:
            return None
        return OrderView(order, tuple(fulfilments), tuple(returns), token)

    def get_order(self, order_id: str) -> OrderView | None:
        data = ddb.get_plain(self._client, self._table, keys.order(order_id))
        if data is None:
            return None
        return OrderView(order_from_item(data), task_token=data.get(ORDER_TOKEN))

    def list_by_status(
        self, status: str, date: str | None, limit: int, cursor: str | None
    ) -> tuple[list[OrderRecord], str | None]:
        condition = "GSI1PK = :pk"
        values: dict[str, Any] = {":pk": keys.orders_by_status(status)}
        if date:
            condition += " AND begins_with(GSI1SK, :day)"
            values[":day"] = date
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI1",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": ddb.to_values(values),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        # A cursor starts inside this status partition and day (GSI1SK `<created_at>#<id>`), at an order.
        order_pk_prefix, order_sk = keys.order("")
        scope = ddb.CursorScope(
            equal={"GSI1PK": values[":pk"], "SK": order_sk},
            prefix={"PK": order_pk_prefix, "GSI1SK": date or ""},
        )
        items, next_cursor = ddb.query_page(self._client, query, cursor, scope)
        return [order_from_item(item) for item in items], next_cursor

    def stock(self, sku: str) -> StockState | None:
        item = ddb.get_plain(self._client, self._table, keys.sku(sku))
        return state_from_item(item) if item else None

    def advance(self, order_id: str, step: StatusStep) -> str | None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*keys.order(order_id)),
                UpdateExpression=(
                    "SET #status = :to, GSI1PK = :listed, updated_at = :at, "
                    "timeline = list_append(timeline, :entry) ADD #version :one"
                ),
                ConditionExpression=(
                    "#status = :from AND (attribute_not_exists(#cancel) OR #cancel = :false)"
                ),
                ExpressionAttributeNames={
                    "#status": "status",
                    "#version": "version",
                    "#cancel": "cancel_requested",
                },
                ExpressionAttributeValues=ddb.to_values(
                    {
                        ":to": step.to_status,
                        ":from": step.from_status,
                        ":listed": keys.orders_by_status(step.to_status),
                        ":at": step.at,
                        ":entry": [{"at": step.at, "event": step.event}],
                        ":one": 1,
                        ":false": False,
                    }
                ),
            )
        except ClientError as error:
            if not ddb.is_conditional_failure(error):
                raise
            # Not applicable (a retry after success, or another status): say where the order is.
            return ddb.get_attribute(self._client, self._table, keys.order(order_id), "status")
        return step.to_status

    # -- the one write -----------------------------------------------------------------------------

    def write(self, change: OrderWrite) -> None:
        transaction = ddb.Transaction()
        add = transaction.add
        order = change.order
        if change.checkout is not None:
            add(
                "checkout",
                checkout_parts.complete(
                    self._table, change.checkout.id, order.id, order.updated_at, also_remove=[PAYMENT_TOKEN]
                ),
            )
        operation = self._order_operation(order, change.expected_version)
        claim = change.refund_claim
        if claim is not None:
            operation = claim_parts.with_refund_claim(operation, claim)
            add("pending-refund", claim_parts.pending_put(self._table, claim, claim.requested_at))
        add("order", operation)
        for sku, _quantity in change.reservations.items():
            add(
                "reservation",
                checkout_parts.close_reservation(
                    self._table,
                    change.checkout.id if change.checkout else "",
                    sku,
                    checkout_parts.COMMITTED,
                    order.updated_at,
                ),
            )
        for stock_write in change.stock:
            sku_update, *parts = stock_parts.change_items(self._table, stock_write.change, stock_write.events)
            add("sku", sku_update)
            add("stock-part", *parts)
        if change.fulfilment is not None:
            add("child", ddb.put_new(self._table, fulfilment_item(order.id, change.fulfilment)))
        if change.order_return is not None:
            add("child", ddb.put_new(self._table, return_item(order.id, change.order_return)))
        add("event", *(outbox_put(self._table, event) for event in change.events))
        cancelled = ddb.transact(self._client, transaction.items)
        if cancelled is None:
            return
        failed = transaction.refused_roles(cancelled)
        if "checkout" in failed or "reservation" in failed:
            raise CheckoutClosed(order.checkout_id)
        if "order" in failed:
            raise StaleOrder(order.id)
        if "sku" in failed:
            raise StaleStock(order.id)
        if "TransactionConflict" in cancelled.codes:
            raise StaleOrder(order.id)  # a concurrent transaction: read again, retry
        raise cancelled.error

    # -- parts -------------------------------------------------------------------------------------

    def _order_operation(self, order: OrderRecord, expected_version: int | None) -> dict[str, Any]:
        pk, sk = keys.order(order.id)
        fields = order_fields(order)
        if expected_version is None:
            return ddb.put_new(self._table, {"PK": pk, "SK": sk, **fields})
        del fields[claim_parts.LEDGER]  # the refund ledger changes through claims only
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        # None values (e.g. no promo code) are stored as absent, like `ddb.to_item` does on Put.
        sets = [f"#f{i} = :f{i}" for i, v in enumerate(fields.values()) if v is not None]
        removes = [f"#f{i}" for i, v in enumerate(fields.values()) if v is None]
        values = {k: v for k, v in values.items() if v is not None}
        values[":expected"] = expected_version
        names["#version_read"] = "version"
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(pk, sk),
                "UpdateExpression": expression,
                "ConditionExpression": "#version_read = :expected",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }
