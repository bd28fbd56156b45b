"""NotificationService with in-memory fakes: who gets what, once per (event, recipient), retries,
suppressions, consent, SMS opt-in; SES feedback parsing; the MIME message the SES adapter sends."""

from __future__ import annotations

import email
import json
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from cloudtill.notifications import incoming
from cloudtill.notifications.aws import EVENT_ID_HEADER, mime_message
from cloudtill.notifications.feedback import parse_feedback, record_feedback, record_sends
from cloudtill.notifications.incoming import IncomingEvent
from cloudtill.notifications.ports import (
    Contact,
    ContactLine,
    Email,
    notification_tag,
    parse_notification_tag,
    recipient_hash,
)
from cloudtill.notifications.rendering import Renderer
from cloudtill.notifications.service import (
    DeliveryFailed,
    DeliveryInProgress,
    NotificationConfig,
    NotificationService,
    RecipientUnknown,
)

from tests.fakes import (
    FakeMailer,
    FakeSmsSender,
    FixedClock,
    InMemoryContacts,
    InMemoryNotificationLog,
    InMemorySuppressions,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "functions" / "notifications" / "templates"
EVENTS = Path(__file__).resolve().parents[2] / "events"
CHECKOUT_ID = "chk_" + "b" * 32
ORDER_ID = "ord_42"
SHOPPER = "grace@example.com"


class Harness:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.mailer = FakeMailer()
        self.sms = FakeSmsSender()
        self.log = InMemoryNotificationLog(self.clock, timedelta(seconds=60))
        self.suppressions = InMemorySuppressions()
        self.contacts = InMemoryContacts()
        self.contacts.checkouts[CHECKOUT_ID] = Contact(
            email=SHOPPER,
            phone=None,
            marketing_consent=False,
            currency="EUR",
            total=2494,
            lines=(ContactLine("Mug", 1, 1999, 1999),),
            order_id=ORDER_ID,
        )
        self.service = NotificationService(
            config=NotificationConfig(
                sender_email="shop@example.com",
                ops_email="ops@example.com",
                storefront_url="https://shop.example",
                shop_name="Demo",
            ),
            renderer=Renderer(
                TEMPLATES, "en_IE", {"name": "Demo", "url": "https://shop.example", "language": "en"}
            ),
            mailer=self.mailer,
            sms=self.sms,
            log=self.log,
            suppressions=self.suppressions,
            contacts=self.contacts,
        )

    def consent(self, *, phone: str | None = None, marketing: bool = True) -> None:
        contact = self.contacts.checkouts[CHECKOUT_ID]
        self.contacts.checkouts[CHECKOUT_ID] = Contact(
            contact.email, phone, marketing, contact.currency, contact.total, contact.lines, contact.order_id
        )


def event(detail_type: str, detail: dict[str, Any], event_id: str = "evt-1") -> IncomingEvent:
    return IncomingEvent.model_validate(
        {
            "id": f"bus-{event_id}",
            "detail-type": detail_type,
            "source": "cloudtill.tests",
            "detail": {**detail, "event_id": event_id},
        }
    )


def confirmed(**overrides: Any) -> dict[str, Any]:
    return {
        "order_id": ORDER_ID,
        "checkout_id": CHECKOUT_ID,
        "email": SHOPPER,
        "currency": "EUR",
        "subtotal": 1999,
        "discount": 0,
        "shipping": 495,
        "tax": 466,
        "total": 2494,
        "shipping_address": {
            "name": "Grace",
            "line1": "1 Cobol St",
            "city": "Cork",
            "postal_code": "T12",
            "country": "IE",
        },
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 1999, "line_total": 1999}],
        **overrides,
    }


