"""DynamoDB adapters of the notifications ports (main table; keys in cloudtill.keys).

The function may write only `NOTIFICATION#…` and `SUPPRESSED#…` items (IAM `dynamodb:LeadingKeys`,
infra/constructs/notifications.py); it reads checkouts and orders to find the shopper.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from cloudtill import ddb, keys
from cloudtill.clock import Clock, iso
from cloudtill.ddb_codec import Attr, RecordCodec
from cloudtill.notifications.ports import (
    FINAL_STATUSES,
    Channel,
    ClaimResult,
    Contact,
    ReadAhead,
    address_hash,
)

SENDING = "sending"
# Records are kept 90 days: longer than any redelivery, long enough to answer "did they get it?".
RECORD_RETENTION = timedelta(days=90)
# The part of a checkout item `Contact` is (the same attribute names), and what any of the adapters
# below reads from a checkout, order, suppression or notification item.
CONTACT = RecordCodec(
    Contact,
    attrs={"marketing_consent": Attr(default=False), "currency": Attr(default=""), "total": Attr(default=0)},
)
CHECKOUT_ATTRIBUTES = tuple(f.name for f in dataclasses.fields(Contact))
PREFETCHED_ATTRIBUTES = ("PK", "SK", *CHECKOUT_ATTRIBUTES, "attempts")
UNPROCESSED_RETRIES = 3


@ddb.transient_errors
class DynamoPrefetcher:
    """One BatchGetItem (per 100 keys) for everything a batch of events reads; the adapters below
    share an instance and answer reads of prefetched keys from it, found or not.

    Strongly consistent like the single reads it replaces. Keys DynamoDB leaves unprocessed after a
    few retries are simply not cached: those reads fall back to GetItem."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._items: dict[tuple[str, str], dict[str, Any] | None] = {}

    def prefetch(self, wanted: ReadAhead) -> None:
        wanted_keys = [keys.checkout(c) for c in sorted(wanted.checkouts)]
        wanted_keys += [keys.order(o) for o in sorted(wanted.orders)]
        wanted_keys += [keys.suppression(address_hash(e)) for e in sorted(wanted.emails)]
        wanted_keys += [keys.notification(e, r) for e, r in sorted(wanted.records)]
        self.fetch(wanted_keys)

    def fetch(self, wanted_keys: Iterable[tuple[str, str]]) -> None:
        # Each key once (BatchGetItem rejects duplicates), and nothing already known.
        todo = [k for k in dict.fromkeys(wanted_keys) if k not in self._items]
        names = {f"#a{n}": name for n, name in enumerate(PREFETCHED_ATTRIBUTES)}
        for start in range(0, len(todo), ddb.BATCH_GET_LIMIT):
            chunk = todo[start : start + ddb.BATCH_GET_LIMIT]
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [ddb.key(pk, sk) for pk, sk in chunk],
                    "ConsistentRead": True,
                    "ProjectionExpression": ", ".join(names),
                    "ExpressionAttributeNames": names,
                }
            }
            found: dict[tuple[str, str], dict[str, Any]] = {}
            unprocessed: set[tuple[str, str]] = set()
            for attempt in range(UNPROCESSED_RETRIES + 1):
                response = ddb.client().batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self._table, []):
                    item = ddb.from_item(raw)
                    found[(str(item["PK"]), str(item["SK"]))] = item
                request = dict(response.get("UnprocessedKeys") or {})
                if not request:
                    break
                if attempt < UNPROCESSED_RETRIES:
                    time.sleep(0.05 * 2**attempt)
            if request:
                unprocessed = {
                    (k["PK"]["S"], k["SK"]["S"]) for k in request.get(self._table, {}).get("Keys", [])
                }
            for pair in chunk:
                if pair not in unprocessed:
                    self._items[pair] = found.get(pair)

    def known(self, pk: str, sk: str) -> bool:
        return (pk, sk) in self._items

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self._items.get((pk, sk))

    def drop(self, pk: str, sk: str) -> None:
        self._items.pop((pk, sk), None)

    def forget(self) -> None:
        self._items.clear()


