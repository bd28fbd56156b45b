"""Privacy end to end over HTTP: a customer's export holds their checkouts, orders and payment references
(and nobody else's); erasure pseudonymises their personal data in place, keeps the financial record,
emits one CustomerErased event, and is idempotent."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.integration.checkout_support import EVENTS, checkout_body, make_skus
from tests.integration.conftest import RunningBackend
from tests.integration.security_support import assert_problem
from tests.integration.stock_helpers import TABLE, dynamodb, receive

ADDRESS = {
    "name": "Pria Vasey",
    "line1": "7 Privacy Lane",
    "line2": "Flat 2",
    "city": "Cork",
    "postal_code": "T12 AB34",
    "country": "IE",
}
PHONE = "+353 21 765 4321"


def _path(email: str) -> str:
    return quote(email, safe="")


def _checkout(api: httpx.Client, sku: str, email: str, personal: bool = True) -> dict[str, Any]:
    extra: dict[str, Any] = {"shipping_address": ADDRESS, "phone": PHONE} if personal else {}
    body = checkout_body((sku, 1), email=email, **extra)
    response = api.post("/checkouts", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _wait_for_order(api: httpx.Client, checkout: dict[str, Any]) -> str | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        read = api.get(f"/checkouts/{checkout['id']}", headers={"X-Checkout-Token": checkout["token"]}).json()
        if read.get("order_id"):
            return str(read["order_id"])
        time.sleep(0.3)
    return None


def _erasure_events(backend: RunningBackend, customer_hash: str) -> list[dict[str, Any]]:
    from cloudtill import ddb

    scan: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "entity = :outbox AND detail_type = :type AND detail.customer_hash = :h",
        "ExpressionAttributeValues": ddb.to_values(
            {":outbox": "outbox", ":type": "CustomerErased", ":h": customer_hash}
        ),
    }
    found: list[dict[str, Any]] = []
    while True:
        page = dynamodb(backend.aws_endpoint).scan(**scan)
        found += [dict(ddb.from_item(i)) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture(scope="module")
def customer(backend: RunningBackend, api: httpx.Client, admin: httpx.Client) -> dict[str, Any]:
    """One customer with a paid checkout (an order, when the workflow makes it) and an open one, and a
    bystander who shares nothing but the SKU."""
    unique = f"pv{time.time_ns() % 10**10:x}"
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 10)
    email = f"Privacy.{unique}@Example.com"  # stored normalised; found whatever the case
    paid = _checkout(api, sku, email)
    confirmed = api.post(
        f"/_local/payments/{paid['payment']['payment_intent_id']}/confirm", json={"card": "4242424242424242"}
    )
    assert confirmed.status_code == 200, confirmed.text
    order_id = _wait_for_order(api, paid)
    open_checkout = _checkout(api, sku, email.lower())
    bystander = _checkout(api, sku, f"bystander.{unique}@example.com", personal=False)
    return {
        "email": email,
        "paid": paid,
        "order_id": order_id,
        "open": open_checkout,
        "bystander": bystander,
        "sku": sku,
    }


def test_export_holds_the_customers_data_and_nobody_elses(
    admin: httpx.Client, customer: dict[str, Any]
) -> None:
    response = admin.post(f"/admin/customers/{_path(customer['email'].upper())}/export")
    assert response.status_code == 200, response.text
    exported = response.json()
    assert {c["id"] for c in exported["checkouts"]} == {customer["paid"]["id"], customer["open"]["id"]}
    for checkout in exported["checkouts"]:
        assert checkout["email"] == customer["email"].lower()
        assert checkout["shipping_address"] == ADDRESS
        assert checkout["phone"] == PHONE
    if customer["order_id"]:
        assert [o["id"] for o in exported["orders"]] == [customer["order_id"]]
        assert exported["orders"][0]["total"] == customer["paid"]["total"]
    intents = {p["payment_intent_id"] for p in exported["payments"]}
    assert customer["paid"]["payment"]["payment_intent_id"] in intents
    assert exported["erased_at"] is None and exported["suppressed"] is False
    # No keys, hashes, tokens or client secrets; nothing of the bystander
    text = response.text
    for forbidden in ('"PK"', "GSI2PK", "token_hash", "client_secret", "_secret_", "task_token"):
        assert forbidden not in text, forbidden
    assert customer["bystander"]["id"] not in text and "bystander" not in text


def test_export_of_an_unknown_customer_is_empty(admin: httpx.Client) -> None:
    response = admin.post(f"/admin/customers/{_path('nobody.at.all@example.com')}/export")
    assert response.status_code == 200, response.text
    assert (response.json()["checkouts"], response.json()["orders"], response.json()["payments"]) == (
        [],
        [],
        [],
    )


def test_a_path_that_is_not_an_email_is_a_422(admin: httpx.Client) -> None:
    assert_problem(admin.post("/admin/customers/not-an-email/export"), 422)
    assert_problem(admin.delete("/admin/customers/not-an-email"), 422)


def test_erasure_pseudonymises_keeps_the_money_and_is_idempotent(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, customer: dict[str, Any]
) -> None:
    email = customer["email"]
    # Given the customer's export / When they are erased
    before = admin.post(f"/admin/customers/{_path(email)}/export").json()
    erased = admin.delete(f"/admin/customers/{_path(email)}")
    assert erased.status_code == 200, erased.text
    result = erased.json()
    assert result["already_erased"] is False
    assert result["checkouts"] == 2 and result["orders"] == (1 if customer["order_id"] else 0)

    # Then the checkouts still read (with their token) but hold no personal data; the money is unchanged
    for checkout in (customer["paid"], customer["open"]):
        read = api.get(f"/checkouts/{checkout['id']}", headers={"X-Checkout-Token": checkout["token"]})
        assert read.status_code == 200, read.text
        body = read.json()
        assert (
            email.lower() not in read.text
            and "Pria Vasey" not in read.text
            and "Privacy Lane" not in read.text
        )
        assert body["shipping_address"]["country"] == "IE"
        assert (body["total"], body["tax"], body["lines"]) == (
            checkout["total"],
            checkout["tax"],
            checkout["lines"],
        )
    if customer["order_id"]:
        order = admin.get(f"/admin/orders/{customer['order_id']}")
        assert order.status_code == 200, order.text
        assert (
            email.lower() not in order.text and "Privacy Lane" not in order.text and PHONE not in order.text
        )
        assert order.json()["total"] == customer["paid"]["total"]
        assert [ln["sku"] for ln in order.json()["lines"]] == [customer["sku"]]

    # And nothing in the table still carries the email or the address, outbox copies aside (7-day retention)
    client = dynamodb(backend.aws_endpoint)
    scan: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "entity <> :outbox",
        "ExpressionAttributeValues": {":outbox": {"S": "outbox"}},
    }
    while True:
        page = client.scan(**scan)
        for item in page["Items"]:
            text = json.dumps(item)
            leaked = [v for v in (email.lower(), "Privacy Lane", PHONE) if v in text]
            assert not leaked, (item["PK"]["S"], item.get("entity"), leaked)
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # And the bystander is untouched
    bystander = customer["bystander"]
    read = api.get(f"/checkouts/{bystander['id']}", headers={"X-Checkout-Token": bystander["token"]})
    assert read.json()["email"] == bystander["email"]
    assert read.json()["shipping_address"] == bystander["shipping_address"]

    # And exactly one CustomerErased event, valid, naming no one
    from cloudtill.privacy.service import customer_hash

    events = _erasure_events(backend, customer_hash(email))
    assert len(events) == 1
    schema = json.loads((EVENTS / "schemas" / "CustomerErased.json").read_text())
    detail = json.loads(json.dumps(events[0]["detail"], default=int))
    Draft202012Validator(schema).validate(detail)
    assert events[0]["source"] == "cloudtill.privacy"
    assert set(detail["checkout_ids"]) == {c["id"] for c in before["checkouts"]}
    assert email.lower() not in json.dumps(events[0], default=str)

    # When erased again: nothing more to do, said so, no second event
    again = admin.delete(f"/admin/customers/{_path(email)}")
    assert again.status_code == 200
    assert again.json()["already_erased"] is True and again.json()["erased_at"] == result["erased_at"]
    assert len(_erasure_events(backend, customer_hash(email))) == 1
    after = admin.post(f"/admin/customers/{_path(email)}/export").json()
    assert (after["checkouts"], after["orders"], after["erased_at"]) == ([], [], result["erased_at"])


def test_erasing_an_unknown_customer_still_tells_downstream_once(
    backend: RunningBackend, admin: httpx.Client
) -> None:
    email = f"never.seen.{time.time_ns()}@example.com"
    first = admin.delete(f"/admin/customers/{_path(email)}")
    assert first.status_code == 200 and first.json()["already_erased"] is False
    second = admin.delete(f"/admin/customers/{_path(email)}")
    assert second.json()["already_erased"] is True
    from cloudtill.privacy.service import customer_hash

    assert len(_erasure_events(backend, customer_hash(email))) == 1


def _idempotency_records(backend: RunningBackend) -> list[dict[str, Any]]:
    from cloudtill import ddb

    from infra.wiring import IDEMPOTENCY_TABLE
    from localrt.workflows import TABLE_NAMES

    scan: dict[str, Any] = {"TableName": TABLE_NAMES[IDEMPOTENCY_TABLE.logical_name]}
    found: list[dict[str, Any]] = []
    while True:
        page = dynamodb(backend.aws_endpoint).scan(**scan)
        found += [dict(ddb.from_item(i)) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_idempotency_records_hold_nothing_personal_and_replays_still_answer(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client
) -> None:
    # Given a checkout created with an Idempotency-Key, full of personal data
    unique = f"pi{time.time_ns() % 10**10:x}"
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 10)
    email = f"idem-{unique}@example.com"
    body = checkout_body((sku, 1), email=email, shipping_address=ADDRESS, phone=PHONE)
    key = {"Idempotency-Key": f"privacy-{unique}"}
    records_before = len(_idempotency_records(backend))
    first = api.post("/checkouts", json=body, headers=key)
    assert first.status_code == 201, first.text
    client_secret = first.json()["payment"]["client_secret"]
    # When it is replayed: the same answer (and no second checkout)
    replay = api.post("/checkouts", json=body, headers=key)
    assert replay.status_code == 201 and replay.content == first.content
    # And the customer is erased
    assert admin.delete(f"/admin/customers/{_path(email)}").status_code == 200

    # Then no idempotency record holds the e-mail, the address, the phone or the client secret
    records = _idempotency_records(backend)
    assert len(records) == records_before + 1
    stored = json.dumps(records, default=str)
    for personal in (email, ADDRESS["name"], ADDRESS["line1"], ADDRESS["postal_code"], PHONE, client_secret):
        assert personal not in stored, personal
    # And a replay after the erasure answers the checkout as it now is: erased, same id, same token
    after = api.post("/checkouts", json=body, headers=key)
    assert after.status_code == 201, after.text
    assert after.json()["id"] == first.json()["id"] and after.json()["token"] == first.json()["token"]
    assert email not in after.text and ADDRESS["line1"] not in after.text