SHIPPED = {
    "order_id": ORDER_ID,
    "checkout_id": CHECKOUT_ID,
    "email": SHOPPER,
    "carrier": "DHL",
    "tracking_number": "JD0001",
    "tracking_url": "https://dhl.example/JD0001",
    "lines": [{"sku": "MUG", "quantity": 1}],
    "fully_shipped": True,
}


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_order_confirmed_sends_one_email_to_the_shopper(h: Harness) -> None:
    outcomes = h.service.handle(event("OrderConfirmed", confirmed()))

    assert [o.status for o in outcomes] == ["sent"]
    [sent] = h.mailer.sent
    assert sent.to == SHOPPER
    assert sent.subject == "Your order ord_42 is confirmed"
    assert "€24.94" in sent.text and "€24.94" in sent.html
    recipient = recipient_hash("email", SHOPPER)
    assert sent.tags == {
        "event_id": "evt-1",
        "message": "order_confirmed",
        "notification": notification_tag("evt-1", recipient),
    }
    assert parse_notification_tag(sent.tags["notification"]) == ("evt-1", recipient)
    assert h.sms.sent == []  # no phone


def test_the_same_event_three_times_sends_one_message(h: Harness) -> None:
    for _ in range(3):
        h.service.handle(event("OrderShipped", SHIPPED))

    assert len(h.mailer.sent) == 1
    assert "https://dhl.example/JD0001" in h.mailer.sent[0].text
    assert h.log.statuses() == ["sent"]


def test_distinct_events_each_send(h: Harness) -> None:
    h.service.handle(event("OrderShipped", SHIPPED, "evt-a"))
    h.service.handle(event("OrderShipped", SHIPPED, "evt-b"))

    assert len(h.mailer.sent) == 2


def test_a_failed_send_raises_and_the_redelivery_sends_it(h: Harness) -> None:
    h.mailer.fail_next = 1
    with pytest.raises(DeliveryFailed):
        h.service.handle(event("OrderConfirmed", confirmed()))
    assert h.mailer.sent == [] and h.log.statuses() == ["failed"]

    h.service.handle(event("OrderConfirmed", confirmed()))  # SQS redelivers

    assert len(h.mailer.sent) == 1
    record = next(iter(h.log.records.values()))
    assert record["status"] == "sent" and record["attempts"] == 2


def test_a_delivery_claimed_moments_ago_is_left_to_its_claimant(h: Harness) -> None:
    recipient = next(iter(_claim_for_shopper(h)))
    with pytest.raises(DeliveryFailed) as raised:
        h.service.handle(event("OrderConfirmed", confirmed()))
    assert isinstance(raised.value.__cause__, DeliveryInProgress)
    assert h.mailer.sent == []
    assert h.log.records[("evt-1", recipient)]["status"] == "sending"


def test_a_stale_claim_is_taken_over_after_the_visibility_timeout(h: Harness) -> None:
    _claim_for_shopper(h)  # a delivery that crashed after claiming
    h.clock.advance(61)

    h.service.handle(event("OrderConfirmed", confirmed()))

    assert len(h.mailer.sent) == 1


def _claim_for_shopper(h: Harness) -> list[str]:
    from cloudtill.notifications.ports import recipient_hash

    recipient = recipient_hash("email", SHOPPER)
    assert h.log.claim("evt-1", recipient, "order_confirmed", "email").proceed
    return [recipient]


def test_a_suppressed_address_gets_nothing_and_it_is_recorded(h: Harness) -> None:
    h.suppressions.suppress(SHOPPER.upper(), "bounce", "fb-1")

    outcomes = h.service.handle(event("OrderConfirmed", confirmed()))

    assert [o.status for o in outcomes] == ["suppressed"]
    assert h.mailer.sent == [] and h.log.statuses() == ["suppressed"]
    # and a redelivery does not try again
    assert [o.status for o in h.service.handle(event("OrderConfirmed", confirmed()))] == ["duplicate"]


ERASED_EMAIL = "erased@erased.invalid"  # what privacy erasure leaves in checkouts and orders


def _erase_shopper(h: Harness) -> None:
    """The customer was erased: the checkout and order hold the placeholder (cloudtill.privacy)."""
    h.consent(phone="+353861234567")
    contact = h.contacts.checkouts[CHECKOUT_ID]
    h.contacts.checkouts[CHECKOUT_ID] = Contact(
        ERASED_EMAIL, None, False, contact.currency, contact.total, contact.lines, contact.order_id
    )
    h.contacts.order_emails[ORDER_ID] = ERASED_EMAIL