@ddb.transient_errors
class DynamoNotificationLog:
    def __init__(
        self,
        table_name: str,
        clock: Clock,
        resend_after: timedelta,
        prefetched: DynamoPrefetcher | None = None,
    ) -> None:
        self._table = table_name
        self._clock = clock
        self._resend_after = resend_after
        self._prefetched = prefetched

    def claim(self, event_id: str, recipient: str, message: str, channel: Channel) -> ClaimResult:
        now = self._clock.now()
        pk, sk = keys.notification(event_id, recipient)
        if self._prefetched is not None:
            known = self._prefetched.item(pk, sk)
            # Final is forever (no write leaves a final status), so a redelivery needs no write to know.
            if known is not None and known.get("status") in FINAL_STATUSES:
                return ClaimResult(False, str(known["status"]), int(known.get("attempts", 0)))
            # Anything else is decided by the conditional write; what we read is stale from now on.
            self._prefetched.drop(pk, sk)
        try:
            result = ddb.client().update_item(
                TableName=self._table,
                Key=ddb.key(pk, sk),
                # New, failed before, or claimed by a delivery that has had its visibility timeout.
                ConditionExpression=(
                    "attribute_not_exists(PK) OR #status = :failed "
                    "OR (#status = :sending AND claimed_at < :stale)"
                ),
                UpdateExpression=(
                    "SET entity = :entity, #status = :sending, event_id = :event, message = :message, "
                    "channel = :channel, claimed_at = :now, #ttl = :ttl ADD attempts :one"
                ),
                ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
                ExpressionAttributeValues=ddb.to_values(
                    {
                        ":failed": "failed",
                        ":sending": SENDING,
                        ":stale": iso(now - self._resend_after),
                        ":entity": "notification",
                        ":event": event_id,
                        ":message": message,
                        ":channel": channel,
                        ":now": iso(now),
                        ":ttl": int((now + RECORD_RETENTION).timestamp()),
                        ":one": 1,
                    }
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ddb.client().exceptions.ConditionalCheckFailedException as error:
            old = ddb.from_item(dict(error.response.get("Item") or {}))  # type: ignore[call-overload]
            return ClaimResult(False, str(old.get("status")), int(old.get("attempts", 0)))
        new = ddb.from_item(result["Attributes"])
        return ClaimResult(True, SENDING, int(new.get("attempts", 1)))

    def finish(self, event_id: str, recipient: str, status: str, details: dict[str, Any]) -> None:
        pk, sk = keys.notification(event_id, recipient)
        values = {":status": status, ":at": iso(self._clock.now()), ":sending": SENDING}
        names = {"#status": "status"}
        sets = ["#status = :status", "finished_at = :at"]
        for n, (name, value) in enumerate(sorted(details.items())):
            names[f"#d{n}"] = name
            values[f":d{n}"] = value
            sets.append(f"#d{n} = :d{n}")
        # Only the claimant finishes: a record already final stays as it is.
        try:
            ddb.client().update_item(
                TableName=self._table,
                Key=ddb.key(pk, sk),
                ConditionExpression="#status = :sending",
                UpdateExpression="SET " + ", ".join(sets),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=ddb.to_values(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ddb.client().exceptions.ConditionalCheckFailedException as error:
            old = ddb.from_item(dict(error.response.get("Item") or {}))  # type: ignore[call-overload]
            if old.get("status") != "sent":
                raise
            # SES's Send event confirmed it first (feedback.record_sends): already what we would write.

    def confirm_sent(self, event_id: str, recipient: str, provider_message_id: str) -> bool:
        pk, sk = keys.notification(event_id, recipient)
        try:
            ddb.client().update_item(
                TableName=self._table,
                Key=ddb.key(pk, sk),
                # `failed` too: a send that raised (a timeout) may still have been accepted by SES.
                ConditionExpression="#status IN (:sending, :failed)",
                UpdateExpression=(
                    "SET #status = :sent, provider_message_id = :id, finished_at = :at, confirmed_by = :by"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=ddb.to_values(
                    {
                        ":sending": SENDING,
                        ":failed": "failed",
                        ":sent": "sent",
                        ":id": provider_message_id,
                        ":at": iso(self._clock.now()),
                        ":by": "ses_send_event",
                    }
                ),
            )
        except ddb.client().exceptions.ConditionalCheckFailedException:
            return False  # final already (or no such record): nothing to confirm
        return True

    def get(self, event_id: str, recipient: str) -> dict[str, Any] | None:
        pk, sk = keys.notification(event_id, recipient)
        item = ddb.client().get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True)
        return ddb.from_item(item["Item"]) if "Item" in item else None


@ddb.transient_errors
class DynamoSuppressions:
    def __init__(self, table_name: str, clock: Clock, prefetched: DynamoPrefetcher | None = None) -> None:
        self._table = table_name
        self._clock = clock
        self._prefetched = prefetched

    def is_suppressed(self, email: str) -> bool:
        pk, sk = keys.suppression(address_hash(email))
        if self._prefetched is not None and self._prefetched.known(pk, sk):
            return self._prefetched.item(pk, sk) is not None
        found = ddb.client().get_item(
            TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True, ProjectionExpression="PK"
        )
        return "Item" in found

    def suppress(self, email: str, reason: str, feedback_id: str) -> None:
        pk, sk = keys.suppression(address_hash(email))
        # Idempotent: the first reason is kept, later feedback only counts.
        ddb.client().update_item(
            TableName=self._table,
            Key=ddb.key(pk, sk),
            UpdateExpression=(
                "SET entity = :entity, reason = if_not_exists(reason, :reason), "
                "suppressed_at = if_not_exists(suppressed_at, :at), last_feedback_id = :feedback "
                "ADD feedback_count :one"
            ),
            ExpressionAttributeValues=ddb.to_values(
                {
                    ":entity": "suppression",
                    ":reason": reason,
                    ":at": iso(self._clock.now()),
                    ":feedback": feedback_id,
                    ":one": 1,
                }
            ),
        )


@ddb.transient_errors
class DynamoContacts:
    """Reads the checkout item (written by the checkout domain) and the order item (orders domain)."""

    def __init__(self, table_name: str, prefetched: DynamoPrefetcher | None = None) -> None:
        self._table = table_name
        self._prefetched = prefetched

    def _get(self, pk: str, sk: str, attributes: tuple[str, ...]) -> dict[str, Any] | None:
        if self._prefetched is not None and self._prefetched.known(pk, sk):
            return self._prefetched.item(pk, sk)
        # Every name through a placeholder: `status`, `total`… are DynamoDB reserved words.
        names = {f"#a{n}": name for n, name in enumerate(attributes)}
        found = ddb.client().get_item(
            TableName=self._table,
            Key=ddb.key(pk, sk),
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        return ddb.from_item(found["Item"]) if "Item" in found else None

    def of_checkout(self, checkout_id: str) -> Contact | None:
        item = self._get(*keys.checkout(checkout_id), CHECKOUT_ATTRIBUTES)
        if item is None or not item.get("email"):
            return None
        return CONTACT.decode(item)

    def email_of_order(self, order_id: str) -> str | None:
        item = self._get(*keys.order(order_id), ("email",))
        return str(item["email"]) if item and item.get("email") else None
