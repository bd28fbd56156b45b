"""DynamoDB adapter of the order workflow's bookkeeping, and the store its tasks run on.

Attributes it keeps on the items it orchestrates (docs/orders.md "Workflow"): the AwaitPayment task
token on the checkout (`payment_task_token`), the AwaitFulfilment/AwaitDelivery token on the order
(`wait_task_token`, bumping the order's `version`), one-time step markers (`payment_cancelled_at`), and
the checkout's place on the paid-checkout list (GSI1 `CHECKOUTS#PAID`, set by the payments webhook,
removed by the order's confirmation or `forget_paid_checkout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.checkout.items import CHECKOUT_ITEM
from cloudtill.checkout.records import CheckoutRecord
from cloudtill.order_workflow.contracts import ORDER_TOKEN, PAYMENT_TOKEN
from cloudtill.orders.dynamo import DynamoOrderRepository
from cloudtill.orders.items import order_from_item
from cloudtill.orders.records import OrderRecord
from cloudtill.payments.claims_dynamo import DynamoRefundClaims
from cloudtill.stock.rules import StockState
from cloudtill.stock.transactions import state_from_item


@ddb.transient_errors
class DynamoWorkflowBookkeeping(ddb.TableAdapter):
    def checkout_and_stock(
        self, checkout_id: str, skus: Sequence[str]
    ) -> tuple[CheckoutRecord | None, dict[str, StockState]]:
        checkout_key = ddb.key(*keys.checkout(checkout_id))
        wanted = [checkout_key, *(ddb.key(*keys.sku(s)) for s in dict.fromkeys(skus))]
        checkout: CheckoutRecord | None = None
        stock: dict[str, StockState] = {}
        for raw in ddb.batch_get(self._client, self._table, wanted, consistent=True):
            item = ddb.from_item(raw)
            if raw["PK"] == checkout_key["PK"]:
                checkout = CHECKOUT_ITEM.from_plain(item)
            else:
                state = state_from_item(item)
                stock[state.sku] = state
        return checkout, stock

    def store_payment_token(self, checkout_id: str, token: str) -> CheckoutRecord | None:
        stored = self._store_token(keys.checkout(checkout_id), PAYMENT_TOKEN, token)
        return CHECKOUT_ITEM.from_plain(stored) if stored else None

    def checkout_with_token(self, checkout_id: str) -> tuple[CheckoutRecord, str | None] | None:
        data = ddb.get_plain(self._client, self._table, keys.checkout(checkout_id))
        if data is None:
            return None
        token = data.get(PAYMENT_TOKEN)
        return CHECKOUT_ITEM.from_plain(data), str(token) if token else None

    def store_order_token(self, order_id: str, token: str) -> OrderRecord | None:
        # The version bump is what lets writers read the token once (see the port).
        stored = self._store_token(keys.order(order_id), ORDER_TOKEN, token, bump_version=True)
        return order_from_item(stored) if stored else None

    def paid_checkouts(self, paid_before: str, limit: int) -> list[str]:
        # GSI1SK = "<paid at>#<checkout>": every checkout paid before `paid_before` sorts below it.
        items = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :paid AND GSI1SK < :before",
            ExpressionAttributeValues=ddb.to_values({":paid": keys.PAID_CHECKOUTS, ":before": paid_before}),
            ProjectionExpression="#id",
            ExpressionAttributeNames={"#id": "id"},
            Limit=limit,
        ).get("Items", [])
        return [str(ddb.from_item(item)["id"]) for item in items]

    def forget_paid_checkout(self, checkout_id: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*keys.checkout(checkout_id)),
                UpdateExpression="REMOVE GSI1PK, GSI1SK",
                ConditionExpression="attribute_exists(PK)",
            )
        except ClientError as error:
            if not ddb.is_conditional_failure(error):
                raise

    def mark(self, owner: tuple[str, str], flag: str, at: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*owner),
                UpdateExpression="SET #flag = :at",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#flag)",
                ExpressionAttributeNames={"#flag": flag},
                ExpressionAttributeValues=ddb.to_values({":at": at}),
            )
        except ClientError as error:
            if ddb.is_conditional_failure(error):
                return False
            raise
        return True

    def is_marked(self, owner: tuple[str, str], flag: str) -> bool:
        return ddb.get_attribute(self._client, self._table, owner, flag) is not None

    def _store_token(
        self, owner: tuple[str, str], attribute: str, token: str, bump_version: bool = False
    ) -> dict[str, Any] | None:
        """Set the task token `attribute` on an existing item; the item as of that write (plain),
        None when there is no such item."""
        names = {"#token": attribute, **({"#version": "version"} if bump_version else {})}
        values: dict[str, Any] = {":token": token, **({":one": 1} if bump_version else {})}
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*owner),
                UpdateExpression="SET #token = :token" + (" ADD #version :one" if bump_version else ""),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=ddb.to_values(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if ddb.is_conditional_failure(error):
                return None
            raise
        return ddb.from_item(response["Attributes"])


class DynamoOrderWorkflowStore(DynamoOrderRepository, DynamoRefundClaims, DynamoWorkflowBookkeeping):
    """`OrderWorkflowStore`: the orders, the refund ledger and the bookkeeping on one table and client."""
