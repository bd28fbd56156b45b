"""DynamoDB adapter of the checkout port.

Items (docs/data-model.md): the checkout (`CHECKOUT#id`/`CHECKOUT`), one reservation per SKU
(`CHECKOUT#id`/`RESERVATION#sku`, in GSI1 `RESERVATIONS#HELD` and GSI2 `HELD#sku` while held), the
SKU item's counters (`available`, `reserved`), the promotion's `redeemed` counter and the per-email
counter (`PROMO#code`/`EMAIL#hash`), and outbox events. Creating and releasing a checkout are each ONE
TransactWriteItems, so stock, reservations, promotion counters and events never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.checkout.ports import ReservationRejected
from cloudtill.checkout.records import (
    CheckoutLineRecord,
    CheckoutRecord,
    PromotionRedemption,
    SkuSnapshot,
    StoredPromotion,
)
from cloudtill.outbox import DomainEvent, outbox_put
from cloudtill.promotions.dynamo import promotion_from_item

HELD = "held"
RELEASED = "released"
_CONDITION_FAILED = "ConditionalCheckFailed"
_CONFLICT = "TransactionConflict"


def _line_item(line: CheckoutLineRecord) -> dict[str, Any]:
    return {
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "line_total": line.line_total,
        "discount": line.discount,
        "tax": line.tax,
        "backordered": line.backordered,
    }


def _checkout_item(record: CheckoutRecord) -> dict[str, Any]:
    pk, sk = keys.checkout(record.id)
    gsi2pk, gsi2sk = keys.customer_index(record.email_hash, record.created_at, "CHECKOUT")
    redemption = record.redemption
    return {
        "PK": pk,
        "SK": sk,
        "entity": "checkout",
        "id": record.id,
        "token_hash": record.token_hash,
        "status": record.status,
        "email": record.email,
        "email_hash": record.email_hash,
        "phone": record.phone,
        "marketing_consent": record.marketing_consent,
        "lines": [_line_item(line) for line in record.lines],
        "reserved": [{"sku": sku, "quantity": qty} for sku, qty in record.reserved.items()],
        "currency": record.currency,
        "subtotal": record.subtotal,
        "discount": record.discount,
        "shipping": record.shipping,
        "tax": record.tax,
        "total": record.total,
        "prices_include_tax": record.prices_include_tax,
        "tax_rate_bps": record.tax_rate_bps,
        "shipping_method": record.shipping_method,
        "shipping_address": {k: v for k, v in record.shipping_address.items() if v is not None},
        "redemption": (
            {
                "code": redemption.code,
                "email_hash": redemption.email_hash,
                "max_redemptions": redemption.max_redemptions,
                "max_per_email": redemption.max_per_email,
            }
            if redemption
            else None
        ),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "expires_at": record.expires_at,
        "order_id": record.order_id,
        "payment": record.payment,
        "GSI2PK": gsi2pk,
        "GSI2SK": gsi2sk,
    }


def checkout_record_from_item(item: dict[str, Any]) -> CheckoutRecord:
    raw_redemption = item.get("redemption")
    return CheckoutRecord(
        id=item["id"],
        token_hash=item["token_hash"],
        status=item["status"],
        email=item["email"],
        email_hash=item["email_hash"],
        phone=item.get("phone"),
        marketing_consent=bool(item.get("marketing_consent", False)),
        lines=tuple(
            CheckoutLineRecord(
                sku=ln["sku"],
                name=ln["name"],
                quantity=ln["quantity"],
                unit_price=ln["unit_price"],
                line_total=ln["line_total"],
                discount=ln["discount"],
                tax=ln["tax"],
                backordered=bool(ln["backordered"]),
            )
            for ln in item["lines"]
        ),
        currency=item["currency"],
        subtotal=item["subtotal"],
        discount=item["discount"],
        shipping=item["shipping"],
        tax=item["tax"],
        total=item["total"],
        prices_include_tax=bool(item["prices_include_tax"]),
        tax_rate_bps=item["tax_rate_bps"],
        shipping_method=item["shipping_method"],
        shipping_address=dict(item["shipping_address"]),
        redemption=(
            PromotionRedemption(
                code=raw_redemption["code"],
                email_hash=raw_redemption["email_hash"],
                max_redemptions=raw_redemption.get("max_redemptions"),
                max_per_email=raw_redemption.get("max_per_email"),
            )
            if raw_redemption
            else None
        ),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        expires_at=item["expires_at"],
        order_id=item.get("order_id"),
        payment=item.get("payment"),
        reserved={r["sku"]: r["quantity"] for r in item["reserved"]},
        payment_outcome=item.get("payment_outcome"),
    )


def _reservation_item(record: CheckoutRecord, sku: str, quantity: int) -> dict[str, Any]:
    pk, sk = keys.reservation(record.id, sku)
    gsi1pk, gsi1sk = keys.held_reservation_index(record.expires_at, record.id, sku)
    gsi2pk, gsi2sk = keys.held_by_sku_index(sku, record.id)
    return {
        "PK": pk,
        "SK": sk,
        "entity": "reservation",
        "checkout_id": record.id,
        "sku": sku,
        "quantity": quantity,
        "status": HELD,
        "expires_at": record.expires_at,
        "created_at": record.created_at,
        "GSI1PK": gsi1pk,
        "GSI1SK": gsi1sk,
        "GSI2PK": gsi2pk,
        "GSI2SK": gsi2sk,
    }


def _sku_name(item: dict[str, Any]) -> str:
    product, variant = item.get("product_name") or "", item.get("name") or ""
    if product and variant and variant != product:
        return f"{product} - {variant}"
    return product or variant or item["sku"]


@ddb.transient_errors
class DynamoCheckoutRepository:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client or ddb.client()

    # -- reads -----------------------------------------------------------------------------------------

    def skus(self, codes: Sequence[str]) -> dict[str, SkuSnapshot]:
        result: dict[str, SkuSnapshot] = {}
        request_keys = [ddb.key(*keys.sku(code)) for code in dict.fromkeys(codes)]
        for raw in ddb.batch_get(self._client, self._table, request_keys, consistent=True):
            item = ddb.from_item(raw)
            result[item["sku"]] = SkuSnapshot(
                sku=item["sku"],
                name=_sku_name(item),
                price=int(item["price"]),
                currency=item["currency"],
                active=bool(item.get("active", False)),
                on_hand=int(item.get("on_hand", 0)),
                reserved=int(item.get("reserved", 0)),
                backorder_limit=int(item.get("backorder_limit", 0)),
            )
        return result

    def promotion(self, code: str) -> StoredPromotion | None:
        pk, sk = keys.promotion(code)
        item = self._client.get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        return promotion_from_item(ddb.from_item(item)) if item else None

    def email_redemptions(self, code: str, email_hash: str) -> int:
        pk, sk = keys.promotion_email(code, email_hash)
        item = self._client.get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        return int(ddb.from_item(item).get("redeemed", 0)) if item else 0

    def get(self, checkout_id: str) -> CheckoutRecord | None:
        pk, sk = keys.checkout(checkout_id)
        item = self._client.get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        return checkout_record_from_item(ddb.from_item(item)) if item else None

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

        add("checkout", self._put_new(_checkout_item(checkout)))
        backordered = {line.sku for line in checkout.lines if line.backordered}
        for sku, quantity in checkout.reserved.items():
            limit = checkout.backorder_limits.get(sku)
            add(f"sku:{sku}", self._reserve(sku, quantity, limit, sku in backordered))
            add("reservation", self._put_new(_reservation_item(checkout, sku, quantity)))
        if checkout.redemption is not None:
            add("promotion", self._redeem(checkout.redemption))
            if checkout.redemption.max_per_email is not None:
                add("promotion", self._redeem_for_email(checkout.redemption))
        for event in events:
            add("event", outbox_put(self._table, event))
        try:
            self._client.transact_write_items(TransactItems=operations)  # type: ignore[arg-type]
        except ClientError as error:
            if not ddb.is_transaction_cancelled(error):
                raise
            codes = ddb.cancellation_codes(error)
            failed = [role for role, code in zip(roles, codes, strict=False) if code == _CONDITION_FAILED]
            short = [role.removeprefix("sku:") for role in failed if role.startswith("sku:")]
            promotion = "promotion" in failed
            contended = _CONFLICT in codes
            if not (short or promotion or contended):
                raise  # a failed put of a fresh id or event: a bug, not a shopper's problem
            raise ReservationRejected(short, promotion, contended) from None

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
            operations.append(self._release_reservation(checkout.id, sku, at))
            operations.append(self._unreserve(sku, quantity))
        if checkout.redemption is not None:
            operations.append(self._give_back(*keys.promotion(checkout.redemption.code)))
            if checkout.redemption.max_per_email is not None:
                operations.append(
                    self._give_back(
                        *keys.promotion_email(checkout.redemption.code, checkout.redemption.email_hash)
                    )
                )
        operations += [outbox_put(self._table, event) for event in events]
        try:
            self._client.transact_write_items(TransactItems=operations)  # type: ignore[arg-type]
        except ClientError as error:
            if ddb.is_transaction_cancelled(error) and ddb.cancellation_codes(error)[:1] == [
                _CONDITION_FAILED
            ]:
                return False  # no longer awaiting payment (released or completed), or paid meanwhile
            raise
        return True

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
                "Item": ddb.to_item(item),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _reserve(
        self, sku: str, quantity: int, backorder_limit: int | None, backordered: bool
    ) -> dict[str, Any]:
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
                "TableName": self._table,
                "Key": ddb.key(*keys.sku(sku)),
                "UpdateExpression": "SET available = available - :q, reserved = reserved + :q",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }

    def _unreserve(self, sku: str, quantity: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*keys.sku(sku)),
                "UpdateExpression": "SET available = available + :q, reserved = reserved - :q",
                "ConditionExpression": "reserved >= :q",
                "ExpressionAttributeValues": ddb.to_values({":q": quantity}),
            }
        }

    def _release_reservation(self, checkout_id: str, sku: str, at: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*keys.reservation(checkout_id, sku)),
                "UpdateExpression": "SET #status = :released, released_at = :at "
                "REMOVE GSI1PK, GSI1SK, GSI2PK, GSI2SK",
                "ConditionExpression": "#status = :held",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": ddb.to_values({":released": RELEASED, ":held": HELD, ":at": at}),
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
