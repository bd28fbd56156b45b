"""The refund ledger's items and transaction parts (docs/orders.md "Refunds").

A claim lives on its owner item (the order, or the checkout of a payment without an order):
`refund_<claim>` is `requesting` (with `refund_<claim>_at`), then the refund id, or `failed` (free
again); `refund_<claim>_amount` is what it counts in the owner's ledger `refunded_amount` (the sum of
its claims that are requesting or settled; only claims change it, by ADD conditioned on the value
read). While requesting, a pending item `REFUND_CLAIM#<key>` / `CLAIM` lists it for the stuck-refund
sweep (GSI1 `REFUNDS#REQUESTING` / `<requested_at>#<PK>`), in its own partition: the order's
partition is read whole. The owner's domain composes `with_refund_claim` and `pending_put` into its
own transaction when a change of its own takes a claim (an order return).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.ddb_codec import Attr, ItemCodec, RecordCodec
from cloudtill.errors import TransientError
from cloudtill.payments.records import RefundClaim

REQUESTING = "requesting"
FAILED = "failed"
PENDING_REFUNDS = "REFUNDS#REQUESTING"  # GSI1PK of pending refund claims; GSI1SK `<requested_at>#<PK>`
LEDGER = "refunded_amount"
CONDITION_FAILED = "ConditionalCheckFailed"


def pending_refund_key(refund: RefundClaim) -> tuple[str, str]:
    return f"REFUND_CLAIM#{refund.idempotency_key}", "CLAIM"


def claim_names(claim: str, ledger: bool = False) -> dict[str, str]:
    """Expression attribute names of a claim's attributes on its owner (and of the ledger)."""
    names = {"#claim": f"refund_{claim}", "#at": f"refund_{claim}_at", "#amount": f"refund_{claim}_amount"}
    if ledger:
        names["#ledger"] = LEDGER
    return names


def with_refund_claim(operation: dict[str, Any], refund: RefundClaim) -> dict[str, Any]:
    """The owner's own update (`SET ...`, conditioned), also claiming `refund` (never claimed before,
    room left in the ledger) and counting it: the claim and the change it belongs to commit together
    or not at all."""
    update = dict(operation["Update"])
    expression = str(update["UpdateExpression"])
    assert expression.startswith("SET ")
    names = {f"#rc_{k[1:]}": v for k, v in claim_names(refund.claim, ledger=True).items()}
    update["UpdateExpression"] = (
        "SET #rc_claim = :rc_requesting, #rc_at = :rc_at, #rc_amount = :rc_amount, "
        + expression.removeprefix("SET ")
        + " ADD #rc_ledger :rc_amount"
    )
    update["ConditionExpression"] = (
        f"({update['ConditionExpression']}) AND attribute_not_exists(#rc_claim)"
        " AND (attribute_not_exists(#rc_ledger) OR #rc_ledger <= :rc_room)"
    )
    update["ExpressionAttributeNames"] = {**update["ExpressionAttributeNames"], **names}
    update["ExpressionAttributeValues"] = {
        **update["ExpressionAttributeValues"],
        **ddb.to_values(
            {
                ":rc_requesting": REQUESTING,
                ":rc_at": refund.requested_at,
                ":rc_amount": refund.amount,
                ":rc_room": refund.cap - refund.amount,
            }
        ),
    }
    return {"Update": update}


@dataclass(frozen=True)
class _Pending:
    """A pending claim as stored: its owner's key in two attributes beside the claim's fields."""

    owner_pk: str
    owner_sk: str
    refund: RefundClaim


def _pending_keys(pending: _Pending) -> dict[str, str]:
    pk, sk = pending_refund_key(pending.refund)
    return keys.item_keys((pk, sk), gsi1=(PENDING_REFUNDS, f"{pending.refund.requested_at}#{pk}"))


PENDING = ItemCodec(
    _Pending,
    entity="refund_claim",
    keys=_pending_keys,
    inline=("refund",),
    nested=[RecordCodec(RefundClaim, attrs={"owner": Attr(stored=False, default=("", ""))})],
)


def pending_item(refund: RefundClaim, at: str) -> dict[str, Any]:
    """What the stuck-refund sweep needs to request a claim again, listed while `requesting`."""
    return PENDING.plain(_Pending(refund.owner[0], refund.owner[1], replace(refund, requested_at=at)))


def pending_put(table: str, refund: RefundClaim, at: str) -> dict[str, Any]:
    """The pending item's Put, (re)written with every claim that makes it `requesting`."""
    return {"Put": {"TableName": table, "Item": ddb.to_item(pending_item(refund, at))}}


def claim_from_pending(data: dict[str, Any]) -> RefundClaim:
    pending = PENDING.from_plain(data)
    return replace(pending.refund, owner=(pending.owner_pk, pending.owner_sk))


def claim_condition_failed(error: ClientError) -> bool:
    """The claim's condition failed (False to the caller). Two transactions on the same owner item at
    the same moment cancel one another: that one is worth a retry (TransientError), not a no."""
    if not ddb.is_transaction_cancelled(error):
        return False
    codes = ddb.cancellation_codes(error)
    if CONDITION_FAILED in codes:
        return True
    if "TransactionConflict" in codes:
        raise TransientError("a refund claim changed at the same moment") from None
    return False
