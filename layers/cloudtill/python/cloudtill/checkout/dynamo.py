"""DynamoDB adapter of the checkout port.

Items (docs/data-model.md): the checkout (`CHECKOUT#id`/`CHECKOUT`), one reservation per SKU
(`CHECKOUT#id`/`RESERVATION#sku`, in GSI1 `RESERVATIONS#HELD` and GSI2 `HELD#sku` while held), the
SKU item's counters (`available`, `reserved`: the stock domain's `reserve`/`unreserve` parts), the
promotion's `redeemed` counter and the per-email counter (`PROMO#code`/`EMAIL#hash`), and outbox
events. Creating and releasing a checkout are each ONE TransactWriteItems, so stock, reservations,
promotion counters and events never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudtill import ddb, keys
from cloudtill.checkout.items import (
    CHECKOUT_ITEM,
    RELEASED,
    RESERVATION_ITEM,
    close_reservation,
    held_reservations,
)
from cloudtill.checkout.ports import ReservationRejected
from cloudtill.checkout.records import CheckoutRecord, PromotionRedemption
from cloudtill.outbox import DomainEvent, outbox_put
from cloudtill.promotions.dynamo import PROMOTION_ITEM
from cloudtill.promotions.records import StoredPromotion
from cloudtill.stock import transactions as stock_parts
from cloudtill.stock.items import SKU_ITEM
from cloudtill.stock.records import SkuRecord

_CONFLICT = "TransactionConflict"


def checkout_record_from_item(item: dict[str, Any]) -> CheckoutRecord:
    """The checkout of an item read in plain values (`ddb.from_item`), for the other domains' reads."""
    return CHECKOUT_ITEM.from_plain(item)