def test_an_erased_customers_pending_order_sends_nothing_to_the_placeholder(h: Harness) -> None:
    # Given a customer erased while their order was still open
    _erase_shopper(h)
    # When the order ships (the event comes from the erased order) and is then delivered
    shipped = h.service.handle(event("OrderShipped", {**SHIPPED, "email": ERASED_EMAIL}, "e1"))
    delivered = h.service.handle(
        event("OrderDelivered", {"order_id": ORDER_ID, "checkout_id": CHECKOUT_ID}, "e2")
    )
    # Then no e-mail or SMS goes anywhere, and the outcomes say why
    assert h.mailer.sent == [] and h.sms.sent == []
    assert [o.status for o in shipped + delivered] == ["erased", "erased"]


@pytest.mark.parametrize(
    ("detail_type", "detail"),
    [
        # Emitted before the erasure (it still carries the address), delivered after it
        ("OrderConfirmed", confirmed()),
        ("PaymentFailed", {"payment_intent_id": "pi_1", "checkout_id": CHECKOUT_ID, "retryable": True}),
        (
            "RefundIssued",
            {
                "checkout_id": CHECKOUT_ID,
                "amount": 2494,
                "currency": "EUR",
                "refunded_total": 2494,
                "fully_refunded": True,
            },
        ),
        ("CheckoutExpired", {"checkout_id": CHECKOUT_ID}),
    ],
)
def test_no_message_reaches_a_customer_erased_after_the_event(
    h: Harness, detail_type: str, detail: dict[str, Any]
) -> None:
    _erase_shopper(h)

    outcomes = h.service.handle(event(detail_type, detail))

    assert h.mailer.sent == [] and h.sms.sent == []
    assert {o.status for o in outcomes} == {"erased"}


def test_the_email_comes_from_the_order_or_checkout_when_the_event_has_none(h: Harness) -> None:
    h.contacts.order_emails[ORDER_ID] = "from-order@example.com"
    h.service.handle(event("OrderDelivered", {"order_id": ORDER_ID, "checkout_id": CHECKOUT_ID}, "e1"))
    del h.contacts.order_emails[ORDER_ID]
    h.service.handle(event("OrderDelivered", {"order_id": ORDER_ID, "checkout_id": CHECKOUT_ID}, "e2"))

    assert [m.to for m in h.mailer.sent] == ["from-order@example.com", SHOPPER]


def test_payment_failed_tells_how_to_retry(h: Harness) -> None:
    detail = {
        "payment_intent_id": "pi_1",
        "checkout_id": CHECKOUT_ID,
        "failure_code": "card_declined",
        "retryable": True,
    }

    h.service.handle(event("PaymentFailed", detail))

    [sent] = h.mailer.sent
    assert sent.to == SHOPPER and "did not go through" in sent.subject
    assert f"https://shop.example/checkout/{CHECKOUT_ID}" in sent.text
    assert "€24.94" in sent.text


def test_refund_issued_shows_the_amount(h: Harness) -> None:
    detail = {
        "checkout_id": CHECKOUT_ID,
        "amount": 1000,
        "currency": "EUR",
        "refunded_total": 1000,
        "fully_refunded": False,
    }

    h.service.handle(event("RefundIssued", detail))

    assert h.mailer.sent[0].subject == "We refunded €10.00"


def test_unknown_checkout_is_not_dropped_silently(h: Harness) -> None:
    detail = {
        "checkout_id": "chk_" + "0" * 32,
        "amount": 1,
        "currency": "EUR",
        "refunded_total": 1,
        "fully_refunded": False,
    }

    with pytest.raises(RecipientUnknown):
        h.service.handle(event("RefundIssued", detail))


def test_abandoned_checkout_reminder_needs_consent(h: Harness) -> None:
    expired = {"checkout_id": CHECKOUT_ID, "expired_at": "x", "expires_at": "y", "promo_code": None}

    outcomes = h.service.handle(event("CheckoutExpired", expired, "exp-1"))

    assert [o.status for o in outcomes] == ["no_consent"]
    assert h.mailer.sent == []


def test_abandoned_checkout_reminder_with_consent_has_unsubscribe(h: Harness) -> None:
    h.consent(marketing=True)
    expired = {"checkout_id": CHECKOUT_ID, "expired_at": "x", "expires_at": "y", "promo_code": None}

    h.service.handle(event("CheckoutExpired", expired, "exp-2"))

    [sent] = h.mailer.sent
    assert sent.headers["List-Unsubscribe"] == "<mailto:shop@example.com?subject=unsubscribe>"
    assert "Unsubscribe" in sent.html and "Mug" in sent.text


