"""Admin refunds: order -> PaymentIntent, what remains, Stripe idempotency; and where secrets come from."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cloudtill.errors import Conflict, NotFound, ValidationFailed
from cloudtill.payments.credentials import MissingStripeCredentials, StripeCredentialsSource
from cloudtill.payments.records import PaymentRecord, keyed_claim
from cloudtill.payments.refunds import request_refund
from cloudtill.settings import Settings

from tests.fakes import (
    FakePaymentGateway,
    FixedClock,
    InMemoryOrderPaymentLookup,
    InMemoryPaymentStore,
    InMemoryRefundClaims,
)

CLAIMS = InMemoryRefundClaims()
PAID = PaymentRecord("pi_1", "co_1", 2500, "EUR", "t", "t", status="succeeded", amount_received=2500)


@pytest.fixture
def store() -> InMemoryPaymentStore:
    CLAIMS.__init__()  # type: ignore[misc]
    store = InMemoryPaymentStore()
    store.create(PAID)
    return store


def refund(
    store: InMemoryPaymentStore, gateway: FakePaymentGateway, amount: int | None, key: str | None = None
) -> Any:
    orders = InMemoryOrderPaymentLookup({"ord_1": "pi_1", "ord_unpaid": "pi_unpaid"})
    return request_refund(
        "ord_1", amount, "requested_by_customer", "damaged", key, orders, store, gateway, CLAIMS, FixedClock()
    )


def test_the_default_refunds_all_that_remains(store: InMemoryPaymentStore) -> None:
    store.records["pi_1"] = replace(PAID, refunds={"re_0": 1000})
    gateway = FakePaymentGateway()
    done = refund(store, gateway, None)
    assert done.amount == 1500 and gateway.refunds[0]["amount"] == 1500
    metadata = gateway.refunds[0]["metadata"]
    assert metadata == {
        "order_id": "ord_1",
        "checkout_id": "co_1",
        "note": "damaged",
        "idempotency_key": done.idempotency_key,
        "refund_claim": f"{keyed_claim(done.idempotency_key)}-ORDER#ord_1",
    }


def test_more_than_remains_is_a_422_naming_amount_and_asks_stripe_nothing(
    store: InMemoryPaymentStore,
) -> None:
    store.records["pi_1"] = replace(PAID, refunds={"re_0": 2000})
    gateway = FakePaymentGateway()
    with pytest.raises(ValidationFailed) as raised:
        refund(store, gateway, 501)
    assert [e.field for e in raised.value.errors] == ["amount"]
    assert gateway.refunds == []


def test_nothing_left_is_a_422_naming_amount(store: InMemoryPaymentStore) -> None:
    store.records["pi_1"] = replace(PAID, refunds={"re_0": 2500})
    with pytest.raises(ValidationFailed) as raised:
        refund(store, FakePaymentGateway(), None)
    assert [e.field for e in raised.value.errors] == ["amount"]


def test_an_unknown_order_is_a_404(store: InMemoryPaymentStore) -> None:
    with pytest.raises(NotFound):
        request_refund(
            "ord_nope",
            None,
            "duplicate",
            None,
            None,
            InMemoryOrderPaymentLookup(),
            store,
            FakePaymentGateway(),
            CLAIMS,
            FixedClock(),
        )


def test_an_order_without_a_succeeded_payment_is_a_409(store: InMemoryPaymentStore) -> None:
    store.create(PaymentRecord("pi_unpaid", "co_2", 100, "EUR", "t", "t"))
    orders = InMemoryOrderPaymentLookup({"ord_unpaid": "pi_unpaid"})
    with pytest.raises(Conflict):
        request_refund(
            "ord_unpaid",
            None,
            "duplicate",
            None,
            None,
            orders,
            store,
            FakePaymentGateway(),
            CLAIMS,
            FixedClock(),
        )


def test_a_retried_request_with_its_idempotency_key_is_one_refund_and_two_without_are_two(
    store: InMemoryPaymentStore,
) -> None:
    gateway = FakePaymentGateway()
    first, again = (
        refund(store, gateway, 500, key="client-key-1"),
        refund(store, gateway, 500, key="client-key-1"),
    )
    assert first.refund_id == again.refund_id and len(gateway.refunds) == 1
    assert gateway.refunds[0]["idempotency_key"] == f"{keyed_claim('client-key-1')}-ORDER#ord_1"
    # Without a key every request is a refund of its own (made a key, answered to retry with).
    one, two = refund(store, gateway, 500), refund(store, gateway, 500)
    assert one.refund_id != two.refund_id and one.idempotency_key != two.idempotency_key
    assert len(gateway.refunds) == 3


def test_the_same_key_for_another_amount_is_a_409_naming_the_header(store: InMemoryPaymentStore) -> None:
    gateway = FakePaymentGateway()
    refund(store, gateway, 500, key="k")
    with pytest.raises(Conflict) as raised:
        refund(store, gateway, 600, key="k")
    assert [e.field for e in raised.value.errors] == ["Idempotency-Key"]
    assert len(gateway.refunds) == 1


def test_local_credentials_come_from_settings_and_never_show() -> None:
    settings = Settings(
        table_name="t",
        stripe_api_key="sk_test_x",  # type: ignore[arg-type]
        stripe_webhook_secret="whsec_new",  # type: ignore[arg-type]
        stripe_webhook_secret_previous="whsec_old",  # type: ignore[arg-type]
    )
    creds = StripeCredentialsSource(settings).get()
    assert creds.api_key.get_secret_value() == "sk_test_x"
    assert [s.get_secret_value() for s in creds.webhook_secrets] == ["whsec_new", "whsec_old"]
    assert "whsec_new" not in repr(creds) and "sk_test_x" not in repr(settings)


def test_aws_credentials_come_from_secrets_manager_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities import parameters

    calls: list[tuple[str, Any, Any]] = []

    def fake_get_secret(name: str, transform: Any = None, max_age: Any = None, **_: Any) -> dict[str, str]:
        calls.append((name, transform, max_age))
        return {"api_key": "sk_live_x", "webhook_secret": "whsec_a"}

    monkeypatch.setattr(parameters, "get_secret", fake_get_secret)
    creds = StripeCredentialsSource(Settings(table_name="t", stripe_secret_arn="arn:secret")).get()  # type: ignore[arg-type]
    assert creds.api_key.get_secret_value() == "sk_live_x" and len(creds.webhook_secrets) == 1
    assert calls == [("arn:secret", "json", 300)]


def test_missing_credentials_fail_clearly() -> None:
    with pytest.raises(MissingStripeCredentials):
        StripeCredentialsSource(Settings(table_name="t")).get()
