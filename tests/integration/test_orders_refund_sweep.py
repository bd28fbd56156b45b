"""A refund claim left `requesting` (its attempt died between claim and settle) is finished by the
`settle-stuck-refunds` schedule: the refund appears in the local Stripe exactly once and the claim is
settled with its id. The DynamoDB adapter's takeover condition is checked here too (two retriers, one
wins). docs/orders.md "Refunds"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cloudtill import ddb
from cloudtill.clock import iso
from cloudtill.payments.claims_dynamo import DynamoRefundClaims
from cloudtill.payments.records import RefundClaim
from cloudtill.payments.refund_claims import PENDING_REFUNDS
from cloudtill.payments.refund_ledger import REFUND_CLAIM_STALE_AFTER

from tests.integration.conftest import RunningBackend
from tests.integration.orders_support import create_checkout, get_order, pay, stocked_sku, wait_for_order_id
from tests.integration.stock_helpers import TABLE, dynamodb

SWEEP = "/_local/schedules/settle-stuck-refunds/run"


def _paid_order(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> dict[str, Any]:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout = create_checkout(api, (sku, 1))
    pay(api, checkout)
    return get_order(admin, wait_for_order_id(api, checkout))


def _stuck_claim(backend: RunningBackend, order: dict[str, Any], claim: str, at: str) -> RefundClaim:
    """What an attempt that died right after claiming leaves: the claim on the order item and its
    pending item (as the adapter writes them), written directly."""
    refund = RefundClaim(
        owner=(f"ORDER#{order['id']}", "ORDER"),
        claim=claim,
        payment_intent_id=order["payment_intent_id"],
        amount=order["total"],
        metadata={"order_id": order["id"], "reason": "order cancelled"},
    )
    client = dynamodb(backend.aws_endpoint)
    client.update_item(
        TableName=TABLE,
        Key=ddb.key(*refund.owner),
        UpdateExpression="SET #claim = :requesting, #at = :at, #amount = :amount, #ledger = :amount",
        ExpressionAttributeNames={
            "#claim": f"refund_{claim}",
            "#at": f"refund_{claim}_at",
            "#amount": f"refund_{claim}_amount",
            "#ledger": "refunded_amount",
        },
        ExpressionAttributeValues=ddb.to_values(
            {":requesting": "requesting", ":at": at, ":amount": refund.amount}
        ),
    )
    pk = f"REFUND_CLAIM#{refund.idempotency_key}"
    client.put_item(
        TableName=TABLE,
        Item=ddb.to_item(
            {
                "PK": pk,
                "SK": "CLAIM",
                "entity": "refund_claim",
                "owner_pk": refund.owner[0],
                "owner_sk": refund.owner[1],
                "claim": claim,
                "payment_intent_id": refund.payment_intent_id,
                "amount": refund.amount,
                "reason": refund.reason,
                "metadata": dict(refund.metadata),
                "requested_at": at,
                "GSI1PK": PENDING_REFUNDS,
                "GSI1SK": f"{at}#{pk}",
            }
        ),
    )
    return refund


def _claim_state(backend: RunningBackend, refund: RefundClaim) -> dict[str, Any]:
    client = dynamodb(backend.aws_endpoint)
    item = client.get_item(TableName=TABLE, Key=ddb.key(*refund.owner), ConsistentRead=True)["Item"]
    data = ddb.from_item(item)
    pending = client.get_item(
        TableName=TABLE, Key=ddb.key(f"REFUND_CLAIM#{refund.idempotency_key}", "CLAIM"), ConsistentRead=True
    ).get("Item")
    return {"claim": data.get(f"refund_{refund.claim}"), "pending": pending is not None}


def _stripe_refunds(api: httpx.Client, payment_intent_id: str) -> list[dict[str, Any]]:
    from localrt.stripe_emulator import API_KEY

    api_base = api.get("/_local/stripe").json()["api_base"]
    listed = httpx.get(
        f"{api_base}/v1/refunds",
        params={"payment_intent": payment_intent_id, "limit": 100},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


def _ago(seconds: float) -> str:
    return iso(datetime.now(UTC) - timedelta(seconds=seconds))


def test_the_sweep_settles_a_stuck_claim_with_exactly_one_stripe_refund(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a paid order whose cancel refund was claimed 6 minutes ago by an attempt that then died
    order = _paid_order(backend, api, admin, unique)
    stale = REFUND_CLAIM_STALE_AFTER.total_seconds()
    refund = _stuck_claim(backend, order, "cancel", _ago(stale + 60))
    assert _stripe_refunds(api, order["payment_intent_id"]) == []

    # When the schedule runs (twice: a second run must change nothing)
    first = api.post(SWEEP, json={})
    assert first.status_code == 200, first.text
    api.post(SWEEP, json={})

    # Then the refund is in Stripe exactly once, carrying its claim, and the claim is settled with it
    refunds = _stripe_refunds(api, order["payment_intent_id"])
    assert len(refunds) == 1, refunds
    assert refunds[0]["amount"] == order["total"]
    assert refunds[0]["metadata"]["refund_claim"] == refund.idempotency_key
    assert _claim_state(backend, refund) == {"claim": refunds[0]["id"], "pending": False}
    assert get_order(admin, order["id"])["refunded_amount"] == order["total"]  # the ledger agrees


def test_the_sweep_leaves_a_young_claim_alone_and_a_takeover_finds_the_dead_attempts_refund(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a claim made a moment ago (its attempt may still be running)
    order = _paid_order(backend, api, admin, unique)
    refund = _stuck_claim(backend, order, "cancel", _ago(5))

    # When the schedule runs, it is left alone
    assert api.post(SWEEP, json={}).status_code == 200
    assert _claim_state(backend, refund) == {"claim": "requesting", "pending": True}
    assert _stripe_refunds(api, order["payment_intent_id"]) == []

    # Given the dead attempt HAD reached Stripe (its refund exists; localstripe ignores idempotency keys)
    from localrt.stripe_emulator import API_KEY

    api_base = api.get("/_local/stripe").json()["api_base"]
    created = httpx.post(
        f"{api_base}/v1/refunds",
        data={
            "payment_intent": order["payment_intent_id"],
            "amount": order["total"],
            "metadata[refund_claim]": refund.idempotency_key,
        },
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert created.status_code == 200, created.text
    # ... and the claim is now old
    refund = _stuck_claim(backend, order, "cancel", _ago(REFUND_CLAIM_STALE_AFTER.total_seconds() + 60))

    # When the schedule runs, the claim is settled with that refund: no second one
    assert api.post(SWEEP, json={}).status_code == 200
    refunds = _stripe_refunds(api, order["payment_intent_id"])
    assert [r["id"] for r in refunds] == [created.json()["id"]]
    assert _claim_state(backend, refund) == {"claim": created.json()["id"], "pending": False}


def test_two_retriers_taking_over_the_same_stuck_claim_one_wins(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    order = _paid_order(backend, api, admin, unique)
    refund = _stuck_claim(backend, order, "return_9", _ago(REFUND_CLAIM_STALE_AFTER.total_seconds() + 60))
    first = DynamoRefundClaims(TABLE, dynamodb(backend.aws_endpoint))
    second = DynamoRefundClaims(TABLE, dynamodb(backend.aws_endpoint))
    now = datetime.now(UTC)
    stale_before = iso(now - REFUND_CLAIM_STALE_AFTER)

    # Both read the same old timestamp; only the first conditional takeover succeeds
    taken = [
        first.claim_refund(refund, iso(now), stale_before),
        second.claim_refund(refund, iso(now + timedelta(milliseconds=1)), stale_before),
    ]

    assert [t.how if t else None for t in taken] == ["again", None]
    assert _claim_state(backend, refund) == {"claim": "requesting", "pending": True}
    listed = first.stuck_refund_claims(iso(now + timedelta(seconds=1)), 100)
    mine = [c for c in listed if c.idempotency_key == refund.idempotency_key]
    assert [c.requested_at for c in mine] == [iso(now)]  # the pending item moved with the takeover
    first.settle_refund_claim(refund, iso(now + timedelta(milliseconds=1)), "re_not_mine")  # not the holder
    assert _claim_state(backend, refund) == {"claim": "requesting", "pending": True}
    first.settle_refund_claim(refund, iso(now), "re_x")
    assert _claim_state(backend, refund) == {"claim": "re_x", "pending": False}