@ddb.transient_errors
class DynamoCheckoutRepository(ddb.TableAdapter):
    # -- reads -----------------------------------------------------------------------------------------

    def skus(self, codes: Sequence[str]) -> dict[str, SkuRecord]:
        request_keys = [ddb.key(*keys.sku(code)) for code in dict.fromkeys(codes)]
        found = ddb.batch_get(self._client, self._table, request_keys, consistent=True)
        return {sku.sku: sku for sku in map(SKU_ITEM.from_item, found)}

    def promotion(self, code: str) -> StoredPromotion | None:
        item = ddb.get_item(self._client, self._table, keys.promotion(code))
        return PROMOTION_ITEM.from_item(item) if item else None

    def email_redemptions(self, code: str, email_hash: str) -> int:
        item = ddb.get_item(self._client, self._table, keys.promotion_email(code, email_hash))
        return int(ddb.from_item(item).get("redeemed", 0)) if item else 0

    def get(self, checkout_id: str) -> CheckoutRecord | None:
        item = ddb.get_item(self._client, self._table, keys.checkout(checkout_id))
        return CHECKOUT_ITEM.from_item(item) if item else None

    def payment_state(self, payment_intent_id: str) -> tuple[str, str | None] | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=ddb.key(*keys.payment_intent(payment_intent_id)),
            ProjectionExpression="#status, failure_code",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        if not item:
            return None
        data = ddb.from_item(item)
        return str(data["status"]), data.get("failure_code")

    def expired_checkout_ids(self, now: str, limit: int) -> list[str]:
        # GSI1SK = "<expires_at>#<checkout>#<sku>"; "$" sorts right after "#", so every reservation
        # expiring at or before `now` is below the bound.
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :held AND GSI1SK < :upper",
            "ExpressionAttributeValues": ddb.to_values(
                {":held": keys.HELD_RESERVATIONS, ":upper": f"{now}$"}
            ),
            "ProjectionExpression": "checkout_id",
        }
        found: dict[str, None] = {}
        while len(found) < limit:
            response = self._client.query(**query)
            for raw in response.get("Items", []):
                found[ddb.from_item(raw)["checkout_id"]] = None
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return list(found)[:limit]

    # -- writes ----------------------------------------------------------------------------------------

    def create(self, checkout: CheckoutRecord, events: Sequence[DomainEvent]) -> None:
        operations: list[dict[str, Any]] = []
        roles: list[str] = []  # what each operation is, to read the cancellation reasons

        def add(role: str, operation: dict[str, Any]) -> None:
            roles.append(role)
            operations.append(operation)

        add("checkout", self._put_new(CHECKOUT_ITEM.item(checkout)))
        backordered = {line.sku for line in checkout.lines if line.backordered}
        for held in held_reservations(checkout):
            limit = checkout.backorder_limits.get(held.sku)
            add(
                f"sku:{held.sku}",
                stock_parts.reserve(self._table, held.sku, held.quantity, limit, held.sku in backordered),
            )
            add("reservation", self._put_new(RESERVATION_ITEM.item(held)))
        if checkout.redemption is not None:
            add("promotion", self._redeem(checkout.redemption))
            if checkout.redemption.max_per_email is not None:
                add("promotion", self._redeem_for_email(checkout.redemption))
        for event in events:
            add("event", outbox_put(self._table, event))
        cancelled = ddb.transact(self._client, operations)
        if cancelled is None:
            return
        failed = [role for i, role in enumerate(roles) if cancelled.refused(i)]
        short = [role.removeprefix("sku:") for role in failed if role.startswith("sku:")]
        promotion = "promotion" in failed
        contended = _CONFLICT in cancelled.codes
        if not (short or promotion or contended):
            raise cancelled.error  # a failed put of a fresh id or event: a bug, not a shopper's problem
        raise ReservationRejected(short, promotion, contended)

    def release(
        self,
        checkout: CheckoutRecord,
        new_status: str,
        at: str,
        events: Sequence[DomainEvent],
        *,
        unpaid_only: bool = False,
    ) -> bool:
        pk, sk = keys.checkout(checkout.id)
        condition = "#status = :awaiting"
        names = {"#status": "status"}
        if unpaid_only:
            # The webhook sets `payment_outcome` in its own transaction: one of the two goes first.
            condition += " AND attribute_not_exists(#outcome)"
            names["#outcome"] = "payment_outcome"
        operations: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": ddb.key(pk, sk),
                    "UpdateExpression": "SET #status = :new, updated_at = :at",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": ddb.to_values(
                        {":new": new_status, ":at": at, ":awaiting": "awaiting_payment"}
                    ),
                }
            }
        ]
        for sku, quantity in checkout.reserved.items():
            operations.append(close_reservation(self._table, checkout.id, sku, RELEASED, at))
            operations.append(stock_parts.unreserve(self._table, sku, quantity))
        if checkout.redemption is not None:
            operations.append(self._give_back(*keys.promotion(checkout.redemption.code)))
            if checkout.redemption.max_per_email is not None:
                operations.append(
                    self._give_back(
                        *keys.promotion_email(checkout.redemption.code, checkout.redemption.email_hash)
                    )
                )
        operations += [outbox_put(self._table, event) for event in events]
        cancelled = ddb.transact(self._client, operations)
        if cancelled is not None and not cancelled.refused(0):
            raise cancelled.error
        # Refused: no longer awaiting payment (released or completed), or paid meanwhile.
        return cancelled is None

    def attach_payment(self, checkout_id: str, payment: dict[str, str]) -> None:
        pk, sk = keys.checkout(checkout_id)
        self._client.update_item(
            TableName=self._table,
            Key=ddb.key(pk, sk),
            UpdateExpression="SET payment = :payment",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=ddb.to_values({":payment": payment}),
        )

    # -- transaction parts -----------------------------------------------------------------------------

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _redeem(self, redemption: PromotionRedemption) -> dict[str, Any]:
        condition = "attribute_exists(PK) AND active = :true"
        values: dict[str, Any] = {":one": 1, ":true": True}
        if redemption.max_redemptions is not None:
            condition += " AND redeemed < :max"
            values[":max"] = redemption.max_redemptions
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*keys.promotion(redemption.code)),
                "UpdateExpression": "SET redeemed = redeemed + :one",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }

    def _redeem_for_email(self, redemption: PromotionRedemption) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*keys.promotion_email(redemption.code, redemption.email_hash)),
                "UpdateExpression": "SET redeemed = if_not_exists(redeemed, :zero) + :one, entity = :entity",
                "ConditionExpression": "attribute_not_exists(redeemed) OR redeemed < :max",
                "ExpressionAttributeValues": ddb.to_values(
                    {":zero": 0, ":one": 1, ":max": redemption.max_per_email, ":entity": "promotion_email"}
                ),
            }
        }

    def _give_back(self, pk: str, sk: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(pk, sk),
                "UpdateExpression": "SET redeemed = redeemed - :one",
                "ConditionExpression": "redeemed >= :one",
                "ExpressionAttributeValues": ddb.to_values({":one": 1}),
            }
        }