def test_sms_goes_out_when_the_shopper_gave_a_phone_and_opted_in(h: Harness) -> None:
    h.consent(phone="+353 85 123 4567", marketing=True)

    for _ in range(2):
        h.service.handle(event("OrderShipped", SHIPPED))

    assert len(h.mailer.sent) == 1
    assert h.sms.sent == [
        ("+353 85 123 4567", "Demo: order ord_42 shipped with DHL. Track: https://dhl.example/JD0001")
    ]


def test_no_sms_without_opt_in(h: Harness) -> None:
    h.consent(phone="+353 85 123 4567", marketing=False)

    h.service.handle(event("OrderShipped", SHIPPED))

    assert h.sms.sent == [] and len(h.mailer.sent) == 1


def test_stock_low_and_report_ready_go_to_ops(h: Harness) -> None:
    stock = {
        "sku": "MUG",
        "on_hand": 2,
        "reserved": 0,
        "available": 2,
        "reservable": 2,
        "low_stock_threshold": 5,
        "cause": "movement",
    }
    report = {
        "date": "2026-11-22",
        "report_url": "https://r.example/x",
        "currency": "EUR",
        "summary": {"orders": 3, "gross": 9000},
    }

    h.service.handle(event("StockLow", stock, "s1"))
    h.service.handle(event("ReportReady", report, "r1"))

    assert [m.to for m in h.mailer.sent] == ["ops@example.com", "ops@example.com"]
    assert "https://r.example/x" in h.mailer.sent[1].text and "€90.00" in h.mailer.sent[1].text


def test_events_it_does_not_consume_are_ignored(h: Harness) -> None:
    assert h.service.handle(event("StockAdjusted", {"sku": "x"})) == []


# -- SES feedback -------------------------------------------------------------------------------------


def sns(message: dict[str, Any]) -> dict[str, Any]:
    return {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message), "MessageId": "m"}}


def test_permanent_bounce_and_complaint_suppress_transient_bounce_does_not() -> None:
    suppressions = InMemorySuppressions()
    records = [
        sns(
            {
                "eventType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "feedbackId": "f1",
                    "bouncedRecipients": [{"emailAddress": "gone@example.com"}],
                },
            }
        ),
        sns(
            {
                "notificationType": "Complaint",
                "complaint": {
                    "feedbackId": "f2",
                    "complainedRecipients": [{"emailAddress": "angry@example.com"}],
                },
            }
        ),
        sns(
            {
                "eventType": "Bounce",
                "bounce": {
                    "bounceType": "Transient",
                    "bouncedRecipients": [{"emailAddress": "full@example.com"}],
                },
            }
        ),
        sns({"eventType": "Delivery", "mail": {}}),
    ]

    assert record_feedback(records, suppressions) == 2
    assert set(suppressions.addresses) == {"gone@example.com", "angry@example.com"}
    assert parse_feedback({"eventType": "Open"}) is None


# -- the SES adapter's message ------------------------------------------------------------------------


def test_mime_message_has_text_and_html_alternatives_and_the_event_id() -> None:
    raw = mime_message(
        Email(
            to="a@example.com",
            subject="Hello",
            text="plain <b>",
            html="<p>html</p>",
            headers={"List-Unsubscribe": "<mailto:x@example.com>"},
            tags={"event_id": "evt-9", "message": "order_confirmed"},
        ),
        "shop@example.com",
        "Demo",
    )
    parsed: Message = email.message_from_bytes(raw)

    assert parsed["From"] == "Demo <shop@example.com>" and parsed["To"] == "a@example.com"
    assert parsed[EVENT_ID_HEADER] == "evt-9"
    assert parsed["List-Unsubscribe"] == "<mailto:x@example.com>"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in parsed.walk()
        if not p.is_multipart()
    }
    assert parts["text/plain"].strip() == "plain <b>"
    assert parts["text/html"].strip() == "<p>html</p>"


# -- contract with the producers ----------------------------------------------------------------------


