"""The lifecycle's permanent-failure branch, exercised for real: a confirmation that can never commit
compensates (stock released, payment refunded) before the execution ends in the Fail state the stack
alarms on. No execution ends with stock still held or money taken without an order."""

from __future__ import annotations

import httpx

from tests.integration.checkout_support import make_skus
from tests.integration.conftest import RunningBackend
from tests.integration.invariants import assert_order_invariants
from tests.integration.orders_support import (
    create_checkout,
    get_checkout,
    pay,
    payment_record,
    stripe_intent,
    wait_for,
    wait_for_execution_end,
)
from tests.integration.stock_helpers import TABLE, counters, dynamodb, receive

DISTINCT_SKUS = 3


def corrupt_stock_version(backend: RunningBackend, sku: str) -> None:
    """Store the SKU's `stock_version` as a string, which no writer ever does. The confirmation reads
    it as the number it spells and conditions the sale on `stock_version = <that number>`, which a
    string never equals: the transaction is refused every time, the task's re-reads and the state
    machine's retries all fail alike, and ConfirmOrder fails for good. Releasing the reservation
    (counters only) is untouched, so the compensation can still do its whole job."""
    key = {"PK": {"S": f"SKU#{sku}"}, "SK": {"S": "SKU"}}
    client = dynamodb(backend.aws_endpoint)
    version = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]["stock_version"]["N"]
    client.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET stock_version = :spelled",
        ExpressionAttributeValues={":spelled": {"S": version}},
    )


def test_an_order_that_cannot_be_confirmed_is_refunded_and_released_then_fails(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a paid checkout whose confirmation cannot commit: one of its SKUs is corrupt
    skus = make_skus(admin, unique, tuple(f"V{n}" for n in range(DISTINCT_SKUS)), price=300)
    for sku in skus:
        receive(backend, admin, sku, 2)
    checkout = create_checkout(api, *((sku, 1) for sku in skus))
    assert all(counters(backend, sku)["reserved"] == 1 for sku in skus)
    corrupt_stock_version(backend, skus[1])
    pay(api, checkout)

    # Then the workflow ends failed (the alarmed Fail state), after compensating; ConfirmOrder is
    # retried first (1 + 2 + 4 + 8 + 16 s), as for any confirmation that keeps being refused
    execution = wait_for_execution_end(backend, checkout["id"], timeout=150)
    assert execution["status"] == "FAILED", execution
    assert execution.get("error") == "OrderConfirmationFailed", execution  # not CompensationFailed
    payment_intent_id = checkout["payment"]["payment_intent_id"]
    wait_for(
        lambda: payment_record(backend, payment_intent_id),
        lambda r: r is not None and int(r.get("refunded_amount", 0)) == checkout["total"],
        "full refund recorded",
        timeout=60,
    )
    assert stripe_intent(api, payment_intent_id)["refunded"] == checkout["total"]
    for sku in skus:
        level = counters(backend, sku)
        assert (level["on_hand"], level["reserved"]) == (2, 0), sku
    seen = get_checkout(api, checkout)
    assert seen["order_id"] is None and seen["status"] != "awaiting_payment"
    assert_order_invariants(backend, [checkout["id"]], skus, admin)
