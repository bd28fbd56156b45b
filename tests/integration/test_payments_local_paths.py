"""Every payment path a storefront meets, locally and through HTTP, each ending in an order: a decline
and then another card on the same PaymentIntent (as Stripe allows), 3-D Secure completed at the local
authentication route, and 3-D Secure failed and then paid with another card. The checkout's answer
shows the payment's current status all along."""

from __future__ import annotations

import httpx

from tests.integration.conftest import RunningBackend
from tests.integration.orders_support import (
    DECLINED_CARD,
    GOOD_CARD,
    create_checkout,
    get_checkout,
    get_order,
    pay,
    stocked_sku,
    wait_for,
    wait_for_order_id,
)

THREE_D_SECURE_CARD = "4000000000003220"


def _payment_of(api: httpx.Client, checkout: dict[str, object]) -> dict[str, object]:
    return dict(get_checkout(api, checkout)["payment"])


def _wait_payment(api: httpx.Client, checkout: dict[str, object], status: str) -> dict[str, object]:
    return dict(
        wait_for(
            lambda: _payment_of(api, checkout), lambda p: p["status"] == status, f"payment.status {status}"
        )
    )


def _authenticate(api: httpx.Client, checkout: dict[str, object], success: bool) -> httpx.Response:
    payment = checkout["payment"]
    assert isinstance(payment, dict)
    return api.post(
        f"/_local/payments/{payment['payment_intent_id']}/authenticate", json={"success": success}
    )


def _assert_ordered(api: httpx.Client, admin: httpx.Client, checkout: dict[str, object]) -> None:
    order_id = wait_for_order_id(api, checkout)
    order = get_order(admin, order_id)
    assert order["status"] == "confirmed" and order["payment_status"] == "paid", order
    assert _payment_of(api, checkout)["status"] == "succeeded"


def test_a_declined_intent_is_paid_with_another_card(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout = create_checkout(api, (sku, 1))
    assert checkout["payment"]["status"] == "requires_payment_method"
    declined = pay(api, checkout, DECLINED_CARD)
    assert declined["status"] == "requires_payment_method" and declined["failure_code"] == "card_declined"
    failed = wait_for(
        lambda: _payment_of(api, checkout),
        lambda p: p.get("failure_code") == "card_declined",
        "decline shown",
    )
    assert failed["status"] == "requires_payment_method", failed
    retried = pay(api, checkout, GOOD_CARD)
    assert retried["status"] == "succeeded", retried
    _assert_ordered(api, admin, checkout)
    assert _payment_of(api, checkout).get("failure_code") is None


def test_three_d_secure_completed_at_the_local_route(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout = create_checkout(api, (sku, 1))
    assert pay(api, checkout, THREE_D_SECURE_CARD)["status"] == "requires_action"
    _wait_payment(api, checkout, "requires_action")
    completed = _authenticate(api, checkout, success=True)
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "succeeded"
    _assert_ordered(api, admin, checkout)


def test_three_d_secure_failed_then_another_card(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 5)
    checkout = create_checkout(api, (sku, 1))
    assert pay(api, checkout, THREE_D_SECURE_CARD)["status"] == "requires_action"
    failed = _authenticate(api, checkout, success=False)
    assert failed.status_code == 200, failed.text
    assert failed.json() == {
        "id": checkout["payment"]["payment_intent_id"],
        "status": "requires_payment_method",
        "failure_code": "payment_intent_authentication_failure",
    }
    wait_for(
        lambda: _payment_of(api, checkout),
        lambda p: p.get("failure_code") == "payment_intent_authentication_failure",
        "failed authentication shown",
    )
    # Authenticating an intent that does not wait for it is a problem, not a crash.
    again = _authenticate(api, checkout, success=True)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert pay(api, checkout, GOOD_CARD)["status"] == "succeeded"
    _assert_ordered(api, admin, checkout)
