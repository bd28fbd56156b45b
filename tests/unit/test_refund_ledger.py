"""One refund ledger per order: every refund path (admin route, cancel, return, late payment) claims
against what remains of what was captured, and Stripe's refunds add up to the ledger.

Real DynamoDB adapters on in-process moto (no sockets) and a fake Stripe that enforces Stripe's cap
(`FakePaymentGateway(captured=...)`: a refund beyond what remains on the charge is refused, param
`amount`). docs/orders.md "Refunds", docs/payments.md "Refunds".
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cloudtill import ddb, keys
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.api import CheckoutIn
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.service import CheckoutService
from cloudtill.clock import SystemClock, iso
from cloudtill.errors import ValidationFailed
from cloudtill.order_workflow.checkout_link import CheckoutLink, NoNewPayments
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.orders.api import FulfilmentIn, OrderLineIn, ReturnIn
from cloudtill.orders.service import OrderService
from cloudtill.payments.dynamo import DynamoOrderPaymentLookup, DynamoPaymentStore, record_to_item
from cloudtill.payments.records import PaymentRecord, RefundClaim
from cloudtill.payments.refund_ledger import REFUND_CLAIM_STALE_AFTER, settle_stuck_refunds
from cloudtill.payments.refunds import RefundRequested, request_refund
from cloudtill.settings import ShopSettings
from cloudtill.stock.api import MovementIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakePaymentGateway, FakePaymentStarter, FixedClock
from tests.unit import moto_table
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)

T = moto_table.TABLE
CLOCK = SystemClock()
ADDRESS = {"name": "A", "line1": "1 St", "city": "Dublin", "postal_code": "D01", "country": "IE"}


_SKUS = itertools.count(1)


class FakeWorkflow:
    def start(self, name: str, payload: dict[str, Any]) -> bool:
        return True

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        return False


_create_table = moto_table.create_main_table


@pytest.fixture(autouse=True)
def dynamodb(main_table: str) -> None:  # noqa: F811
    """Every test here runs on the in-process main table."""


class Shop:
    """A paid, confirmed order of 2 x 1000 (+ shipping) and the services that act on it."""

    def __init__(self) -> None:
        shop = ShopSettings()
        sku = f"L-{next(_SKUS)}"
        CatalogService(DynamoProductRepository(T), CLOCK, shop.currency).create_product(
            ProductIn(name="Tee", category="tees", variants=[{"sku": sku, "name": sku, "price": 1000}])  # type: ignore[list-item]
        )
        StockService(DynamoStockRepository(T), CLOCK).record_movement(
            sku, MovementIn(type="receive", quantity=10, unit_cost=400, reason="initial")
        )
        checkouts = CheckoutService(DynamoCheckoutRepository(T), CLOCK, shop, 900, FakePaymentStarter())
        body = CheckoutIn.model_validate(
            {"email": "a@example.com", "lines": [{"sku": sku, "quantity": 2}], "shipping_address": ADDRESS}
        )
        co = checkouts.create_checkout(body, "tok")
        assert co.payment is not None
        self.sku = sku
        self.pi = co.payment.payment_intent_id
        self.captured = co.total
        self.store = DynamoPaymentStore(T)
        self.store.create(
            PaymentRecord(
                self.pi, co.id, co.total, "EUR", "t", "t", status="succeeded", amount_received=co.total
            )
        )
        self.stripe = FakePaymentGateway(captured={self.pi: co.total})
        self.orders = DynamoOrderWorkflowStore(T)
        paid = {"outcome": "paid", "payment_intent_id": self.pi, "amount": co.total}
        self.order_id = str(self.lifecycle().confirm_order(co.id, paid)["order_id"])

    def lifecycle(self) -> OrderLifecycle:
        repo = DynamoCheckoutRepository(T)
        link = CheckoutLink(repo, CheckoutService(repo, CLOCK, ShopSettings(), 900, NoNewPayments()), CLOCK)
        return OrderLifecycle(self.orders, link, self.store, self.stripe, FakeWorkflow(), CLOCK)  # type: ignore[arg-type]

    def service(self) -> OrderService:
        return OrderService(self.orders, self.store, self.stripe, FakeWorkflow(), CLOCK)  # type: ignore[arg-type]

    def admin_refund(self, amount: int | None, key: str | None = None) -> RefundRequested:
        return request_refund(
            self.order_id,
            amount,
            "requested_by_customer",
            None,
            key,
            DynamoOrderPaymentLookup(T),
            self.store,
            self.stripe,
            self.orders,
            CLOCK,
        )

    def cancel(self) -> None:
        self.service().request_cancel(self.order_id)
        self.lifecycle().cancel_order(self.order_id)

    def ship_all(self) -> None:
        self.service().fulfil(self.order_id, FulfilmentIn(carrier="dpd", tracking_number="T1"))

    def return_units(self, quantity: int) -> int:
        body = ReturnIn(lines=[OrderLineIn(sku=self.sku, quantity=quantity)], restock=True, refund=True)
        return self.service().record_return(self.order_id, body).refund_amount

    def stripe_refunded(self) -> int:
        return self.stripe.refunded_total(self.pi)

    def ledger(self) -> int:
        item = ddb.client().get_item(
            TableName=T, Key=ddb.key(*keys.order(self.order_id)), ConsistentRead=True
        )
        return int(ddb.from_item(item["Item"]).get("refunded_amount", 0))


def test_a_cancel_after_a_partial_admin_refund_refunds_exactly_the_rest() -> None:
    # Given an order of which ops refunded 500 as goodwill
    shop = Shop()
    shop.admin_refund(500)
    # When ops cancels it
    shop.cancel()
    # Then the cancel refunded what remained: together exactly what was captured
    assert [r["amount"] for r in shop.stripe.refunds] == [500, shop.captured - 500]
    assert shop.stripe_refunded() == shop.captured == shop.ledger()
    assert shop.service().get_for_admin(shop.order_id).status == "cancelled"


def test_a_return_after_a_partial_refund_is_capped_at_what_remains() -> None:
    shop = Shop()
    shop.ship_all()
    shop.admin_refund(shop.captured - 300)  # nearly everything, refunded by hand
    refunded = shop.return_units(1)  # pro rata that would be 1000 (+ tax share)
    assert refunded == 300
    assert shop.stripe_refunded() == shop.captured == shop.ledger()
    # and an admin refund of anything more is a 422 naming `amount`, asking Stripe nothing
    with pytest.raises(ValidationFailed) as raised:
        shop.admin_refund(1)
    assert [e.field for e in raised.value.errors] == ["amount"]
    assert len(shop.stripe.refunds) == 2


def test_a_retried_admin_refund_with_the_same_idempotency_key_refunds_once() -> None:
    shop = Shop()
    first = shop.admin_refund(700, key="ops-42")
    again = shop.admin_refund(700, key="ops-42")
    assert again.refund_id == first.refund_id and again.idempotency_key == "ops-42"
    assert shop.stripe_refunded() == 700 == shop.ledger()


def test_two_equal_admin_refunds_without_a_key_are_two_refunds() -> None:
    # Both before any webhook: nothing recorded on the payment record yet
    shop = Shop()
    one, two = shop.admin_refund(700), shop.admin_refund(700)
    assert one.refund_id != two.refund_id and one.idempotency_key != two.idempotency_key
    assert shop.stripe_refunded() == 1400 == shop.ledger()


def test_a_failed_admin_refund_retried_with_the_answered_key_refunds_once() -> None:
    # Given Stripe made the refund but the answer was lost (a timeout): the route answers 502
    shop = Shop()
    real_refund = shop.stripe.refund

    def lost_answer(*args: Any, **kwargs: Any) -> Any:
        real_refund(*args, **kwargs)
        from cloudtill.errors import DomainError

        raise DomainError("timeout")

    shop.stripe.refund = lost_answer  # type: ignore[method-assign]
    from cloudtill.payments.ports import PaymentProviderError

    with pytest.raises(PaymentProviderError) as raised:
        shop.admin_refund(700)
    key = raised.value.extra["idempotency_key"]
    shop.stripe.refund = real_refund  # type: ignore[method-assign]
    # When ops follows the advice: the same request with that key
    again = shop.admin_refund(700, key=key)
    # Then the refund Stripe made is found, not made twice
    assert again.amount == 700 and shop.stripe_refunded() == 700 == shop.ledger()


def test_a_return_whose_refund_failed_is_retried_through_the_admin_route_once() -> None:
    shop = Shop()
    shop.ship_all()
    real_refund = shop.stripe.refund

    def lost_answer(*args: Any, **kwargs: Any) -> Any:
        real_refund(*args, **kwargs)
        from cloudtill.errors import DomainError

        raise DomainError("timeout")

    shop.stripe.refund = lost_answer  # type: ignore[method-assign]
    from cloudtill.payments.ports import PaymentProviderError

    with pytest.raises(PaymentProviderError) as raised:
        shop.return_units(1)
    shop.stripe.refund = real_refund  # type: ignore[method-assign]
    key = raised.value.extra["idempotency_key"]
    assert key in raised.value.detail
    retried = shop.admin_refund(None, key=key)
    assert shop.stripe_refunded() == retried.amount == shop.ledger()
    assert len(shop.stripe.refunds) == 1


def test_a_permanent_stripe_refusal_settles_from_stripes_view_without_compensation_failed() -> None:
    # Given 500 refunded in Stripe's dashboard, which cloudtill never claimed
    shop = Shop()
    shop.stripe.refund(shop.pi, 500, "requested_by_customer", "dashboard", {})
    # When the order is cancelled (the ledger says all of it remains; Stripe refuses that)
    shop.cancel()  # no TransientError: nothing for the state machine to retry into CompensationFailed
    # Then the cancel refunded what Stripe had left, and the charge is refunded in full, once
    assert shop.stripe_refunded() == shop.captured
    assert shop.ledger() == shop.captured - 500
    shop.lifecycle().cancel_order(shop.order_id)  # a retried task refunds nothing more
    assert shop.stripe_refunded() == shop.captured and len(shop.stripe.refunds) == 2


def test_a_cancel_of_a_charge_stripe_refunded_in_full_settles_with_nothing_to_refund() -> None:
    shop = Shop()
    shop.stripe.refund(shop.pi, shop.captured, "requested_by_customer", "dashboard", {})
    shop.cancel()
    assert shop.stripe_refunded() == shop.captured and len(shop.stripe.refunds) == 1
    assert shop.ledger() == 0


def test_claims_racing_on_the_ledger_never_exceed_what_was_captured() -> None:
    # Before each claim's write, another claim commits (what concurrent functions do between a read
    # and a write): every write must find the ledger moved and count against what is left then.
    shop = Shop()
    shop.ship_all()
    client = ddb.client()
    racing: list[Callable[[], Any]] = [lambda: shop.admin_refund(900), lambda: shop.return_units(1)]

    def interleave(**_: Any) -> None:
        if racing:
            racing.pop(0)()

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", interleave)
    try:
        everything_left = shop.admin_refund(None)
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", interleave)
    assert racing == []
    assert everything_left.amount < shop.captured - 900
    assert shop.ledger() == shop.stripe_refunded() == shop.captured
    assert len(shop.stripe.refunds) == 3


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.integers(1, 1500), st.none(), st.just("return")), min_size=1, max_size=6))
def test_any_sequence_of_refunds_keeps_the_ledger_equal_to_stripe_and_within_captured(
    steps: list[int | str | None],
) -> None:
    ddb.client().delete_table(TableName=T)
    _create_table()
    shop = Shop()
    shop.ship_all()
    for step in steps:
        try:
            if step == "return":
                shop.return_units(1)
            else:
                shop.admin_refund(step if isinstance(step, int) else None)
        except ValidationFailed:
            pass  # more than remains: refused, nothing asked of Stripe
        except Exception as error:  # returns of more units than shipped are a 409
            from cloudtill.orders.rules import OrderStateConflict

            if not isinstance(error, OrderStateConflict | ValidationFailed):
                raise
        assert shop.stripe_refunded() == shop.ledger() <= shop.captured


def test_the_cancellation_event_announces_what_the_ledger_had_left_not_the_total() -> None:
    shop = Shop()
    shop.admin_refund(500)
    shop.cancel()
    items = ddb.client().scan(TableName=T)["Items"]
    cancelled = [ddb.from_item(i) for i in items if ddb.from_item(i).get("detail_type") == "OrderCancelled"]
    assert [e["detail"]["refund_amount"] for e in cancelled] == [shop.captured - 500]


def test_refunds_recorded_by_the_webhook_are_not_taken_out_twice() -> None:
    # Given a refund of 500 claimed and then recorded on the payment record by charge.refunded
    shop = Shop()
    first = shop.admin_refund(500)
    record = shop.store.get(shop.pi)
    assert record is not None
    recorded = record_to_item(replace(record, refunds={first.refund_id: 500}))
    ddb.client().put_item(TableName=T, Item=ddb.to_item(recorded))
    # When ops refunds all that remains
    rest = shop.admin_refund(None)
    # Then it is the captured amount less 500 once (the claim and the record are the same refund)
    assert rest.amount == shop.captured - 500
    assert shop.stripe_refunded() == shop.captured == shop.ledger()


def test_the_sweep_settles_a_stuck_claim_stripe_refuses_from_stripes_view() -> None:
    # Given a cancel claim left `requesting` 6 minutes ago, and 500 refunded meanwhile in the dashboard
    shop = Shop()
    died = FixedClock()
    claim = RefundClaim(keys.order(shop.order_id), "cancel", shop.pi, shop.captured, captured=shop.captured)
    assert shop.orders.claim_refund(claim, iso(died.now()), iso(died.now())) is not None
    shop.stripe.refund(shop.pi, 500, "requested_by_customer", "dashboard", {})
    died.advance(REFUND_CLAIM_STALE_AFTER.total_seconds() + 60)
    # When the sweep takes it over (Stripe refuses the full amount)
    outcome = settle_stuck_refunds(shop.orders, shop.stripe, died)
    # Then it refunded what Stripe had left, settled, and nothing stays pending
    assert outcome == {"settled": 1, "still_pending": []}
    assert shop.stripe_refunded() == shop.captured
    assert shop.ledger() == shop.captured - 500
    assert settle_stuck_refunds(shop.orders, shop.stripe, died) == {"settled": 0, "still_pending": []}
