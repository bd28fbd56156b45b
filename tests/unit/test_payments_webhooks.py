"""Webhook effects: one effect per event id, order-proof status precedence, refunds by refund id."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cloudtill.payments.ports import PaymentIntentRef, WebhookEffect
from cloudtill.payments.records import PaymentRecord
from cloudtill.payments.stripe_objects import Event
from cloudtill.payments.webhooks import WebhookProcessor, register_payment_intent

from tests.fakes import FixedClock, InMemoryPaymentStore

PI = "pi_test"
CHECKOUT = "co_test"


def event(event_type: str, obj: dict[str, Any], event_id: str, created: int = 1000) -> Event:
    return Event.model_validate(
        {"id": event_id, "object": "event", "type": event_type, "created": created, "data": {"object": obj}}
    )


def intent(status: str, amount: int = 2500, currency: str = "eur", **extra: Any) -> dict[str, Any]:
    return {
        "id": PI,
        "object": "payment_intent",
        "amount": amount,
        "currency": currency,
        "status": status,
    } | extra


def charge(refunds: list[tuple[str, int]] | None, amount_refunded: int = 0, **extra: Any) -> dict[str, Any]:
    listed = None
    if refunds is not None:
        listed = {
            "object": "list",
            "has_more": False,
            "data": [
                {"id": r, "object": "refund", "amount": a, "currency": "eur", "status": "succeeded"}
                for r, a in refunds
            ],
        }
        amount_refunded = sum(a for _, a in refunds)
    base = {"id": "ch_test", "object": "charge", "amount": 2500, "currency": "eur", "payment_intent": PI}
    return base | {"amount_refunded": amount_refunded, "refunds": listed} | extra


@pytest.fixture
def store() -> InMemoryPaymentStore:
    return InMemoryPaymentStore()


@pytest.fixture
def processor(store: InMemoryPaymentStore) -> WebhookProcessor:
    register_payment_intent(store, FixedClock(), CHECKOUT, PaymentIntentRef(PI, "secret", "x"), 2500, "eur")
    return WebhookProcessor(store, FixedClock())


def test_register_payment_intent_records_the_expectation_once(store: InMemoryPaymentStore) -> None:
    ref = PaymentIntentRef(PI, "pi_test_secret", "requires_payment_method")
    first = register_payment_intent(store, FixedClock(), CHECKOUT, ref, 2500, "eur")
    again = register_payment_intent(store, FixedClock(), CHECKOUT, ref, 2500, "EUR")
    assert first == again == store.records[PI]
    assert (first.amount, first.currency, first.status, first.retryable) == (
        2500,
        "EUR",
        "awaiting_payment",
        True,
    )
    with pytest.raises(ValueError):
        register_payment_intent(store, FixedClock(), "another_checkout", ref, 2500, "EUR")


def test_succeeded_records_the_payment_and_emits_payment_succeeded(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    outcome = processor.process(
        event(
            "payment_intent.succeeded",
            intent("succeeded", amount_received=2500, latest_charge="ch_1"),
            "evt_1",
        )
    )
    assert outcome.result == "applied"
    record = store.records[PI]
    assert (record.status, record.amount_received, record.flagged_for_review) == ("succeeded", 2500, False)
    [emitted] = store.outbox_of("PaymentSucceeded")
    assert emitted.detail["checkout_id"] == CHECKOUT
    assert (emitted.detail["amount"], emitted.detail["currency"], emitted.detail["amount_mismatch"]) == (
        2500,
        "EUR",
        False,
    )
    assert store.charges == {"ch_1": PI}


def test_the_same_event_three_times_has_one_effect(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    succeeded = event("payment_intent.succeeded", intent("succeeded"), "evt_1")
    results = [processor.process(succeeded).result for _ in range(3)]
    assert results == ["applied", "duplicate", "duplicate"]
    assert len(store.outbox) == 1 and store.records[PI].version == 1


def test_a_duplicate_racing_past_the_fast_check_is_stopped_by_the_transaction(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    succeeded = event("payment_intent.succeeded", intent("succeeded"), "evt_1")
    processor.process(succeeded)
    store.is_processed = lambda event_id: False  # type: ignore[method-assign]  # the other delivery's view
    assert processor.process(succeeded).result == "duplicate"
    assert len(store.outbox) == 1


def test_failed_after_succeeded_never_undoes_the_payment(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    # Given the earlier attempt's payment_failed arriving after the success (reversed delivery)
    processor.process(event("payment_intent.succeeded", intent("succeeded"), "evt_ok", created=2000))
    outcome = processor.process(
        event("payment_intent.payment_failed", intent("requires_payment_method"), "evt_fail", created=1000)
    )
    assert outcome.result == "unchanged"
    assert store.records[PI].status == "succeeded"
    assert [e.detail_type for e in store.outbox] == ["PaymentSucceeded"]
    # And a late requires_action does not either
    processor.process(
        event("payment_intent.requires_action", intent("requires_action"), "evt_3ds", created=500)
    )
    assert store.records[PI].status == "succeeded"


def test_failed_then_succeeded_in_order_reports_both_and_ends_succeeded(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    error = {"code": "card_declined", "decline_code": "generic_decline"}
    processor.process(
        event(
            "payment_intent.payment_failed",
            intent("requires_payment_method", last_payment_error=error),
            "e1",
            1,
        )
    )
    assert store.records[PI].status == "payment_failed"
    assert store.records[PI].retryable  # a decline is not final: the shopper can try another card
    [failed] = store.outbox_of("PaymentFailed")
    assert (failed.detail["failure_code"], failed.detail["retryable"]) == ("generic_decline", True)
    processor.process(event("payment_intent.succeeded", intent("succeeded"), "e2", 2))
    assert store.records[PI].status == "succeeded" and store.records[PI].failure_code is None
    assert len(store.outbox_of("PaymentSucceeded")) == 1


def test_among_failures_the_newest_event_wins(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    processor.process(
        event("payment_intent.payment_failed", intent("requires_payment_method"), "e2", created=20)
    )
    processor.process(event("payment_intent.requires_action", intent("requires_action"), "e1", created=10))
    assert store.records[PI].status == "payment_failed"


def test_an_amount_mismatch_is_flagged_for_review(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    processor.process(
        event("payment_intent.succeeded", intent("succeeded", amount=2400, amount_received=2400), "e")
    )
    record = store.records[PI]
    assert record.flagged_for_review and record.amount_received == 2400
    [emitted] = store.outbox_of("PaymentSucceeded")
    assert emitted.detail["amount_mismatch"] is True and emitted.detail["expected_amount"] == 2500


def test_a_currency_mismatch_is_flagged_for_review(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    processor.process(event("payment_intent.succeeded", intent("succeeded", currency="usd"), "e"))
    assert store.records[PI].flagged_for_review
    assert store.outbox_of("PaymentSucceeded")[0].detail["amount_mismatch"] is True


def test_canceled_is_a_final_payment_failed(store: InMemoryPaymentStore, processor: WebhookProcessor) -> None:
    processor.process(event("payment_intent.canceled", intent("canceled"), "e"))
    assert store.records[PI].status == "canceled" and not store.records[PI].retryable
    [failed] = store.outbox_of("PaymentFailed")
    assert (failed.detail["failure_code"], failed.detail["retryable"]) == ("canceled", False)


def test_requires_action_updates_the_record_without_an_event(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    assert (
        processor.process(event("payment_intent.requires_action", intent("requires_action"), "e")).result
        == "applied"
    )
    assert store.records[PI].status == "requires_action" and store.outbox == []


def test_refunds_accumulate_by_refund_id_not_by_delivery(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    processor.process(event("payment_intent.succeeded", intent("succeeded"), "e0"))
    processor.process(event("charge.refunded", charge([("re_1", 1000)]), "e1", created=10))
    # The second refund's event lists both refunds; a redelivery of it (new event id, as Stripe's
    # "resend") and the first event arriving again change nothing.
    processor.process(event("charge.refunded", charge([("re_1", 1000), ("re_2", 500)]), "e2", created=20))
    processor.process(
        event("charge.refunded", charge([("re_1", 1000), ("re_2", 500)]), "e2-resent", created=20)
    )
    processor.process(event("charge.refunded", charge([("re_1", 1000)]), "e1", created=10))
    record = store.records[PI]
    assert record.refunds == {"re_1": 1000, "re_2": 500} and record.refunded_amount == 1500
    issued = store.outbox_of("RefundIssued")
    assert [(e.detail["refund_id"], e.detail["amount"]) for e in issued] == [("re_1", 1000), ("re_2", 500)]
    assert issued[-1].detail["refunded_total"] == 1500 and issued[-1].detail["fully_refunded"] is False


def test_refunds_without_a_listed_refund_use_the_cumulative_total(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    processor.process(event("charge.refunded", charge(None, amount_refunded=1000), "e1"))
    processor.process(event("charge.refunded", charge(None, amount_refunded=1000), "e1b"))
    processor.process(event("charge.refunded", charge(None, amount_refunded=2500), "e2"))
    assert store.records[PI].refunded_amount == 2500
    assert [e.detail["amount"] for e in store.outbox_of("RefundIssued")] == [1000, 1500]
    assert store.outbox_of("RefundIssued")[-1].detail["fully_refunded"] is True


def test_a_refund_naming_only_the_charge_is_resolved_through_the_charge_link(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    processor.process(
        event("payment_intent.succeeded", intent("succeeded", latest_charge={"id": "ch_test"}), "e0")
    )
    processor.process(event("charge.refunded", charge([("re_1", 700)], payment_intent=None), "e1"))
    assert store.records[PI].refunded_amount == 700


def test_a_dispute_is_recorded_once_and_emits_dispute_opened(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    processor.process(event("payment_intent.succeeded", intent("succeeded", latest_charge="ch_test"), "e0"))
    dispute = {"id": "dp_1", "object": "dispute", "amount": 2500, "currency": "eur", "charge": "ch_test"}
    dispute |= {"payment_intent": None, "reason": "fraudulent", "status": "needs_response"}
    processor.process(event("charge.dispute.created", dispute, "e1"))
    processor.process(event("charge.dispute.created", dispute, "e1-again"))
    assert store.records[PI].disputes == ("dp_1",)
    [opened] = store.outbox_of("DisputeOpened")
    assert (opened.detail["dispute_id"], opened.detail["reason"], opened.detail["checkout_id"]) == (
        "dp_1",
        "fraudulent",
        CHECKOUT,
    )


def test_an_unknown_payment_intent_is_kept_as_an_orphan(store: InMemoryPaymentStore) -> None:
    processor = WebhookProcessor(store, FixedClock())
    outcome = processor.process(
        event("payment_intent.succeeded", intent("succeeded") | {"id": "pi_nobody"}, "e")
    )
    assert outcome.result == "orphan"
    assert store.processed["e"].orphan and store.records == {} and store.outbox == []


def test_other_event_types_are_ignored(store: InMemoryPaymentStore, processor: WebhookProcessor) -> None:
    assert processor.process(event("customer.created", {"id": "cus_1"}, "e")).result == "ignored"
    assert store.processed == {} and store.outbox == []


def test_a_concurrent_change_is_re_read_and_re_planned(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    # Given another webhook of the same intent committing between our read and our write
    def concurrent_refund(effect: WebhookEffect) -> None:
        store.before_commit = None
        store.records[PI] = replace(
            store.records[PI], refunds={"re_other": 100}, version=store.records[PI].version + 1
        )

    store.before_commit = concurrent_refund
    processor.process(event("payment_intent.succeeded", intent("succeeded"), "e"))
    record = store.records[PI]
    assert record.status == "succeeded" and record.refunds == {"re_other": 100} and record.version == 2
    assert len(store.outbox_of("PaymentSucceeded")) == 1


def test_status_precedence_is_monotonic() -> None:
    record = PaymentRecord(PI, CHECKOUT, 1, "EUR", "t", "t")
    done = record.with_status("succeeded", 5)
    assert done is not None
    for later in ("payment_failed", "requires_action", "canceled", "awaiting_payment"):
        assert done.with_status(later, 99) is None  # type: ignore[arg-type]


def test_every_emitted_event_matches_its_published_schema(
    store: InMemoryPaymentStore, processor: WebhookProcessor
) -> None:
    import json
    from pathlib import Path

    from jsonschema import Draft202012Validator

    processor.process(event("payment_intent.payment_failed", intent("requires_payment_method"), "evt_0", 1))
    processor.process(
        event("payment_intent.succeeded", intent("succeeded", latest_charge="ch_test"), "evt_1", 2)
    )
    processor.process(event("charge.refunded", charge([("re_1", 100)]), "evt_2"))
    processor.process(event("charge.refunded", charge(None, amount_refunded=300), "evt_3"))
    dispute = {"id": "dp_1", "object": "dispute", "amount": 2500, "currency": "eur", "charge": "ch_test"}
    processor.process(event("charge.dispute.created", dispute, "evt_4"))
    events_dir = Path(__file__).resolve().parents[2] / "events" / "schemas"
    assert {e.detail_type for e in store.outbox} == {
        "PaymentFailed",
        "PaymentSucceeded",
        "RefundIssued",
        "DisputeOpened",
    }
    for emitted in store.outbox:
        envelope = emitted.envelope()
        schema = json.loads((events_dir / f"{emitted.detail_type}.json").read_text())
        Draft202012Validator(schema).validate(envelope["detail"])
