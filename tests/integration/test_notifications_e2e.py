"""Notifications end to end on the local runtime: events reach the notifications queue through the real
outbox -> stream -> publisher -> bus -> rule -> SQS path, the real handler renders and sends through
moto's SES, and `GET /_local/emails` shows what was sent. Exactly one e-mail per (event, recipient)
however often the event arrives; SES failures are retried; a permanent failure ends in the DLQ."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cloudtill import ddb
from cloudtill.notifications.ports import recipient_hash
from cloudtill.outbox import DomainEvent, outbox_item
from jsonschema import Draft202012Validator

from tests.integration.checkout_support import EVENTS, checkout_body
from tests.integration.conftest import RunningBackend
from tests.integration.orders_support import pay, stocked_sku, wait_for, wait_for_order_id
from tests.integration.stock_helpers import TABLE, dynamodb

XSS = "<script>alert(1)</script>"


def emails(api: httpx.Client, recipient: str, **params: str) -> list[dict[str, Any]]:
    response = api.get("/_local/emails", params={"recipient": recipient, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def queue_depths(api: httpx.Client) -> dict[str, int]:
    return dict(api.get("/_local/queues").json())


def commit_event(
    backend: RunningBackend, detail_type: str, domain: str, detail: dict[str, Any], event_id: str
) -> None:
    """An outbox item as a domain transaction writes it; `event_id` lets tests deliver "the same event"
    several times (each outbox item is published once, consumers deduplicate by `detail.event_id`)."""
    item = outbox_item(DomainEvent(detail_type, domain, detail, datetime.now(UTC)))
    item["detail"]["event_id"] = event_id
    schema = EVENTS / "schemas" / f"{detail_type}.json"
    if schema.exists():
        Draft202012Validator(json.loads(schema.read_text())).validate(item["detail"])
    dynamodb(backend.aws_endpoint).put_item(TableName=TABLE, Item=ddb.to_item(item))


def notification_record(backend: RunningBackend, event_id: str, email: str) -> dict[str, Any] | None:
    key = ddb.key(f"NOTIFICATION#{event_id}#{recipient_hash('email', email)}", "SENT")
    found = dynamodb(backend.aws_endpoint).get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    return ddb.from_item(found["Item"]) if "Item" in found else None


def settled(api: httpx.Client) -> bool:
    """Nothing waiting or in flight in the notifications queue."""
    return queue_depths(api)["notifications"] == 0


def shopper_checkout(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str, **overrides: Any
) -> tuple[dict[str, Any], str]:
    """A real checkout (product named with markup) for a shopper with an address of their own."""
    email = f"shopper-{unique}@example.com"
    sku = stocked_sku(backend, admin, unique, 10)
    response = api.post("/checkouts", json=checkout_body((sku, 2), email=email, **overrides))
    assert response.status_code == 201, response.text
    return response.json(), email


def order_confirmed(checkout: dict[str, Any], email: str, order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "checkout_id": checkout["id"],
        "email": email,
        "payment_intent_id": checkout["payment"]["payment_intent_id"],
        "currency": checkout["currency"],
        "subtotal": checkout["subtotal"],
        "discount": checkout["discount"],
        "shipping": checkout["shipping"],
        "tax": checkout["tax"],
        "total": checkout["total"],
        "promo_code": None,
        "shipping_method": checkout["shipping_method"],
        "shipping_address": {k: v for k, v in checkout["shipping_address"].items() if v is not None},
        "lines": [
            {
                "sku": line["sku"],
                "name": XSS,
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
                "line_total": line["line_total"],
                "discount": 0,
                "tax": 0,
            }
            for line in checkout["lines"]
        ],
        "confirmed_at": checkout["created_at"],
    }


def order_shipped(checkout: dict[str, Any], email: str, order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "checkout_id": checkout["id"],
        "email": email,
        "fulfilment_number": 1,
        "carrier": "an_post",
        "tracking_number": "RX123IE",
        "tracking_url": "https://track.example/RX123IE",
        "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in checkout["lines"]],
        "fully_shipped": True,
        "shipped_at": checkout["created_at"],
    }


def new_order_id() -> str:
    return f"ord_{uuid.uuid4().hex}"


def delivered(checkout: dict[str, Any], email: str, order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "checkout_id": checkout["id"],
        "email": email,
        "delivered_at": checkout["created_at"],
    }


def test_each_event_delivered_three_times_sends_exactly_one_email(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a shopper's checkout and an order made from it
    checkout, email = shopper_checkout(backend, api, admin, unique)
    order_id = new_order_id()
    confirmed_id, shipped_id = str(uuid.uuid4()), str(uuid.uuid4())
    dlq_before = queue_depths(api)["notifications-dlq"]

    # When OrderConfirmed and OrderShipped each reach the bus three times
    for _ in range(3):
        commit_event(
            backend, "OrderConfirmed", "orders", order_confirmed(checkout, email, order_id), confirmed_id
        )
        commit_event(backend, "OrderShipped", "orders", order_shipped(checkout, email, order_id), shipped_id)
    wait_for(
        lambda: [
            e
            for e in api.get("/_local/events").json()["items"]
            if e["detail"].get("event_id") in (confirmed_id, shipped_id)
        ],
        lambda found: len(found) == 6,
        "all six deliveries on the bus",
    )
    wait_for(lambda: settled(api), bool, "notifications queue drained")

    # Then the shopper got exactly one confirmation and one shipping e-mail
    sent = emails(api, email)
    assert sorted(e["event_id"] for e in sent) == sorted([confirmed_id, shipped_id]), sent
    confirmation = next(e for e in sent if e["event_id"] == confirmed_id)
    assert confirmation["subject"] == f"Your order {order_id} is confirmed"
    assert XSS in confirmation["text"] and XSS not in confirmation["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in confirmation["html"]
    assert "€" in confirmation["text"]
    shipping = next(e for e in sent if e["event_id"] == shipped_id)
    assert "https://track.example/RX123IE" in shipping["text"]
    assert 'href="https://track.example/RX123IE"' in shipping["html"]
    for event_id in (confirmed_id, shipped_id):
        record = notification_record(backend, event_id, email)
        assert record is not None and record["status"] == "sent" and record["attempts"] == 1
    assert queue_depths(api)["notifications-dlq"] == dlq_before


def test_paying_then_shipping_a_real_order_sends_one_email_each(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a checkout, when the shopper pays it (the orders workflow confirms the order)
    checkout, email = shopper_checkout(backend, api, admin, unique)
    pay(api, checkout)
    order_id = wait_for_order_id(api, checkout)

    # Then exactly one confirmation e-mail arrives, with the order's total
    sent = wait_for(lambda: emails(api, email), bool, "confirmation e-mail")
    wait_for(lambda: settled(api), bool, "notifications queue drained")
    sent = emails(api, email)
    assert len(sent) == 1 and sent[0]["subject"] == f"Your order {order_id} is confirmed", sent

    # When ops ship it, Then exactly one shipped e-mail follows, carrying the tracking link
    shipped = admin.post(
        f"/admin/orders/{order_id}/fulfillments",
        json={"carrier": "an_post", "tracking_number": f"RX{unique}IE"},
    )
    assert shipped.status_code == 201, shipped.text
    subject = f"Your order {order_id} is on its way"
    wait_for(lambda: [m for m in emails(api, email) if m["subject"] == subject], bool, "shipped e-mail")
    wait_for(lambda: settled(api), bool, "notifications queue drained")
    [shipped_mail] = [m for m in emails(api, email) if m["subject"] == subject]
    tracking_url = shipped.json()["tracking_url"]
    assert tracking_url in shipped_mail["text"] and tracking_url in shipped_mail["html"]
    assert len(emails(api, email)) == 2


def test_ses_throttling_is_retried_until_the_email_is_sent(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given SES throttles the next two sends to this shopper: both attempts the SES client makes in the
    # first delivery (cloudtill.notifications.aws: total_max_attempts=2)
    checkout, email = shopper_checkout(backend, api, admin, unique)
    fault = api.post("/_local/faults/ses", json={"fail_next": 2, "recipient": email})
    assert fault.status_code == 200
    event_id = str(uuid.uuid4())
    try:
        # When OrderDelivered arrives
        commit_event(
            backend, "OrderDelivered", "orders", delivered(checkout, email, new_order_id()), event_id
        )

        # Then the queue delivers it again and the e-mail goes out, once
        wait_for(lambda: emails(api, email), bool, "delivered e-mail after the retry")
    finally:
        state = api.post("/_local/faults/ses", json={}).json()
    assert state["injected"] == 2
    wait_for(lambda: settled(api), bool, "notifications queue drained")
    assert [e["event_id"] for e in emails(api, email)] == [event_id]
    record = notification_record(backend, event_id, email)
    assert record is not None and record["status"] == "sent" and record["attempts"] == 2


def test_a_send_that_keeps_failing_ends_in_the_dlq(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given SES rejects every send to this shopper
    checkout, email = shopper_checkout(backend, api, admin, unique)
    dlq_before = queue_depths(api)["notifications-dlq"]
    api.post("/_local/faults/ses", json={"fail_always": True, "recipient": email, "error": "MessageRejected"})
    event_id = str(uuid.uuid4())
    try:
        # When OrderDelivered arrives
        commit_event(
            backend, "OrderDelivered", "orders", delivered(checkout, email, new_order_id()), event_id
        )

        # Then after three receives the message is in the DLQ (kept, alarmed), nothing was sent
        wait_for(
            lambda: queue_depths(api)["notifications-dlq"], lambda d: d > dlq_before, "message in the DLQ"
        )
    finally:
        api.post("/_local/faults/ses", json={})
    assert emails(api, email) == []
    record = notification_record(backend, event_id, email)
    assert record is not None and record["status"] == "failed" and record["attempts"] == 3


def test_a_bounced_address_is_suppressed_and_later_sends_are_recorded_not_sent(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given SES reported a permanent bounce for the shopper's address
    checkout, email = shopper_checkout(backend, api, admin, unique)
    feedback = api.post("/_local/ses/feedback", json={"type": "Bounce", "recipients": [email]})
    assert feedback.status_code == 200, feedback.text
    assert feedback.json()["result"] == {"confirmed": 0, "suppressed": 1}  # a bounce confirms no send

    # When an order event for that address arrives
    event_id = str(uuid.uuid4())
    commit_event(backend, "OrderDelivered", "orders", delivered(checkout, email, new_order_id()), event_id)

    # Then nothing is sent and the notification is recorded as suppressed (the record is claimed,
    # "sending", before the suppression decision is written: wait for the decision)
    record = wait_for(
        lambda: notification_record(backend, event_id, email),
        lambda r: bool(r) and r.get("status") != "sending",
        "notification decision",
    )
    assert record["status"] == "suppressed"
    assert emails(api, email) == []


def test_abandoned_checkout_reminder_only_with_marketing_consent(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given two expired checkouts, one of a shopper who agreed to marketing e-mails
    with_consent, consenting = shopper_checkout(backend, api, admin, f"{unique}a", marketing_consent=True)
    without_consent, declining = shopper_checkout(backend, api, admin, f"{unique}b")
    ids = {consenting: str(uuid.uuid4()), declining: str(uuid.uuid4())}
    for checkout, email in ((with_consent, consenting), (without_consent, declining)):
        expired = {
            "checkout_id": checkout["id"],
            "expired_at": checkout["expires_at"],
            "expires_at": checkout["expires_at"],
            "promo_code": None,
        }
        commit_event(backend, "CheckoutExpired", "checkout", expired, ids[email])

    # Then only the consenting shopper gets the reminder, with an unsubscribe link and header
    [reminder] = wait_for(lambda: emails(api, consenting), bool, "reminder e-mail")
    assert "Unsubscribe" in reminder["html"] and "List-Unsubscribe" in reminder["headers"]
    # The record is claimed ("sending") before the consent decision is written: wait for the decision.
    record = wait_for(
        lambda: notification_record(backend, ids[declining], declining),
        lambda r: bool(r) and r.get("status") != "sending",
        "settled record",
    )
    assert record["status"] == "no_consent"
    assert emails(api, declining) == []


# The signature of a SigV4 presigned URL: a credential, so it may appear in the e-mail and nowhere else.
PRESIGNED_LINK = re.compile(r"https?://\S+?X-Amz-Signature=(?P<signature>[0-9a-f]{64})")


def test_report_ready_email_links_to_the_report_and_the_link_is_never_logged(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a day nobody reported on yet in this backend (the ReportReady id derives from day + content)
    day = date(2019, 1, 1) + timedelta(days=int(unique, 16) % 3000)
    subject = f"Daily report for {day.isoformat()}"

    # When ops run the day's report (reporting writes reports/YYYY/MM/DD/* and emits ReportReady)
    run = admin.post(f"/admin/reports/{day.isoformat()}")
    assert run.status_code == 200, run.text
    html_key = run.json()["keys"]["html"]

    # Then ops get one e-mail whose text and HTML carry the same presigned link to report.html
    [mail] = wait_for(
        lambda: [m for m in api.get("/_local/emails").json()["items"] if m["subject"] == subject],
        bool,
        "ReportReady e-mail",
    )
    match = PRESIGNED_LINK.search(mail["text"])
    assert match, mail["text"]
    link, signature = match.group(0), match.group("signature")
    assert f'href="{link.replace("&", "&amp;")}"' in mail["html"]
    assert link.startswith(f"{backend.aws_endpoint}/") and html_key in link
    # ... saying until when it works (12 h from now, shown in the shop's time zone) and the key for after
    assert "the link works until " in mail["text"] and html_key in mail["text"]
    expires = int(parse_qs(urlsplit(link).query)["X-Amz-Expires"][0])
    assert expires == 12 * 3600

    # And the link opens the report from a browser on this machine: moto serves the presigned GET
    opened = httpx.get(link, timeout=30)
    assert opened.status_code == 200, opened.text[:500]
    assert opened.headers["content-type"].startswith("text/html")
    assert day.isoformat() in opened.text and "<canvas" in opened.text

    # And the link lives only in the e-mail: not in the event on the bus, not in the backend's log
    ready = [
        e
        for e in api.get("/_local/events", params={"detail_type": "ReportReady"}).json()["items"]
        if e["detail"]["date"] == day.isoformat()
    ]
    assert ready and all("X-Amz-" not in json.dumps(e) for e in ready)
    record = notification_record(backend, mail["event_id"], mail["recipients"][0])
    assert record is not None and record["status"] == "sent"
    assert signature not in json.dumps(record, default=str)
    wait_for(lambda: settled(api), bool, "notifications queue drained")
    log = backend.log_text()
    assert '"notification":"report_ready"' in log.replace(" ", "")  # the send itself was logged
    assert signature not in log and "X-Amz-Signature" not in log