@pytest.mark.parametrize("detail_type", sorted(incoming.DETAIL_MODELS))
def test_every_consumed_event_sample_is_understood(detail_type: str) -> None:
    sample_path = EVENTS / "samples" / f"{detail_type}.json"
    assert sample_path.exists(), f"{detail_type} is consumed but has no sample in events/samples/"
    sample = json.loads(sample_path.read_text())

    incoming.DETAIL_MODELS[detail_type].model_validate(sample["detail"])


def test_report_ready_sample_renders_the_summary_for_ops(h: Harness) -> None:
    sample = json.loads((EVENTS / "samples" / "ReportReady.json").read_text())

    h.service.handle(event("ReportReady", sample["detail"], "rep-1"))

    [sent] = h.mailer.sent
    assert sent.to == "ops@example.com" and sent.subject == "Daily report for 2026-07-15"
    assert "Total sales: €84.95" in sent.text and "Orders: 3" in sent.text
    assert "reports/2026/07/15/report.html" in sent.text


# -- SES's Send event confirms a send whose `sent` was never written --------------------------------


class _Crash(BaseException):
    """The function dying: nothing after it runs, not even an `except Exception`."""


class CrashingMailer(FakeMailer):
    """SES accepts the message, then the function dies before it hears back."""

    def __init__(self) -> None:
        super().__init__()
        self.crash_next = False

    def send(self, email: object) -> str:
        message_id = super().send(email)
        if self.crash_next:
            self.crash_next = False
            raise _Crash
        return message_id


def ses_send_event(sent: Email, message_id: str) -> dict[str, Any]:
    """What SES publishes for an accepted send through a configuration set with SEND events."""
    return {
        "eventType": "Send",
        "mail": {
            "messageId": message_id,
            "destination": [sent.to],
            "tags": {"ses:configuration-set": ["cs"], **{k: [v] for k, v in sent.tags.items()}},
        },
        "send": {},
    }


def test_a_crash_after_ses_accepted_is_not_sent_again_once_ses_confirms_the_send(h: Harness) -> None:
    mailer = CrashingMailer()
    h.service._mailer = mailer
    mailer.crash_next = True
    with pytest.raises(_Crash):
        h.service.handle(event("OrderConfirmed", confirmed()))
    assert len(mailer.sent) == 1 and h.log.statuses() == ["sending"]

    # SNS delivers SES's Send event to the feedback function.
    assert record_sends([sns(ses_send_event(mailer.sent[0], "ses-1"))], h.log) == 1
    h.clock.advance(61)  # past the resend window: the claim is stale
    outcomes = h.service.handle(event("OrderConfirmed", confirmed()))  # SQS redelivers

    assert [o.status for o in outcomes] == ["duplicate"]
    assert len(mailer.sent) == 1
    [record] = h.log.records.values()
    assert record["status"] == "sent" and record["provider_message_id"] == "ses-1"


def test_the_send_event_arriving_first_leaves_the_normal_finish_harmless(h: Harness) -> None:
    class ConfirmingMailer(FakeMailer):
        """SES's Send event reaches the feedback function before the sender writes `sent`."""

        def send(self, email: object) -> str:
            message_id = super().send(email)
            record_sends([sns(ses_send_event(self.sent[-1], message_id))], h.log)
            return message_id

    h.service._mailer = ConfirmingMailer()
    outcomes = h.service.handle(event("OrderConfirmed", confirmed()))

    assert [o.status for o in outcomes] == ["sent"]
    [record] = h.log.records.values()
    assert record["status"] == "sent" and record["provider_message_id"] == "msg-1"


def test_a_send_event_never_changes_a_final_record_or_one_it_cannot_read(h: Harness) -> None:
    h.suppressions.suppress(SHOPPER, "bounce", "f")
    h.service.handle(event("OrderConfirmed", confirmed()))
    assert h.log.statuses() == ["suppressed"]
    recipient = next(iter(h.log.records))[1]
    forged = Email(SHOPPER, "s", "t", "h", tags={"notification": notification_tag("evt-1", recipient)})

    assert record_sends([sns(ses_send_event(forged, "ses-9"))], h.log) == 0
    assert record_sends([sns({"eventType": "Send", "mail": {"tags": {"notification": ["x"]}}})], h.log) == 0
    assert h.log.statuses() == ["suppressed"]
