"""Webhook signatures: only a body signed by a configured secret, recently, gets processed.

Signed headers are built with the Stripe SDK's own `WebhookSignature.generate_signature_header`, the
way Stripe signs (`t=<ts>,v1=<hmac>`). Every rejection is a 400 naming `Stripe-Signature` and leaves the
store untouched.
"""

from __future__ import annotations

import json
import time

import pytest
import stripe
from cloudtill.payments.records import PaymentRecord
from cloudtill.payments.stripe_adapter import StripeSignatureVerifier
from cloudtill.payments.webhooks import InvalidSignature, WebhookProcessor, receive_webhook

from tests.fakes import FixedClock, InMemoryPaymentStore

CURRENT = "whsec_current_0123456789"
PREVIOUS = "whsec_previous_0123456789"


def succeeded_body(event_id: str = "evt_sig_1") -> str:
    intent = {"id": "pi_sig", "object": "payment_intent", "amount": 1000, "amount_received": 1000}
    intent |= {"currency": "eur", "status": "succeeded", "metadata": {"checkout_id": "co_sig"}}
    event = {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
    }
    return json.dumps({**event, "livemode": False, "data": {"object": intent}})


def header(body: str, secret: str, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)


@pytest.fixture
def store() -> InMemoryPaymentStore:
    store = InMemoryPaymentStore()
    store.create(PaymentRecord("pi_sig", "co_sig", 1000, "EUR", "t", "t"))
    return store


def receive(store: InMemoryPaymentStore, body: str, signature: str | None, secrets: list[str]) -> str:
    _, outcome = receive_webhook(
        body, signature, secrets, StripeSignatureVerifier(), WebhookProcessor(store, FixedClock())
    )
    return outcome.result


def assert_rejected(
    store: InMemoryPaymentStore, body: str, signature: str | None, secrets: list[str]
) -> None:
    with pytest.raises(InvalidSignature) as raised:
        receive(store, body, signature, secrets)
    assert raised.value.status == 400
    assert [e.field for e in raised.value.errors] == ["Stripe-Signature"]
    assert store.processed == {} and store.outbox == []
    assert store.records["pi_sig"].status == "awaiting_payment"


def test_a_valid_signature_is_processed(store: InMemoryPaymentStore) -> None:
    body = succeeded_body()
    assert receive(store, body, header(body, CURRENT), [CURRENT]) == "applied"
    assert store.records["pi_sig"].status == "succeeded"
    assert len(store.outbox_of("PaymentSucceeded")) == 1


def test_a_tampered_body_is_rejected(store: InMemoryPaymentStore) -> None:
    body = succeeded_body()
    signature = header(body, CURRENT)
    assert_rejected(store, body.replace('"amount": 1000', '"amount": 1'), signature, [CURRENT])


def test_a_signature_by_another_secret_is_rejected(store: InMemoryPaymentStore) -> None:
    body = succeeded_body()
    assert_rejected(store, body, header(body, "whsec_someone_else"), [CURRENT])


def test_a_signature_older_than_300_seconds_is_rejected(store: InMemoryPaymentStore) -> None:
    body = succeeded_body()
    assert_rejected(store, body, header(body, CURRENT, int(time.time()) - 301), [CURRENT])


def test_a_recent_signature_within_tolerance_is_accepted(store: InMemoryPaymentStore) -> None:
    body = succeeded_body()
    assert receive(store, body, header(body, CURRENT, int(time.time()) - 250), [CURRENT]) == "applied"


@pytest.mark.parametrize("signature", [None, "", "garbage", "t=123", "v1=abc"])
def test_a_missing_or_malformed_header_is_rejected(
    store: InMemoryPaymentStore, signature: str | None
) -> None:
    assert_rejected(store, succeeded_body(), signature, [CURRENT])


def test_during_rotation_a_header_with_two_v1_signatures_verifies_with_the_new_secret(
    store: InMemoryPaymentStore,
) -> None:
    # Given Stripe signing with the old and the new secret during a rotation
    body = succeeded_body()
    timestamp = int(time.time())
    old_part = header(body, PREVIOUS, timestamp).split(",")[1]
    rotated = f"{header(body, CURRENT, timestamp)},{old_part}"
    # When only the new secret is configured, then the event is processed
    assert receive(store, body, rotated, [CURRENT]) == "applied"


def test_during_rotation_the_previous_secret_still_verifies(store: InMemoryPaymentStore) -> None:
    body = succeeded_body()
    assert receive(store, body, header(body, PREVIOUS), [CURRENT, PREVIOUS]) == "applied"


def test_after_rotation_the_previous_secret_no_longer_verifies(store: InMemoryPaymentStore) -> None:
    body = succeeded_body()
    assert_rejected(store, body, header(body, PREVIOUS), [CURRENT])


def test_a_signed_body_that_is_not_an_event_is_a_400_without_effect(store: InMemoryPaymentStore) -> None:
    body = json.dumps({"hello": "world"})
    with pytest.raises(Exception) as raised:
        receive(store, body, header(body, CURRENT), [CURRENT])
    assert getattr(raised.value, "status", None) == 400
    assert store.processed == {}
