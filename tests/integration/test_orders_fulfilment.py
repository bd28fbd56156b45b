"""Orders after confirmation, over HTTP: partial fulfilment in two shipments, returns with restock and
refund, admin cancellation (refund + restock), and a declined payment that does not end the checkout.
Every scenario ends with the order invariants (tests/integration/invariants.py)."""

from __future__ import annotations

import httpx

from tests.integration.checkout_support import assert_problem
from tests.integration.conftest import RunningBackend
from tests.integration.invariants import assert_order_invariants
from tests.integration.orders_support import (
    DECLINED_CARD,
    assert_valid_event,
    create_checkout,
    execution,
    get_checkout,
    get_order,
    outbox_of,
    pay,
    payment_record,
    stocked_sku,
    stripe_intent,
    wait_for,
    wait_for_execution_end,
    wait_for_order_id,
    wait_for_order_status,
)
from tests.integration.stock_helpers import counters


def _paid_order(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, *lines: tuple[str, int]
) -> tuple[dict[str, object], str]:
    checkout = create_checkout(api, *lines)
    pay(api, checkout)
    return checkout, wait_for_order_id(api, checkout)


def _wait_refunded(backend: RunningBackend, checkout: dict[str, object], amount: int) -> None:
    pi = checkout["payment"]["payment_intent_id"]  # type: ignore[index]
    wait_for(
        lambda: payment_record(backend, pi),
        lambda r: r is not None and int(r.get("refunded_amount", 0)) >= amount,
        f"refund of {amount} recorded (charge.refunded webhook)",
    )


