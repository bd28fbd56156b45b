"""Helpers of the order-lifecycle integration tests: a paid checkout, bounded polling, the workflow's
execution status, events on the bus and in the outbox, and the invariants every scenario must keep."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from cloudtill import ddb
from jsonschema import Draft202012Validator

from tests.integration.checkout_support import checkout_body, make_skus
from tests.integration.stock_helpers import TABLE, dynamodb, receive

if TYPE_CHECKING:
    from tests.integration.conftest import RunningBackend

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
EVENTS = Path(__file__).resolve().parents[2] / "events"
STATE_MACHINE = "order-lifecycle"
ORDER_EVENT_TYPES = ("OrderConfirmed", "OrderShipped", "OrderDelivered", "OrderCancelled", "OrderReturned")


def wait_for(read: Callable[[], Any], until: Callable[[Any], bool], what: str, timeout: float = 30) -> Any:
    """Poll `read` until `until(value)`; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s; last seen: {value!r}")
        time.sleep(0.2)


@functools.cache
def stepfunctions(aws_endpoint: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def execution_arn(checkout_id: str) -> str:
    return f"arn:aws:states:eu-west-1:123456789012:execution:{STATE_MACHINE}:{checkout_id}"


def execution(backend: RunningBackend, checkout_id: str) -> dict[str, Any]:
    return dict(
        stepfunctions(backend.aws_endpoint).describe_execution(executionArn=execution_arn(checkout_id))
    )


def wait_for_execution_end(backend: RunningBackend, checkout_id: str, timeout: float = 40) -> dict[str, Any]:
    return wait_for(
        lambda: execution(backend, checkout_id),
        lambda e: e["status"] != "RUNNING",
        f"execution {checkout_id} to end",
        timeout,
    )


def stocked_sku(
    backend: RunningBackend, admin: httpx.Client, unique: str, units: int, price: int = 2000
) -> str:
    [sku] = make_skus(admin, unique, ("A",), price=price)
    receive(backend, admin, sku, units)
    return sku


def create_checkout(api: httpx.Client, *lines: tuple[str, int]) -> dict[str, Any]:
    response = api.post("/checkouts", json=checkout_body(*lines))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["payment"]["payment_intent_id"], created
    return dict(created)


def pay(api: httpx.Client, checkout: dict[str, Any], card: str = GOOD_CARD) -> dict[str, Any]:
    response = api.post(
        f"/_local/payments/{checkout['payment']['payment_intent_id']}/confirm", json={"card": card}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def get_checkout(api: httpx.Client, checkout: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/checkouts/{checkout['id']}", headers={"X-Checkout-Token": checkout["token"]})
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for_order_id(api: httpx.Client, checkout: dict[str, Any]) -> str:
    seen = wait_for(lambda: get_checkout(api, checkout), lambda c: c["order_id"], "order confirmed")
    assert seen["status"] == "completed", seen
    return str(seen["order_id"])


def get_order(admin: httpx.Client, order_id: str) -> dict[str, Any]:
    response = admin.get(f"/admin/orders/{order_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for_order_status(admin: httpx.Client, order_id: str, status: str) -> dict[str, Any]:
    return wait_for(lambda: get_order(admin, order_id), lambda o: o["status"] == status, f"order {status}")


def bus_events(api: httpx.Client, detail_type: str, **match: str) -> list[dict[str, Any]]:
    items = api.get("/_local/events", params={"detail_type": detail_type}).json()["items"]
    return [e for e in items if all(e["detail"].get(k) == v for k, v in match.items())]


def outbox_of(backend: RunningBackend, field: str, value: str) -> list[dict[str, Any]]:
    """Outbox envelopes whose detail has `field == value`, oldest first."""
    client = dynamodb(backend.aws_endpoint)
    scan: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "entity = :outbox AND detail.#f = :v",
        "ExpressionAttributeNames": {"#f": field},
        "ExpressionAttributeValues": {":outbox": {"S": "outbox"}, ":v": {"S": value}},
    }
    found: list[dict[str, Any]] = []
    while True:
        page = client.scan(**scan)
        found += [ddb.from_item(i) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return sorted(found, key=lambda e: e["time"])
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def assert_valid_event(envelope: dict[str, Any]) -> None:
    schema = json.loads((EVENTS / "schemas" / f"{envelope['detail_type']}.json").read_text())
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        envelope["detail"]
    )
    assert envelope["detail"]["event_id"] == envelope["id"]


def payment_record(backend: RunningBackend, payment_intent_id: str) -> dict[str, Any] | None:
    item = (
        dynamodb(backend.aws_endpoint)
        .get_item(
            TableName=TABLE,
            Key={"PK": {"S": f"PAYMENT_INTENT#{payment_intent_id}"}, "SK": {"S": "INTENT"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return ddb.from_item(item) if item else None


def stripe_intent(api: httpx.Client, payment_intent_id: str) -> dict[str, Any]:
    """The intent as Stripe (localstripe) holds it, with its charges' refunded amounts."""
    from localrt.stripe_emulator import API_KEY

    api_base = api.get("/_local/stripe").json()["api_base"]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    intent = httpx.get(f"{api_base}/v1/payment_intents/{payment_intent_id}", headers=headers).json()
    refunded = 0
    charge = intent.get("latest_charge")
    charge_id = charge.get("id") if isinstance(charge, dict) else charge
    if charge_id:
        refunded = int(
            httpx.get(f"{api_base}/v1/charges/{charge_id}", headers=headers).json()["amount_refunded"]
        )
    return {"status": intent["status"], "amount": intent["amount"], "refunded": refunded}
