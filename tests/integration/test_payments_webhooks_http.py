"""Stripe webhooks over HTTP: signed bodies POSTed to /webhooks/stripe on the local backend, the
effects read back from DynamoDB (moto). Redeliveries and reversed order have exactly one effect."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import stripe
from cloudtill.clock import SystemClock
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.ports import PaymentIntentRef
from cloudtill.payments.webhooks import register_payment_intent
from jsonschema import Draft202012Validator

from localrt.stripe_emulator import WEBHOOK_SECRET
from tests.integration.conftest import ROOT, RunningBackend

TABLE = "cloudtill-main"


@pytest.fixture(scope="module")
def dynamodb(backend: RunningBackend) -> Iterator[Any]:
    yield boto3.client(
        "dynamodb",
        endpoint_url=backend.aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def register(dynamodb: Any, intent_id: str, amount: int = 2500) -> None:
    ref = PaymentIntentRef(intent_id, f"{intent_id}_secret_x", "requires_payment_method")
    register_payment_intent(
        DynamoPaymentStore(TABLE, dynamodb), SystemClock(), f"chk_{intent_id}", ref, amount, "EUR"
    )


def record(dynamodb: Any, intent_id: str) -> Any:
    return DynamoPaymentStore(TABLE, dynamodb).get(intent_id)


def outbox(dynamodb: Any, intent_id: str) -> list[dict[str, Any]]:
    from cloudtill import ddb

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "entity = :outbox AND detail.payment_intent_id = :pi",
        "ExpressionAttributeValues": {":outbox": {"S": "outbox"}, ":pi": {"S": intent_id}},
    }
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(ddb.from_item(i) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def assert_matches_schema(item: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "events" / "schemas" / f"{item['detail_type']}.json").read_text())
    Draft202012Validator(schema).validate(item["detail"])


def signed_event(event_type: str, obj: dict[str, Any], event_id: str, created: int) -> tuple[bytes, str]:
    body = json.dumps(
        {"id": event_id, "object": "event", "type": event_type, "created": created, "livemode": False}
        | {"data": {"object": obj}}
    )
    return body.encode(), stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)


def post(api: httpx.Client, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return api.post("/webhooks/stripe", content=body, headers=headers)


def intent(intent_id: str, status: str, amount: int = 2500) -> dict[str, Any]:
    return {"id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": amount} | {
        "currency": "eur",
        "status": status,
        "client_secret": f"{intent_id}_secret_never_logged",
    }


def test_the_same_event_delivered_three_times_has_one_effect(
    api: httpx.Client, dynamodb: Any, unique: str
) -> None:
    pi = f"pi_dup{unique}"
    register(dynamodb, pi)
    body, signature = signed_event(
        "payment_intent.succeeded", intent(pi, "succeeded"), f"evt_dup{unique}", int(time.time())
    )
    responses = [post(api, body, signature) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["result"] for r in responses] == ["applied", "duplicate", "duplicate"]
    assert record(dynamodb, pi).status == "succeeded" and record(dynamodb, pi).version == 1
    events = outbox(dynamodb, pi)
    assert [e["detail_type"] for e in events] == ["PaymentSucceeded"]
    assert_matches_schema(events[0])


def test_succeeded_and_failed_in_reversed_order_end_succeeded_with_one_success(
    api: httpx.Client, dynamodb: Any, unique: str
) -> None:
    pi = f"pi_rev{unique}"
    register(dynamodb, pi)
    now = int(time.time())
    failed = signed_event(
        "payment_intent.payment_failed", intent(pi, "requires_payment_method"), f"evt_f{unique}", now - 5
    )
    succeeded = signed_event("payment_intent.succeeded", intent(pi, "succeeded"), f"evt_s{unique}", now)
    # The success arrives first, then the (older) failure, then both again
    for body, signature in (succeeded, failed, succeeded, failed):
        assert post(api, body, signature).status_code == 200
    assert record(dynamodb, pi).status == "succeeded"
    assert [e["detail_type"] for e in outbox(dynamodb, pi)] == ["PaymentSucceeded"]


def test_an_amount_mismatch_is_flagged_and_reported(api: httpx.Client, dynamodb: Any, unique: str) -> None:
    pi = f"pi_mis{unique}"
    register(dynamodb, pi, amount=2500)
    body, signature = signed_event(
        "payment_intent.succeeded", intent(pi, "succeeded", amount=100), f"evt_m{unique}", int(time.time())
    )
    assert post(api, body, signature).status_code == 200
    assert record(dynamodb, pi).flagged_for_review
    [event] = outbox(dynamodb, pi)
    assert event["detail"]["amount_mismatch"] is True
    assert_matches_schema(event)


@pytest.mark.parametrize("how", ["missing", "wrong-secret", "tampered", "stale"])
def test_a_bad_signature_is_a_400_and_changes_nothing(
    api: httpx.Client, dynamodb: Any, unique: str, how: str
) -> None:
    pi = f"pi_bad{how.replace('-', '')}{unique}"
    register(dynamodb, pi)
    created = int(time.time())
    body, signature = signed_event(
        "payment_intent.succeeded", intent(pi, "succeeded"), f"evt_b{unique}{how}", created
    )
    if how == "missing":
        sent: tuple[bytes, str | None] = (body, None)
    elif how == "wrong-secret":
        sent = (body, stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_attacker"))
    elif how == "tampered":
        sent = (body.replace(b'"amount": 2500', b'"amount": 1'), signature)
    else:
        sent = (
            body,
            stripe.WebhookSignature.generate_signature_header(body.decode(), WEBHOOK_SECRET, created - 301),
        )
    response = post(api, *sent)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["Stripe-Signature"]
    assert record(dynamodb, pi).status == "awaiting_payment"
    assert outbox(dynamodb, pi) == []
    dedupe = dynamodb.get_item(
        TableName=TABLE, Key={"PK": {"S": f"PAYMENT_EVENT#evt_b{unique}{how}"}, "SK": {"S": "EVENT"}}
    )
    assert "Item" not in dedupe


def test_an_unknown_intent_is_acknowledged_and_kept_as_an_orphan(
    api: httpx.Client, dynamodb: Any, unique: str
) -> None:
    pi = f"pi_orphan{unique}"
    body, signature = signed_event(
        "payment_intent.succeeded", intent(pi, "succeeded"), f"evt_o{unique}", int(time.time())
    )
    response = post(api, body, signature)
    assert response.status_code == 200 and response.json()["result"] == "orphan"
    orphans = dynamodb.query(
        TableName=TABLE,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :o",
        ExpressionAttributeValues={":o": {"S": "PAYMENT_ORPHANS"}},
    )["Items"]
    assert any(o["event_id"]["S"] == f"evt_o{unique}" for o in orphans)
    assert outbox(dynamodb, pi) == []


def test_other_event_types_are_acknowledged_and_ignored(api: httpx.Client) -> None:
    body, signature = signed_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, "evt_ignored", int(time.time())
    )
    response = post(api, body, signature)
    assert response.status_code == 200 and response.json()["result"] == "ignored"