def test_two_partial_shipments_then_a_return_with_restock_and_refund(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given an order for 3 units of A and 2 of B
    sku_a = stocked_sku(backend, admin, unique + "a", 10, price=1000)
    sku_b = stocked_sku(backend, admin, unique + "b", 10, price=2500)
    checkout, order_id = _paid_order(backend, api, admin, (sku_a, 3), (sku_b, 2))

    # When the first shipment carries 2 of A, the order is partially shipped
    first = admin.post(
        f"/admin/orders/{order_id}/fulfillments",
        json={"carrier": "dhl", "tracking_number": "JD0001", "lines": [{"sku": sku_a, "quantity": 2}]},
    )
    assert first.status_code == 201, first.text
    assert get_order(admin, order_id)["status"] == "partially_shipped"
    # More than what is left to ship is refused, naming the field; nothing changes
    too_many = admin.post(
        f"/admin/orders/{order_id}/fulfillments",
        json={"carrier": "dhl", "tracking_number": "JD0002", "lines": [{"sku": sku_a, "quantity": 2}]},
    )
    assert_problem(too_many, 422, "lines[0].quantity")
    # Delivered is refused until everything shipped
    assert_problem(admin.post(f"/admin/orders/{order_id}/delivered"), 409)

    # When the second shipment carries the rest (no lines: everything left), the order is shipped
    second = admin.post(
        f"/admin/orders/{order_id}/fulfillments", json={"carrier": "ups", "tracking_number": "1Z9"}
    )
    assert second.status_code == 201, second.text
    assert {(ln["sku"], ln["quantity"]) for ln in second.json()["lines"]} == {(sku_a, 1), (sku_b, 2)}
    order = wait_for_order_status(admin, order_id, "shipped")
    assert [f["number"] for f in order["fulfillments"]] == [1, 2]
    # The workflow moved on to wait for delivery (it was resumed twice)
    history_ok = execution(backend, checkout["id"])["status"] == "RUNNING"  # type: ignore[index]
    assert history_ok

    # When 1 unit of B comes back, restocked and refunded
    on_hand_before = counters(backend, sku_b)["on_hand"]
    returned = admin.post(
        f"/admin/orders/{order_id}/returns",
        json={"lines": [{"sku": sku_b, "quantity": 1}], "restock": True, "refund": True},
    )
    assert returned.status_code == 201, returned.text
    refund = returned.json()["refund_amount"]
    assert refund == 2500  # half of the B line (tax-inclusive prices, no discount)
    assert counters(backend, sku_b)["on_hand"] == on_hand_before + 1
    _wait_refunded(backend, checkout, refund)
    assert stripe_intent(api, checkout["payment"]["payment_intent_id"])["refunded"] == refund  # type: ignore[index]
    # Returning more than was shipped and not yet returned is refused
    assert_problem(
        admin.post(
            f"/admin/orders/{order_id}/returns",
            json={"lines": [{"sku": sku_b, "quantity": 2}], "restock": True, "refund": True},
        ),
        422,
        "lines[0].quantity",
    )

    view = api.get(f"/orders/{order_id}", headers={"X-Checkout-Token": checkout["token"]}).json()
    assert view["payment_status"] == "partially_refunded"
    assert [e["event"] for e in view["timeline"]][-3:] == ["partially_shipped", "shipped", "returned"]
    events = outbox_of(backend, "order_id", order_id)
    assert [e["detail_type"] for e in events] == [
        "OrderConfirmed",
        "OrderShipped",
        "OrderShipped",
        "OrderReturned",
    ]
    for envelope in events:
        assert_valid_event(envelope)
    assert [e["detail"]["fully_shipped"] for e in events if e["detail_type"] == "OrderShipped"] == [
        False,
        True,
    ]
    assert_order_invariants(backend, [checkout["id"]], [sku_a, sku_b], admin)  # type: ignore[list-item]


def test_admin_cancel_before_shipment_refunds_and_restocks(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout, order_id = _paid_order(backend, api, admin, (sku, 2))
    assert counters(backend, sku)["on_hand"] == 3

    cancelled = admin.post(f"/admin/orders/{order_id}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    wait_for_order_status(admin, order_id, "cancelled")
    assert wait_for_execution_end(backend, checkout["id"])["status"] == "SUCCEEDED"  # type: ignore[arg-type]
    _wait_refunded(backend, checkout, int(checkout["total"]))  # type: ignore[arg-type]
    # The refund ledger counts the cancel's claim, made right after the status write (read it after)
    assert get_order(admin, order_id)["refunded_amount"] == checkout["total"]
    level = counters(backend, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 0, 5)
    # A cancelled order cannot be shipped or cancelled again
    assert_problem(
        admin.post(
            f"/admin/orders/{order_id}/fulfillments", json={"carrier": "dhl", "tracking_number": "X1"}
        ),
        409,
    )
    assert_problem(admin.post(f"/admin/orders/{order_id}/cancel"), 409)
    [event] = [e for e in outbox_of(backend, "order_id", order_id) if e["detail_type"] == "OrderCancelled"]
    assert_valid_event(event)
    assert_order_invariants(backend, [checkout["id"]], [sku], admin)  # type: ignore[list-item]


def test_cancel_after_a_shipment_is_refused(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout, order_id = _paid_order(backend, api, admin, (sku, 2))
    shipped = admin.post(
        f"/admin/orders/{order_id}/fulfillments",
        json={"carrier": "dhl", "tracking_number": "P1", "lines": [{"sku": sku, "quantity": 1}]},
    )
    assert shipped.status_code == 201
    assert_problem(admin.post(f"/admin/orders/{order_id}/cancel"), 409, "order_id")
    assert get_order(admin, order_id)["status"] == "partially_shipped"
    assert_problem(admin.post("/admin/orders/ord_unknown/cancel"), 404)
    assert_order_invariants(backend, [checkout["id"]], [sku], admin)  # type: ignore[list-item]


def test_a_declined_card_does_not_end_the_checkout(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout = create_checkout(api, (sku, 1))
    pay(api, checkout, DECLINED_CARD)
    pi = checkout["payment"]["payment_intent_id"]
    wait_for(
        lambda: payment_record(backend, pi),
        lambda r: r and r["status"] == "payment_failed",
        "decline recorded",
    )
    # The shopper may still pay: the checkout waits, its stock stays held, the workflow keeps waiting
    assert get_checkout(api, checkout)["status"] == "awaiting_payment"
    assert counters(backend, sku)["reserved"] == 1
    assert execution(backend, checkout["id"])["status"] == "RUNNING"
    assert_order_invariants(backend, [checkout["id"]], [sku], admin)


def test_listing_orders_by_status_and_day(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout, order_id = _paid_order(backend, api, admin, (sku, 1))
    day = get_order(admin, order_id)["created_at"][:10]
    listed = admin.get("/admin/orders", params={"status": "confirmed", "date": day, "limit": 100})
    assert listed.status_code == 200, listed.text
    assert order_id in [o["id"] for o in listed.json()["items"]]
    assert order_id not in [
        o["id"] for o in admin.get("/admin/orders", params={"status": "shipped"}).json()["items"]
    ]
    assert_problem(admin.get("/admin/orders", params={"status": "lost"}), 422, "status")
    assert_problem(admin.get("/admin/orders", params={"cursor": "garbage!"}), 400, "cursor")
    assert api.get("/admin/orders").status_code in (401, 403)
    assert_order_invariants(backend, [checkout["id"]], [sku], admin)  # type: ignore[list-item]
