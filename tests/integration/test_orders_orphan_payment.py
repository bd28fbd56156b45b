"""A payment no workflow will see (its execution is gone after AwaitPayment stored its token), end to end
over HTTP: the shopper pays, the webhook finds a dead token, the expiry sweep leaves the paid checkout
alone, and the `settle-paid-checkouts` sweep refunds it in full exactly once, releasing its stock as
cancelled (docs/orders.md "Sweeps")."""

from __future__ import annotations

import httpx

from tests.integration.checkout_support import checkout_body
from tests.integration.conftest import RunningBackend
from tests.integration.invariants import assert_order_invariants
from tests.integration.orders_support import (
    execution_arn,
    get_checkout,
    outbox_of,
    pay,
    payment_record,
    stepfunctions,
    stocked_sku,
    stripe_intent,
    wait_for,
)
from tests.integration.stock_helpers import TABLE, counters, dynamodb

SETTLE = "/_local/schedules/settle-paid-checkouts/run"
EXPIRE = "/_local/schedules/release-expired-checkouts/run"


def _token_stored(backend: RunningBackend, checkout_id: str) -> bool:
    item = dynamodb(backend.aws_endpoint).get_item(
        TableName=TABLE,
        Key={"PK": {"S": f"CHECKOUT#{checkout_id}"}, "SK": {"S": "CHECKOUT"}},
        ConsistentRead=True,
    )["Item"]
    return "payment_task_token" in item


def test_a_payment_whose_workflow_is_gone_is_refunded_once_by_the_sweep(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 3)
    email = f"orphan-{unique}@example.com"
    created = api.post("/checkouts", json=checkout_body((sku, 2), email=email, marketing_consent=True))
    assert created.status_code == 201, created.text
    checkout = created.json()
    pi = checkout["payment"]["payment_intent_id"]
    # Given the checkout's workflow stored its payment token and then died
    wait_for(lambda: _token_stored(backend, checkout["id"]), bool, "payment token stored")
    stepfunctions(backend.aws_endpoint).stop_execution(
        executionArn=execution_arn(checkout["id"]), error="Injected", cause="the workflow is gone"
    )
    # When the shopper pays (the webhook's follow-up finds no live wait) and the expiry sweep runs
    assert pay(api, checkout)["status"] == "succeeded"
    wait_for(
        lambda: payment_record(backend, pi), lambda r: r and r["status"] == "succeeded", "payment recorded"
    )
    assert api.post(EXPIRE, json={}).status_code == 200
    assert get_checkout(api, checkout)["status"] == "awaiting_payment"
    # And the paid-checkout sweep runs (twice: a re-run, or a concurrent one, changes nothing)
    first = api.post(SETTLE, json={"grace_seconds": 0})
    second = api.post(SETTLE, json={"grace_seconds": 0})
    assert first.status_code == second.status_code == 200, first.text
    # Then the payment is refunded in full, once; the stock is back; no order, no "expired"
    assert stripe_intent(api, pi)["refunded"] == checkout["total"]
    record = wait_for(
        lambda: payment_record(backend, pi),
        lambda r: r is not None and int(r.get("refunded_amount", 0)) >= checkout["total"],
        "refund recorded from Stripe's webhook",
    )
    assert int(record["refunded_amount"]) == checkout["total"]
    seen = get_checkout(api, checkout)
    assert (seen["status"], seen["order_id"]) == ("cancelled", None)
    level = counters(backend, sku)
    assert (level["reserved"], level["available"], level["on_hand"]) == (0, 3, 3)
    types = [e["detail_type"] for e in outbox_of(backend, "checkout_id", checkout["id"])]
    assert "CheckoutExpired" not in types and "OrderConfirmed" not in types
    released = [
        e for e in outbox_of(backend, "checkout_id", checkout["id"]) if e["detail_type"] == "StockReleased"
    ]
    assert [e["detail"]["reason"] for e in released] == ["cancelled"]
    assert_order_invariants(backend, [checkout["id"]], [sku], admin)
    # And the shopper hears of the refund, never the reminder an expired checkout sends (consent given)
    mails = wait_for(
        lambda: api.get("/_local/emails", params={"recipient": email}).json()["items"],
        lambda items: any("refund" in m["subject"].lower() for m in items),
        "refund e-mail",
    )
    assert [m for m in mails if "refund" not in m["subject"].lower()] == [], mails
