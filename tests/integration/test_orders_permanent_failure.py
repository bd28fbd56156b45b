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
from tests.integration.stock_helpers import counters, receive

# A confirmation is one DynamoDB transaction (at most 100 items); a checkout this wide cannot be
# confirmed in one (docs/orders.md), which makes it a genuine permanent failure of ConfirmOrder.
DISTINCT_SKUS = 30


def test_an_order_that_cannot_be_confirmed_is_refunded_and_released_then_fails(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a paid checkout whose confirmation cannot commit
    skus = make_skus(admin, unique, tuple(f"V{n}" for n in range(DISTINCT_SKUS)), price=300)
    for sku in skus:
        receive(backend, admin, sku, 2)
    checkout = create_checkout(api, *((sku, 1) for sku in skus))
    assert all(counters(backend, sku)["reserved"] == 1 for sku in skus)
    pay(api, checkout)

    # Then the workflow ends failed (the alarmed Fail state), after compensating
    execution = wait_for_execution_end(backend, checkout["id"], timeout=90)
    assert execution["status"] == "FAILED", execution
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
