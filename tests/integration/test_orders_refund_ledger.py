"""One refund ledger per order, over HTTP against localstripe: a partial admin refund, then a cancel,
refund exactly what was captured, and Stripe's refunds equal the order's ledger (docs/orders.md
"Refunds"). localstripe does not refuse refunds beyond the charge: the ledger alone keeps the sum."""

from __future__ import annotations

import httpx

from tests.integration.conftest import RunningBackend
from tests.integration.invariants import assert_order_invariants
from tests.integration.orders_support import (
    create_checkout,
    get_order,
    pay,
    payment_record,
    stocked_sku,
    stripe_intent,
    wait_for,
    wait_for_execution_end,
    wait_for_order_id,
    wait_for_order_status,
)


def test_a_partial_refund_then_a_cancel_refund_exactly_what_was_captured(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a paid order and a goodwill refund of 500, retried once with its Idempotency-Key
    sku = stocked_sku(backend, admin, unique, 5, price=1000)
    checkout = create_checkout(api, (sku, 2))
    pay(api, checkout)
    order_id = wait_for_order_id(api, checkout)
    pi = checkout["payment"]["payment_intent_id"]
    captured = int(checkout["total"])
    headers = {"Idempotency-Key": f"goodwill-{unique}"}
    partial = admin.post(f"/admin/orders/{order_id}/refunds", json={"amount": 500}, headers=headers)
    assert partial.status_code == 202, partial.text
    again = admin.post(f"/admin/orders/{order_id}/refunds", json={"amount": 500}, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["refund_id"] == partial.json()["refund_id"]
    assert partial.json()["idempotency_key"] == f"goodwill-{unique}"

    # When ops cancels the order
    cancelled = admin.post(f"/admin/orders/{order_id}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    order = wait_for_order_status(admin, order_id, "cancelled")
    assert wait_for_execution_end(backend, checkout["id"])["status"] == "SUCCEEDED"

    # Then the cancel refunded the rest: Stripe's refunds = the ledger = what was captured
    record = wait_for(
        lambda: payment_record(backend, pi),
        lambda r: r is not None and int(r.get("refunded_amount", 0)) >= captured,
        "both refunds recorded (charge.refunded)",
    )
    assert sorted(record["refunds"].values()) == sorted([500, captured - 500])
    assert stripe_intent(api, pi)["refunded"] == captured
    # (`order` was read when it turned cancelled: the refund claim comes right after that write)
    assert order["status"] == "cancelled"
    assert get_order(admin, order_id)["refunded_amount"] == captured
    # and nothing remains to refund
    over = admin.post(f"/admin/orders/{order_id}/refunds", json={})
    assert over.status_code == 422 and [e["field"] for e in over.json()["errors"]] == ["amount"]
    assert_order_invariants(backend, [checkout["id"]], [sku], admin)
