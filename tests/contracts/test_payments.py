"""Contract of `cloudtill.payments.ports.PaymentStore` (the webhook's dedupe + versioned record +
outbox transaction) and `OrderPaymentLookup`."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cloudtill import keys
from cloudtill.payments.dynamo import DynamoOrderPaymentLookup, DynamoPaymentStore
from cloudtill.payments.ports import OrderPaymentLookup, PaymentStore, StaleRecord, WebhookEffect
from cloudtill.payments.records import PaymentRecord

from tests.contracts.conftest import Backend
from tests.fakes import InMemoryOrderPaymentLookup, InMemoryPaymentStore

AT = "2026-11-23T12:00:00Z"


@pytest.fixture
def store(backend: Backend) -> PaymentStore:
    if backend.fake:
        return InMemoryPaymentStore()
    return DynamoPaymentStore(backend.table, backend.client)


def record(intent: str = "pi_1", **changes: object) -> PaymentRecord:
    return replace(PaymentRecord(intent, "c1", 2000, "EUR", AT, AT), **changes)  # type: ignore[arg-type]


def effect(event_id: str, new: PaymentRecord | None, expected: int | None, **more: object) -> WebhookEffect:
    return WebhookEffect(
        event_id=event_id,
        event_type="payment_intent.succeeded",
        received_at=AT,
        payment_intent_id=new.payment_intent_id if new else None,
        record=new,
        expected_version=expected,
        **more,  # type: ignore[arg-type]
    )


def test_create_writes_a_new_record_once(store: PaymentStore) -> None:
    first = record()
    assert store.create(first) is None
    assert store.get("pi_1") == first
    # A retried checkout creates the same record again: nothing is written, the stored one returned.
    assert store.create(record(amount=9999)) == first
    assert store.get("pi_1") == first
    assert store.get("pi_2") is None


def test_a_commit_at_the_version_read_stores_the_record_and_marks_the_event(store: PaymentStore) -> None:
    store.create(record())
    paid = record(status="succeeded", amount_received=2000, currency_received="EUR", version=1)
    assert store.commit(effect("evt_1", paid, 0)) is True
    assert store.get("pi_1") == paid
    assert store.is_processed("evt_1") and not store.is_processed("evt_2")
    assert store.lookup("evt_1", "pi_1") == (True, paid)
    assert store.lookup("evt_2", "pi_1") == (False, paid)
    assert store.lookup("evt_2", None) == (False, None)
    assert store.lookup("evt_2", "pi_2") == (False, None)


def test_a_redelivered_event_changes_nothing(store: PaymentStore) -> None:
    store.create(record())
    paid = record(status="succeeded", version=1)
    assert store.commit(effect("evt_1", paid, 0)) is True
    # Redelivered, even planned on a record that moved on: the dedupe answers first.
    assert store.commit(effect("evt_1", record(status="canceled", version=1), 0)) is False
    assert store.commit(effect("evt_1", record(status="canceled", version=2), 1)) is False
    assert store.get("pi_1") == paid


def test_a_commit_planned_on_an_old_version_is_stale_and_writes_nothing(store: PaymentStore) -> None:
    store.create(record())
    store.commit(effect("evt_1", record(status="requires_action", version=1), 0))
    with pytest.raises(StaleRecord):
        store.commit(effect("evt_2", record(status="succeeded", version=1), 0))
    assert not store.is_processed("evt_2")  # the event will be processed on its redelivery
    stored = store.get("pi_1")
    assert stored is not None and stored.status == "requires_action"


def test_a_commit_for_a_record_never_created_is_stale(store: PaymentStore) -> None:
    with pytest.raises(StaleRecord):
        store.commit(effect("evt_1", record("pi_9", status="succeeded", version=1), 0))
    assert store.get("pi_9") is None and not store.is_processed("evt_1")


def test_an_effect_without_a_record_change_only_marks_the_event(store: PaymentStore) -> None:
    orphan = WebhookEffect("evt_1", "charge.refunded", AT, None, orphan=True)
    assert store.commit(orphan) is True
    assert store.is_processed("evt_1")
    assert store.commit(orphan) is False


def test_a_charge_link_names_its_payment_intent(store: PaymentStore) -> None:
    store.create(record())
    linked = effect("evt_1", record(charge_id="ch_1", version=1), 0, charge_link=("ch_1", "pi_1"))
    assert store.commit(linked) is True
    assert store.payment_intent_of_charge("ch_1") == "pi_1"
    assert store.payment_intent_of_charge("ch_2") is None


@pytest.fixture
def lookup(backend: Backend) -> OrderPaymentLookup:
    if backend.fake:
        return InMemoryOrderPaymentLookup({"o1": "pi_1"})
    backend.put({"PK": keys.order("o1")[0], "SK": keys.order("o1")[1], "payment_intent_id": "pi_1"})
    backend.put({"PK": keys.order("o2")[0], "SK": keys.order("o2")[1], "status": "confirmed"})
    return DynamoOrderPaymentLookup(backend.table, backend.client)


def test_an_orders_payment_intent_is_found_by_order_id(lookup: OrderPaymentLookup) -> None:
    assert lookup.payment_intent_of_order("o1") == "pi_1"
    assert lookup.payment_intent_of_order("o2") is None  # an order without one
    assert lookup.payment_intent_of_order("o3") is None


def test_a_payment_settling_a_checkout_that_is_gone_is_recorded_all_the_same(store: PaymentStore) -> None:
    store.create(record())
    paid = record(status="succeeded", amount_received=2000, currency_received="EUR", version=1)
    assert store.commit(effect("evt_1", paid, 0, settles_checkout=True)) is True
    assert store.get("pi_1") == paid and store.is_processed("evt_1")
