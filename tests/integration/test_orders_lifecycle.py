"""The order lifecycle end to end over HTTP on the local runtime (Step Functions in moto's execution
mode, Lambda tasks in the real handlers, localstripe with signed webhooks)."""

from __future__ import annotations

import httpx
from cloudtill import ddb

from tests.integration.conftest import RunningBackend
from tests.integration.orders_support import (
    assert_valid_event,
    bus_events,
    create_checkout,
    get_order,
    outbox_of,
    pay,
    stocked_sku,
    wait_for,
    wait_for_execution_end,
    wait_for_order_id,
    wait_for_order_status,
)
from tests.integration.stock_helpers import TABLE, counters, dynamodb


def test_happy_path_pay_confirm_ship_deliver_complete(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given 10 units on hand and a checkout for 3 of them
    sku = stocked_sku(backend, admin, unique, 10)
    checkout = create_checkout(api, (sku, 3))
    assert counters(backend, sku)["reserved"] == 3

    # When the shopper pays, the webhook resumes the workflow and the order is confirmed
    pay(api, checkout)
    order_id = wait_for_order_id(api, checkout)
    confirmed = wait_for(
        lambda: bus_events(api, "OrderConfirmed", order_id=order_id), bool, "OrderConfirmed on the bus"
    )
    assert confirmed[0]["detail"]["total"] == checkout["total"]
    level = counters(backend, sku)
    assert (level["on_hand"], level["reserved"]) == (7, 0)
    # The webhook told the checkout its payment outcome in its transaction (what AwaitPayment's
    # condition looks at when the payment lands before the token)
    item = dynamodb(backend.aws_endpoint).get_item(
        TableName=TABLE, Key=ddb.key(f"CHECKOUT#{checkout['id']}", "CHECKOUT"), ConsistentRead=True
    )["Item"]
    assert ddb.from_item(item)["payment_outcome"] == {
        "outcome": "paid",
        "payment_intent_id": checkout["payment"]["payment_intent_id"],
        "amount": checkout["total"],
    }

    # When ops ship it with tracking and mark it delivered
    shipped = admin.post(
        f"/admin/orders/{order_id}/fulfillments", json={"carrier": "an_post", "tracking_number": "RX123IE"}
    )
    assert shipped.status_code == 201, shipped.text
    assert shipped.json()["tracking_url"].endswith("RX123IE")
    wait_for_order_status(admin, order_id, "shipped")
    delivered = wait_for(
        lambda: admin.post(f"/admin/orders/{order_id}/delivered"),
        lambda r: r.status_code == 200,
        "delivered accepted",
    )
    assert delivered.json()["status"] in {"delivered", "completed"}

    # Then the workflow completes the order; the shopper sees it all with the checkout's token
    wait_for_order_status(admin, order_id, "completed")
    assert wait_for_execution_end(backend, checkout["id"])["status"] == "SUCCEEDED"
    view = api.get(f"/orders/{order_id}", headers={"X-Checkout-Token": checkout["token"]})
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["status"] == "completed" and body["payment_status"] == "paid"
    assert [e["event"] for e in body["timeline"]] == [
        "checkout_created",
        "paid",
        "confirmed",
        "shipped",
        "delivered",
        "completed",
    ]
    assert body["fulfillments"][0]["tracking_number"] == "RX123IE"
    assert api.get(f"/orders/{order_id}", headers={"X-Checkout-Token": "wrong"}).status_code == 404

    # Stock left exactly once; every order event is in the outbox and matches its schema
    level = counters(backend, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (7, 0, 7)
    events = outbox_of(backend, "order_id", order_id)
    assert [e["detail_type"] for e in events] == ["OrderConfirmed", "OrderShipped", "OrderDelivered"]
    for envelope in events:
        assert_valid_event(envelope)
    assert get_order(admin, order_id)["payment_intent_id"] == checkout["payment"]["payment_intent_id"]
