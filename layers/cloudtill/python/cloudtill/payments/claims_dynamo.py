"""DynamoDB adapter of the refund ledger (`RefundClaims`): claims on their owner items and the pending
list of the stuck-refund sweep (items and parts: `refund_claims`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb
from cloudtill.errors import TransientError
from cloudtill.payments.ports import NothingToRefund
from cloudtill.payments.records import ClaimState, RefundClaim, TakenClaim
from cloudtill.payments.refund_claims import (
    FAILED,
    LEDGER,
    PENDING_REFUNDS,
    REQUESTING,
    claim_condition_failed,
    claim_from_pending,
    claim_names,
    pending_put,
    pending_refund_key,
)

_LEDGER_ATTEMPTS = 10


@ddb.transient_errors
class DynamoRefundClaims(ddb.TableAdapter):
    def claim_refund(self, refund: RefundClaim, at: str, stale_before: str) -> TakenClaim | None:
        # The usual case in one write: never claimed, and the ledger has room for the whole amount.
        if refund.amount <= refund.cap:
            first = "attribute_not_exists(#claim) AND (attribute_not_exists(#ledger) OR #ledger <= :room)"
            if self._claim_refund(refund, at, first, {":room": refund.cap - refund.amount}, refund.amount):
                return TakenClaim("first", refund)
        for _ in range(_LEDGER_ATTEMPTS):
            # Taken already, or the ledger is short: read the claim and the ledger, then decide.
            data = self._claim_item(refund.owner, refund.claim)
            state = data.get(f"refund_{refund.claim}")
            since = data.get(f"refund_{refund.claim}_at")
            stored = data.get(f"refund_{refund.claim}_amount")
            if state == REQUESTING:
                if str(since or "") >= stale_before:
                    return None  # held by an attempt that may still be running
                # Taken over on the holder's own timestamp: of two retriers, one wins. Its amount is
                # counted already. (A claim written before claims had a timestamp counts as old.)
                condition, values = (
                    ("#claim = :requesting AND #at = :since", {":since": since})
                    if since
                    else ("#claim = :requesting AND attribute_not_exists(#at)", {})
                )
                # A claim made before the ledger existed has no amount yet: it is counted now.
                amount = int(stored) if stored is not None else refund.amount
                count = 0 if stored is not None else amount
                held = replace(refund, amount=amount)
                taken = self._claim_refund(held, at, condition, values, count)
                return TakenClaim("again", held) if taken else None
            if state is not None and state != FAILED:
                return None  # settled
            # Free (never claimed, or failed): count it against what remains, conditioned on the
            # ledger as read, so a concurrent claim makes this one read again.
            ledger = int(data.get(LEDGER, 0))
            wanted = int(stored) if state == FAILED and stored is not None else refund.amount
            remaining = refund.cap - ledger
            amount = wanted if refund.exact else min(wanted, remaining)
            if amount <= 0 or amount > remaining:
                raise NothingToRefund(max(remaining, 0))
            condition = ("attribute_not_exists(#claim)" if state is None else "#claim = :failed") + (
                " AND #ledger = :ledger" if LEDGER in data else " AND attribute_not_exists(#ledger)"
            )
            values = {":ledger": ledger} if LEDGER in data else {}
            if state is not None:
                values[":failed"] = FAILED
            held = replace(refund, amount=amount)
            if self._claim_refund(held, at, condition, values, amount):
                return TakenClaim("first" if state is None else "again", held)
        raise TransientError("the refund ledger kept changing while claiming")

    def settle_refund_claim(
        self, refund: RefundClaim, at: str, refund_id: str | None, refunded: int | None = None
    ) -> None:
        pk, sk = pending_refund_key(refund)
        # Freed: it no longer counts. Settled for another amount (reconciled with Stripe): the
        # ledger follows what was refunded.
        counted = 0 if refund_id is None else refund.amount if refunded is None else refunded
        update = "SET #claim = :value, #amount = :counted"
        values: dict[str, Any] = {
            ":value": refund_id or FAILED,
            ":requesting": REQUESTING,
            ":at": at,
            ":counted": refund.amount if refund_id is None else counted,
        }
        if counted != refund.amount:
            update += " ADD #ledger :delta"
            values[":delta"] = counted - refund.amount
        # Only the holder settles: an attempt that was taken over leaves it alone.
        holder = "#claim = :requesting AND #at = :at"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    self._owner_update(refund, update, holder, ":delta" in values, values),
                    # Settled or freed: no longer the sweep's (a freed claim's caller gets the error).
                    {"Delete": {"TableName": self._table, "Key": ddb.key(pk, sk)}},
                ]
            )
        except ClientError as error:
            if not claim_condition_failed(error):
                raise

    def refund_claim(self, owner: tuple[str, str], claim: str) -> ClaimState | None:
        data = self._claim_item(owner, claim)
        state = data.get(f"refund_{claim}")
        if state is None:
            return None
        amount = data.get(f"refund_{claim}_amount")
        since = data.get(f"refund_{claim}_at")
        return ClaimState(
            str(state), int(amount) if amount is not None else None, str(since) if since else None
        )

    def stuck_refund_claims(self, stale_before: str, limit: int) -> list[RefundClaim]:
        # GSI1SK = "<requested_at>#<PK>": every claim made before `stale_before` sorts below it.
        items = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pending AND GSI1SK < :before",
            ExpressionAttributeValues=ddb.to_values({":pending": PENDING_REFUNDS, ":before": stale_before}),
            Limit=limit,
        ).get("Items", [])
        return [claim_from_pending(ddb.from_item(item)) for item in items]

    def _claim_item(self, owner: tuple[str, str], claim: str) -> dict[str, Any]:
        item = self._client.get_item(
            TableName=self._table,
            Key=ddb.key(*owner),
            ProjectionExpression="#claim, #at, #amount, #ledger",
            ExpressionAttributeNames=claim_names(claim, ledger=True),
            ConsistentRead=True,
        ).get("Item")
        return ddb.from_item(item) if item else {}

    def _claim_refund(
        self, refund: RefundClaim, at: str, condition: str, values: dict[str, Any], count: int
    ) -> bool:
        """Set the claim `requesting` at `at` with its amount if `condition` holds, add `count` to the
        owner's ledger, and (re)write its pending item with everything the sweep needs to request it
        again: one transaction, so no claim is ever `requesting` without being listed and counted."""
        update = "SET #claim = :requesting, #at = :at, #amount = :amount"
        if count:
            update += " ADD #ledger :count"
        uses_ledger = bool(count) or "#ledger" in condition
        values = {
            ":requesting": REQUESTING,
            ":at": at,
            ":amount": refund.amount,
            **({":count": count} if count else {}),
            **values,
        }
        condition = f"attribute_exists(PK) AND ({condition})"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    self._owner_update(refund, update, condition, uses_ledger, values),
                    pending_put(self._table, refund, at),  # type: ignore[list-item]
                ]
            )
        except ClientError as error:
            if claim_condition_failed(error):
                return False
            raise
        return True

    def _owner_update(
        self, refund: RefundClaim, update: str, condition: str, ledger: bool, values: dict[str, Any]
    ) -> Any:
        """The claim's own update on its owner item (and the ledger's, with `ledger`)."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*refund.owner),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": claim_names(refund.claim, ledger=ledger),
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }
