"""Order-lifecycle branches that need the reservation to run out, on ONE extra backend whose checkouts
expire after 3 s: a payment that never comes (cancel + release + CheckoutExpired), and a payment that
succeeds although the checkout expired first (refunded, never an order without stock)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from localrt.stripe_emulator import API_KEY, WEBHOOK_EVENTS, WEBHOOK_ID, WEBHOOK_SECRET
from tests.integration.conftest import ADMIN_TOKEN, RunningBackend, start_backend
from tests.integration.invariants import assert_order_invariants
from tests.integration.orders_support import (
    assert_valid_event,
    create_checkout,
    get_checkout,
    outbox_of,
    pay,
    payment_record,
    stocked_sku,
    stripe_intent,
    wait_for,
    wait_for_execution_end,
)
from tests.integration.stock_helpers import counters

TTL_SECONDS = 3


@pytest.fixture(scope="module")
def short_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    with start_backend(
        tmp_path_factory.mktemp("localrt-orders-ttl"),
        {"CHECKOUT_TTL_SECONDS": str(TTL_SECONDS)},
        extra_args=("--no-seed",),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def short_api(short_backend: RunningBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=short_backend.base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def short_admin(short_backend: RunningBackend) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=short_backend.base_url, timeout=60, headers=headers) as client:
        yield client


def test_a_payment_that_never_comes_expires_the_checkout(
    short_backend: RunningBackend, short_api: httpx.Client, short_admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(short_backend, short_admin, unique, 4)
    checkout = create_checkout(short_api, (sku, 3))
    assert counters(short_backend, sku)["reserved"] == 3

    # The workflow's payment wait times out at the reservation's expiry and compensates
    assert wait_for_execution_end(short_backend, checkout["id"])["status"] == "SUCCEEDED"
    assert get_checkout(short_api, checkout)["status"] == "expired"
    level = counters(short_backend, sku)
    assert (level["reserved"], level["available"], level["on_hand"]) == (0, 4, 4)
    assert stripe_intent(short_api, checkout["payment"]["payment_intent_id"])["status"] == "canceled"
    expired = [
        e
        for e in outbox_of(short_backend, "checkout_id", checkout["id"])
        if e["detail_type"] == "CheckoutExpired"
    ]
    assert len(expired) == 1
    assert_valid_event(expired[0])
    assert_order_invariants(short_backend, [checkout["id"]], [sku], short_admin)


def _point_webhooks_at(api: httpx.Client, url: str) -> None:
    api_base = api.get("/_local/stripe").json()["api_base"]
    response = httpx.post(
        f"{api_base}/_config/webhooks/{WEBHOOK_ID}",
        json={"url": url, "secret": WEBHOOK_SECRET, "events": list(WEBHOOK_EVENTS)},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code < 300, response.text


def _signed(event_type: str, obj: dict[str, Any], event_id: str) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    )
    return body.encode(), stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)


def test_a_payment_succeeding_after_expiry_is_refunded(
    short_backend: RunningBackend, short_api: httpx.Client, short_admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(short_backend, short_admin, unique, 2)
    checkout = create_checkout(short_api, (sku, 2))
    pi = checkout["payment"]["payment_intent_id"]
    # Given Stripe takes the money but its webhook does not reach us in time (delivery blocked)
    _point_webhooks_at(short_api, "http://127.0.0.1:9/unreachable")
    try:
        assert pay(short_api, checkout)["status"] == "succeeded"
        # When the reservation expires first, the stock goes back (the cancel of the intent is refused)
        wait_for(
            lambda: get_checkout(short_api, checkout)["status"], lambda s: s == "expired", "checkout expired"
        )
        assert counters(short_backend, sku)["reserved"] == 0
    finally:
        _point_webhooks_at(short_api, f"{short_backend.base_url}/webhooks/stripe")
    # And Stripe's retry of the succeeded webhook arrives late
    intent = httpx.get(
        f"{short_api.get('/_local/stripe').json()['api_base']}/v1/payment_intents/{pi}",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ).json()
    body, signature = _signed("payment_intent.succeeded", intent, f"evt_late_{unique}")
    response = short_api.post(
        "/webhooks/stripe",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": signature},
    )
    assert response.status_code == 200, response.text

    # Then the payment is refunded in full, once, and no order exists
    record = wait_for(
        lambda: payment_record(short_backend, pi),
        lambda r: r is not None and int(r.get("refunded_amount", 0)) >= checkout["total"],
        "late payment refunded",
    )
    assert record["status"] == "succeeded"
    assert stripe_intent(short_api, pi)["refunded"] == checkout["total"]
    seen = get_checkout(short_api, checkout)
    assert (seen["status"], seen["order_id"]) == ("expired", None)
    assert wait_for_execution_end(short_backend, checkout["id"], timeout=60)["status"] == "SUCCEEDED"
    assert stripe_intent(short_api, pi)["refunded"] == checkout["total"]  # the workflow did not refund again
    assert not [
        e
        for e in outbox_of(short_backend, "checkout_id", checkout["id"])
        if e["detail_type"] == "OrderConfirmed"
    ]
    assert_order_invariants(short_backend, [checkout["id"]], [sku], short_admin)
