"""DynamoDB adapters of the payments ports (single table, keys in `cloudtill.keys`).

- `PAYMENT_INTENT#<pi>` / `INTENT` (entity `payment`): the payment record, versioned; every write is
  conditional on the version read (optimistic concurrency, no blind read-modify-write).
- `PAYMENT_EVENT#<event id>` / `EVENT` (entity `payment_event`, TTL 35 days): webhook dedupe, put with
  `attribute_not_exists` IN the transaction of the effect; orphans also carry GSI1 `PAYMENT_ORPHANS`.
- `PAYMENT_CHARGE#<ch>` / `CHARGE`: charge -> PaymentIntent for webhooks naming only the charge.
- `ORDER#<id>` / `ORDER`: read only, attribute `payment_intent_id` (written by the orders domain).
- `CHECKOUT#<id>` / `CHECKOUT`: when a payment succeeds, its `payment_outcome` (`outcome` `paid`, or
  `mismatch` when flagged; `payment_intent_id`; `amount` received) is set in the webhook's transaction,
  with GSI1 `CHECKOUTS#PAID` / `<paid at>#<checkout>` (the settle-paid-checkouts sweep's list).
  The order workflow's AwaitPayment stores its task token on the checkout only while there is none,
  so a payment that lands first is seen by the workflow without a Lambda (docs/orders.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.ddb_codec import ItemCodec
from cloudtill.outbox import outbox_put
from cloudtill.payments.ports import StaleRecord, WebhookEffect
from cloudtill.payments.records import PaymentRecord

DEDUPE_RETENTION = timedelta(days=35)


# `retryable` and `refunded_amount` are stored beside the fields for readers of the item (ops, the
# state machine's direct reads); the record derives them again.
PAYMENT = ItemCodec(
    PaymentRecord,
    entity="payment",
    keys=lambda r: keys.item_keys(keys.payment_intent(r.payment_intent_id)),
    derived=("retryable", "refunded_amount"),
)


def record_to_item(record: PaymentRecord) -> dict[str, Any]:
    return PAYMENT.plain(record)


def record_from_item(item: dict[str, Any]) -> PaymentRecord:
    return PAYMENT.from_item(item)


@ddb.transient_errors
class DynamoPaymentStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def _ddb(self) -> Any:
        return self._client or ddb.client()

    def create(self, record: PaymentRecord) -> PaymentRecord | None:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=ddb.to_item(record_to_item(record)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if not ddb.is_conditional_failure(error):
                raise
            return self.get(record.payment_intent_id)
        return None

    def get(self, payment_intent_id: str) -> PaymentRecord | None:
        found = self._ddb.get_item(
            TableName=self._table, Key=ddb.key(*keys.payment_intent(payment_intent_id)), ConsistentRead=True
        ).get("Item")
        return record_from_item(found) if found else None

    def _checkout_outcome(self, record: PaymentRecord) -> dict[str, Any]:
        outcome = {
            "outcome": "mismatch" if record.flagged_for_review else "paid",
            "payment_intent_id": record.payment_intent_id,
            "amount": record.paid_amount,
        }
        # Listed as paid until an order or a refund settles it (the settle-paid-checkouts sweep).
        index_pk, index_sk = keys.paid_checkout_index(record.updated_at, record.checkout_id)
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*keys.checkout(record.checkout_id)),
                "UpdateExpression": "SET payment_outcome = :outcome, GSI1PK = :paid, GSI1SK = :paid_at",
                # Never create a stub checkout: a record always belongs to an existing checkout.
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": ddb.to_values(
                    {":outcome": outcome, ":paid": index_pk, ":paid_at": index_sk}
                ),
            }
        }

    def payment_intent_of_charge(self, charge_id: str) -> str | None:
        found = self._ddb.get_item(
            TableName=self._table, Key=ddb.key(*keys.payment_charge(charge_id)), ConsistentRead=True
        ).get("Item")
        return str(ddb.from_item(found)["payment_intent_id"]) if found else None

    def is_processed(self, event_id: str) -> bool:
        found = self._ddb.get_item(
            TableName=self._table,
            Key=ddb.key(*keys.payment_event(event_id)),
            ProjectionExpression="PK",
            ConsistentRead=True,
        )
        return "Item" in found

    def lookup(self, event_id: str, payment_intent_id: str | None) -> tuple[bool, PaymentRecord | None]:
        if payment_intent_id is None:
            return self.is_processed(event_id), None
        event_key = ddb.key(*keys.payment_event(event_id))
        record_key = ddb.key(*keys.payment_intent(payment_intent_id))
        processed, record = False, None
        for raw in ddb.batch_get(self._ddb, self._table, [event_key, record_key], consistent=True):
            if raw["PK"] == event_key["PK"]:
                processed = True
            else:
                record = record_from_item(raw)
        return processed, record

    def commit(self, effect: WebhookEffect) -> bool:
        received = datetime.fromisoformat(effect.received_at.replace("Z", "+00:00")).astimezone(UTC)
        # Orphans are listed for ops: Query GSI1 PAYMENT_ORPHANS.
        orphans = (keys.PAYMENT_ORPHANS, f"{effect.received_at}#{effect.event_id}") if effect.orphan else None
        dedupe = {
            **keys.item_keys(keys.payment_event(effect.event_id), gsi1=orphans),
            "entity": "payment_event",
            "event_id": effect.event_id,
            "event_type": effect.event_type,
            "payment_intent_id": effect.payment_intent_id,
            "received_at": effect.received_at,
            "orphan": effect.orphan,
            "ttl": int((received + DEDUPE_RETENTION).timestamp()),
        }
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": ddb.to_item(dedupe),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        if effect.record is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": ddb.to_item(record_to_item(effect.record)),
                        "ConditionExpression": "version = :expected",
                        "ExpressionAttributeValues": ddb.to_values({":expected": effect.expected_version}),
                    }
                }
            )
        if effect.charge_link is not None:
            charge_id, intent_id = effect.charge_link
            cpk, csk = keys.payment_charge(charge_id)
            link = {"PK": cpk, "SK": csk, "entity": "payment_charge", "payment_intent_id": intent_id}
            items.append({"Put": {"TableName": self._table, "Item": ddb.to_item(link)}})
        items.extend(outbox_put(self._table, event) for event in effect.events)
        if effect.settles_checkout and effect.record is not None:
            # Last, so the codes of the items above keep their positions.
            items.append(self._checkout_outcome(effect.record))
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except ClientError as error:
            if not ddb.is_transaction_cancelled(error):
                raise
            codes = ddb.cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False  # this event id was processed before: no effect
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise StaleRecord(effect.payment_intent_id) from None
            if effect.settles_checkout and len(codes) == len(items) and codes[-1] == "ConditionalCheckFailed":
                # The checkout item is gone (or never existed for this intent): the payment is
                # recorded all the same; the workflow (if any) learns of it from the webhook.
                self._ddb.transact_write_items(TransactItems=items[:-1])
                return True
            raise
        return True


@ddb.transient_errors
class DynamoOrderPaymentLookup:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client

    def payment_intent_of_order(self, order_id: str) -> str | None:
        found = (
            (self._client or ddb.client())
            .get_item(
                TableName=self._table,
                Key=ddb.key(*keys.order(order_id)),
                ProjectionExpression="payment_intent_id",
                ConsistentRead=True,
            )
            .get("Item")
        )
        if not found:
            return None
        value = ddb.from_item(found).get("payment_intent_id")
        return str(value) if value else None
