"""Webhook forgery against a REAL checkout (created over HTTP, PaymentIntent in the local Stripe): every
kind of bad signature is a 400 problem and leaves the payment, the checkout and the outbox untouched.
(tests/integration/test_payments_webhooks_http.py covers the single-intent cases; this is the
cross-cutting attacker's view.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from cloudtill.payments.dynamo import DynamoPaymentStore

from localrt.stripe_emulator import WEBHOOK_SECRET
from tests.integration.checkout_support import checkout_body, make_skus, outbox_events
from tests.integration.conftest import RunningBackend
from tests.integration.security_support import assert_problem
from tests.integration.stock_helpers import TABLE, dynamodb, receive


def _sign(payload: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _succeeded(intent_id: str, amount: int) -> bytes:
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "eur",
        "status": "succeeded",
        "latest_charge": f"ch_forged_{intent_id}",
    }
    event = {
        "id": f"evt_forged_{intent_id}_{time.time_ns()}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": intent},
    }
    return json.dumps(event).encode()


@pytest.fixture(scope="module")
def open_checkout(backend: RunningBackend, api: httpx.Client, admin: httpx.Client) -> dict[str, Any]:
    unique = f"wh{time.time_ns() % 10**10:x}"
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 5)
    response = api.post("/checkouts", json=checkout_body((sku, 1), email=f"victim.{unique}@example.com"))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _forgeries(payload: bytes) -> dict[str, dict[str, str]]:
    now = int(time.time())
    genuine = _sign(payload, WEBHOOK_SECRET, now)
    return {
        "no signature": {},
        "empty signature": {"Stripe-Signature": ""},
        "garbage signature": {"Stripe-Signature": "not a signature"},
        "signed with another secret": {"Stripe-Signature": _sign(payload, "whsec_attacker_secret", now)},
        "expired (10 minutes old)": {"Stripe-Signature": _sign(payload, WEBHOOK_SECRET, now - 600)},
        "signature of another body": {"Stripe-Signature": _sign(payload + b" ", WEBHOOK_SECRET, now)},
        "timestamp swapped after signing": {"Stripe-Signature": genuine.replace(f"t={now}", f"t={now + 1}")},
        "v0 scheme only": {"Stripe-Signature": genuine.replace("v1=", "v0=")},
        "secret as signature": {"Stripe-Signature": f"t={now},v1={WEBHOOK_SECRET}"},
    }


def test_forged_and_expired_webhooks_are_refused_and_change_nothing(
    backend: RunningBackend, api: httpx.Client, open_checkout: dict[str, Any]
) -> None:
    intent_id = open_checkout["payment"]["payment_intent_id"]
    store = DynamoPaymentStore(TABLE, dynamodb(backend.aws_endpoint))
    before = store.get(intent_id)
    assert before is not None and before.status == "awaiting_payment"
    payload = _succeeded(intent_id, open_checkout["total"])
    for name, headers in _forgeries(payload).items():
        # When an attacker posts "this checkout was paid" without a valid, fresh signature
        response = api.post(
            "/webhooks/stripe", content=payload, headers={"Content-Type": "application/json", **headers}
        )
        # Then 400 problem, naming the signature header
        body = assert_problem(response, 400)
        assert "Stripe-Signature" in json.dumps(body), (name, body)
    # And nothing changed: the payment record, the checkout, the outbox
    after = store.get(intent_id)
    assert after == before
    checkout = api.get(
        f"/checkouts/{open_checkout['id']}", headers={"X-Checkout-Token": open_checkout["token"]}
    )
    assert checkout.json()["status"] == "awaiting_payment" and checkout.json()["order_id"] is None
    detail_types = {e["detail_type"] for e in outbox_events(backend, open_checkout["id"])}
    assert "PaymentSucceeded" not in detail_types


def test_an_oversized_webhook_is_refused_before_verification(api: httpx.Client) -> None:
    payload = b'{"padding": "' + b"x" * (300 * 1024) + b'"}'
    response = api.post(
        "/webhooks/stripe",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": _sign(payload, WEBHOOK_SECRET, int(time.time())),
        },
    )
    assert_problem(response, 413)
