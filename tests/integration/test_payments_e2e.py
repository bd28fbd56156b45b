"""Payments end to end against localstripe: the adapter creates the intent in the emulator, the
checkout's registration is done here, `/_local/payments/{pi}/confirm` pays like Stripe.js, and the
emulator's SIGNED webhook reaches the gateway. Then refunds through the admin API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from cloudtill import ddb
from cloudtill.clock import SystemClock
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.records import PaymentRecord
from cloudtill.payments.stripe_adapter import StripePaymentGateway
from cloudtill.payments.webhooks import register_payment_intent

from localrt.stripe_emulator import API_KEY, WEBHOOK_SECRET
from tests.integration.conftest import RunningBackend

TABLE = "cloudtill-main"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
THREE_D_SECURE_CARD = "4000000000003220"
client_secrets: list[str] = []  # every client secret seen, for the log check


@pytest.fixture(scope="module")
def dynamodb(backend: RunningBackend) -> Iterator[Any]:
    yield boto3.client(
        "dynamodb",
        endpoint_url=backend.aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def gateway(api: httpx.Client) -> StripePaymentGateway:
    api_base = api.get("/_local/stripe").json()["api_base"]
    return StripePaymentGateway(lambda: API_KEY, api_base=api_base, max_network_retries=0)


def start_payment(gateway: StripePaymentGateway, dynamodb: Any, checkout_id: str, amount: int) -> str:
    """What the checkout will do: create the intent, register what it must collect."""
    ref = gateway.create_payment_intent(checkout_id, amount, "EUR", capture_manual=False)
    client_secrets.append(ref.client_secret)
    register_payment_intent(
        DynamoPaymentStore(TABLE, dynamodb), SystemClock(), checkout_id, ref, amount, "EUR"
    )
    return ref.id


def wait_for(read: Callable[[], Any], until: Callable[[Any], bool], what: str) -> Any:
    deadline = time.monotonic() + 20  # localstripe posts its webhooks about 1 s after the fact
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen; last seen: {value!r}")
        time.sleep(0.2)


def record_of(dynamodb: Any, pi: str) -> Callable[[], PaymentRecord | None]:
    return lambda: DynamoPaymentStore(TABLE, dynamodb).get(pi)


def outbox(dynamodb: Any, pi: str) -> list[dict[str, Any]]:
    page = dynamodb.scan(
        TableName=TABLE,
        FilterExpression="entity = :outbox AND detail.payment_intent_id = :pi",
        ExpressionAttributeValues={":outbox": {"S": "outbox"}, ":pi": {"S": pi}},
    )
    return sorted((ddb.from_item(i) for i in page["Items"]), key=lambda e: e["time"])


def confirm(api: httpx.Client, pi: str, card: str) -> httpx.Response:
    return api.post(f"/_local/payments/{pi}/confirm", json={"card": card})


def test_a_good_card_pays_and_the_signed_webhook_records_it(
    api: httpx.Client, gateway: StripePaymentGateway, dynamodb: Any, unique: str
) -> None:
    pi = start_payment(gateway, dynamodb, f"chk_ok{unique}", 2500)
    response = confirm(api, pi, GOOD_CARD)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    record = wait_for(record_of(dynamodb, pi), lambda r: r.status == "succeeded", "payment recorded")
    assert (record.amount_received, record.flagged_for_review) == (2500, False)
    events = wait_for(lambda: outbox(dynamodb, pi), lambda e: len(e) >= 1, "PaymentSucceeded")
    assert [e["detail_type"] for e in events] == ["PaymentSucceeded"]
    assert events[0]["detail"]["checkout_id"] == f"chk_ok{unique}"


def test_a_retried_checkout_gets_the_same_intent(gateway: StripePaymentGateway, unique: str) -> None:
    # localstripe ignores Idempotency-Key (Stripe honours it), so this checks what we send, not what
    # the emulator does: the port derives the key from the checkout id alone.
    from cloudtill.payments.stripe_adapter import idempotency_key_for_checkout

    assert idempotency_key_for_checkout(f"chk_{unique}") == f"checkout-chk_{unique}"


def test_a_declined_card_reports_payment_failed_and_stays_retryable(
    api: httpx.Client, gateway: StripePaymentGateway, dynamodb: Any, unique: str
) -> None:
    pi = start_payment(gateway, dynamodb, f"chk_decl{unique}", 1800)
    response = confirm(api, pi, DECLINED_CARD)
    assert response.status_code == 200 and response.json()["status"] == "requires_payment_method"
    record = wait_for(record_of(dynamodb, pi), lambda r: r.status == "payment_failed", "failure recorded")
    assert record.retryable
    [failed] = wait_for(lambda: outbox(dynamodb, pi), lambda e: len(e) >= 1, "PaymentFailed")
    assert failed["detail_type"] == "PaymentFailed" and failed["detail"]["retryable"] is True
    # Another card on the same intent: tests/integration/test_payments_local_paths.py.


def test_a_3ds_card_requires_action(
    api: httpx.Client, gateway: StripePaymentGateway, dynamodb: Any, unique: str
) -> None:
    pi = start_payment(gateway, dynamodb, f"chk_3ds{unique}", 900)
    assert confirm(api, pi, THREE_D_SECURE_CARD).json()["status"] == "requires_action"


def test_refund_end_to_end_and_over_refund_is_422(
    api: httpx.Client, admin: httpx.Client, gateway: StripePaymentGateway, dynamodb: Any, unique: str
) -> None:
    pi = start_payment(gateway, dynamodb, f"chk_ref{unique}", 3000)
    confirm(api, pi, GOOD_CARD)
    wait_for(record_of(dynamodb, pi), lambda r: r.status == "succeeded", "payment recorded")
    order_id = f"ord_{unique}"
    dynamodb.put_item(
        TableName=TABLE,
        Item={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}, "payment_intent_id": {"S": pi}},
    )
    # More than was paid: 422 naming amount, nothing asked of Stripe
    too_much = admin.post(f"/admin/orders/{order_id}/refunds", json={"amount": 3001})
    assert too_much.status_code == 422 and [e["field"] for e in too_much.json()["errors"]] == ["amount"]
    # A partial refund is accepted, then recorded when charge.refunded arrives
    partial = admin.post(
        f"/admin/orders/{order_id}/refunds", json={"amount": 1000, "reason": "requested_by_customer"}
    )
    assert partial.status_code == 202, partial.text
    assert partial.json()["amount"] == 1000 and partial.json()["payment_intent_id"] == pi
    record = wait_for(record_of(dynamodb, pi), lambda r: r.refunded_amount == 1000, "refund recorded")
    assert record.refunds == {partial.json()["refund_id"]: 1000}
    # The default refunds what remains; then nothing remains
    rest = admin.post(f"/admin/orders/{order_id}/refunds", json={})
    assert rest.status_code == 202 and rest.json()["amount"] == 2000
    wait_for(record_of(dynamodb, pi), lambda r: r.refunded_amount == 3000, "second refund recorded")
    over = admin.post(f"/admin/orders/{order_id}/refunds", json={"amount": 1})
    assert over.status_code == 422 and [e["field"] for e in over.json()["errors"]] == ["amount"]
    issued = [e for e in outbox(dynamodb, pi) if e["detail_type"] == "RefundIssued"]
    assert sorted(e["detail"]["amount"] for e in issued) == [1000, 2000]
    assert any(e["detail"]["fully_refunded"] for e in issued)


def test_refunds_of_an_unknown_order_are_404(admin: httpx.Client, unique: str) -> None:
    response = admin.post(f"/admin/orders/ord_missing{unique}/refunds", json={})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_refunds_need_the_admin_token(api: httpx.Client, unique: str) -> None:
    assert api.post(f"/admin/orders/ord_{unique}/refunds", json={}).status_code == 401


def test_no_card_number_client_secret_or_webhook_secret_in_the_logs(
    api: httpx.Client, gateway: StripePaymentGateway, dynamodb: Any, backend: RunningBackend, unique: str
) -> None:
    # Given at least one successful and one declined payment in this run
    for card in (GOOD_CARD, DECLINED_CARD):
        pi = start_payment(gateway, dynamodb, f"chk_log{card[-4:]}{unique}", 700)
        confirm(api, pi, card)
        wait_for(record_of(dynamodb, pi), lambda r: r.status != "awaiting_payment", "webhook processed")
    log = backend.log_text()
    assert "stripe webhook" in log  # the handler did log: we are checking real log lines
    for secret in (GOOD_CARD, DECLINED_CARD, THREE_D_SECURE_CARD, WEBHOOK_SECRET, *client_secrets):
        assert secret not in log
    assert "_secret_" not in log
