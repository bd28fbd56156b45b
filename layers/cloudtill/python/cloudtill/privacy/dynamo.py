"""DynamoDB adapter of the privacy port: GSI2 `EMAIL#<hash>` query, erasure in transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.ddb_codec import ItemCodec
from cloudtill.errors import Conflict
from cloudtill.outbox import DomainEvent, outbox_put
from cloudtill.privacy.records import ErasureRecord
from cloudtill.privacy.service import ERASED, ERASED_EMAIL, redacted_address

MAX_TRANSACTION_ITEMS = 100
# Fields that may hold a notification's recipient address (removed on erasure if present).
NOTIFICATION_PERSONAL_FIELDS = ("email", "phone", "address", "recipient", "to")


erasure_marker = keys.erasure
ERASURE_ITEM = ItemCodec(
    ErasureRecord, entity="erasure", keys=lambda e: keys.item_keys(keys.erasure(e.customer_hash))
)


@ddb.transient_errors
class DynamoCustomerRecords:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client

    def _ddb(self) -> Any:
        return self._client or ddb.client()

    def records(self, email_hash: str) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI2",
            "KeyConditionExpression": "GSI2PK = :pk",
            "ExpressionAttributeValues": ddb.to_values({":pk": keys.customer_index(email_hash, "", "")[0]}),
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self._ddb().query(**query)
            found += [dict(ddb.from_item(item)) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._ddb().get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True)
        return dict(ddb.from_item(item["Item"])) if "Item" in item else None

    def suppressed(self, email_hash: str) -> bool:
        return self._get(*keys.suppression(email_hash)) is not None

    def erased_at(self, email_hash: str) -> str | None:
        marker = self._get(*keys.erasure(email_hash))
        return ERASURE_ITEM.from_plain(marker).erased_at if marker else None

    def erase(self, email_hash: str, records: Sequence[dict[str, Any]], at: str, event: DomainEvent) -> None:
        operations = [self._pseudonymise(email_hash, record, at) for record in records]
        # The marker is the event's detail (`PrivacyService.erase` builds one from the other).
        marker = ERASURE_ITEM.item(ErasureRecord(**event.detail))
        closing = [{"Put": {"TableName": self._table, "Item": marker}}, outbox_put(self._table, event)]
        # Records first, in as many transactions as needed; the marker and the event close the last one,
        # so an interrupted erasure is finished by repeating it (erased records leave the index).
        room = MAX_TRANSACTION_ITEMS - len(closing)
        chunks = [operations[i : i + room] for i in range(0, len(operations), room)] or [[]]
        for index, chunk in enumerate(chunks):
            items = chunk + (closing if index == len(chunks) - 1 else [])
            try:
                self._ddb().transact_write_items(TransactItems=items)
            except ClientError as error:
                if ddb.is_transaction_cancelled(error):
                    raise Conflict("The customer's records changed during the erasure; retry it.") from None
                raise

    def _pseudonymise(self, email_hash: str, record: dict[str, Any], at: str) -> dict[str, Any]:
        names = {"#pk": "GSI2PK", "#sk": "GSI2SK"}
        values: dict[str, Any] = {":at": at}
        sets = ["erased_at = :at"]
        removes = ["#pk", "#sk"]
        condition = "attribute_exists(PK)"
        entity = record.get("entity")
        if entity in {"checkout", "order"}:
            sets += ["email = :email", "email_hash = :erased", "shipping_address = :address"]
            values.update(
                {
                    ":email": ERASED_EMAIL,
                    ":erased": ERASED,
                    ":address": redacted_address(record.get("shipping_address")),
                    ":hash": email_hash,
                }
            )
            condition = "email_hash = :hash"
            for optional in ("phone", "marketing_consent"):
                if optional in record:
                    removes.append(optional)
            if "version" in record:
                # Orders are written whole at the version read: bumping it makes a concurrent writer
                # re-read (and keep the erasure) instead of restoring the personal data.
                sets.append("version = version + :one")
                values.update({":one": 1, ":version": record["version"]})
                condition += " AND version = :version"
        else:
            removes += [f for f in NOTIFICATION_PERSONAL_FIELDS if f in record]
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(str(record["PK"]), str(record["SK"])),
                "UpdateExpression": f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }
