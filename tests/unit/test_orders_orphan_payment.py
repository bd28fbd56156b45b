"""Paid checkouts never end without an order AND without a refund, and DynamoDB's transient answers
(transaction conflicts, throttling, 5xx, timeouts) are retried, never taken for a permanent failure.

The real DynamoDB adapters against moto in process (no sockets), with fake Stripe and Step Functions:
faults are injected by wrapping the shared DynamoDB client's calls (docs/orders.md "Compensations",
"Sweeps")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from cloudtill import ddb, keys
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.api import CheckoutIn, CreatedCheckoutOut
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.service import CheckoutService
from cloudtill.clock import iso
from cloudtill.errors import TransientError
from cloudtill.order_workflow.checkout_link import CheckoutLink, NoNewPayments
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.lifecycle import PAID_CHECKOUT_GRACE, OrderLifecycle
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.records import PaymentRecord
from cloudtill.payments.stripe_objects import Event
from cloudtill.payments.webhooks import WebhookProcessor
from cloudtill.settings import ShopSettings
from cloudtill.stock.api import MovementIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FakePaymentGateway, FakePaymentStarter, FixedClock
from tests.unit import moto_table
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)

TABLE = moto_table.TABLE
TTL = 900
ADDRESS = {"name": "A", "line1": "1 St", "city": "Dublin", "postal_code": "D01", "country": "IE"}


class DeadWorkflow:
    """The Step Functions port of an execution that is gone: every token is stale."""

    def __init__(self) -> None:
        self.resumed: list[tuple[str, dict[str, Any]]] = []

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        return True

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        self.resumed.append((token, output))
        return False


@dataclass
class Shop:
    clock: FixedClock
    gateway: FakePaymentGateway = field(default_factory=FakePaymentGateway)
    workflow: DeadWorkflow = field(default_factory=DeadWorkflow)

    @property
    def client(self) -> Any:
        return ddb.client()

    def product(self, sku: str, units: int = 10) -> None:
        CatalogService(DynamoProductRepository(TABLE), self.clock, "EUR").create_product(
            ProductIn(name="Tee", category="tees", variants=[{"sku": sku, "name": sku, "price": 1000}])
        )
        StockService(DynamoStockRepository(TABLE), self.clock).record_movement(
            sku, MovementIn(type="receive", quantity=units, unit_cost=400, reason="initial")
        )

    def checkouts(self) -> CheckoutService:
        return CheckoutService(
            DynamoCheckoutRepository(TABLE), self.clock, ShopSettings(), TTL, NoNewPayments()
        )

    def checkout(self, sku: str, quantity: int = 1) -> CreatedCheckoutOut:
        service = CheckoutService(
            DynamoCheckoutRepository(TABLE), self.clock, ShopSettings(), TTL, FakePaymentStarter()
        )
        body = CheckoutIn.model_validate(
            {
                "email": "a@example.com",
                "lines": [{"sku": sku, "quantity": quantity}],
                "shipping_address": ADDRESS,
            }
        )
        created = service.create_checkout(body, "tok")
        assert created.payment is not None
        at = iso(self.clock.now())
        DynamoPaymentStore(TABLE).create(
            PaymentRecord(created.payment.payment_intent_id, created.id, created.total, "EUR", at, at)
        )
        return created

    def lifecycle(self) -> OrderLifecycle:
        repository = DynamoCheckoutRepository(TABLE)
        return OrderLifecycle(
            DynamoOrderWorkflowStore(TABLE),
            CheckoutLink(repository, self.checkouts(), self.clock),
            DynamoPaymentStore(TABLE),
            self.gateway,
            self.workflow,
            self.clock,
        )

    def store_token(self, checkout_id: str, token: str = "stale-token") -> None:
        DynamoOrderWorkflowStore(TABLE).store_payment_token(checkout_id, token)

    def pay(self, created: CreatedCheckoutOut) -> None:
        """Stripe's `payment_intent.succeeded`, through the webhook processor and its follow-up."""
        assert created.payment is not None
        event = Event.model_validate(
            {
                "id": f"evt_{created.id}",
                "type": "payment_intent.succeeded",
                "created": int(self.clock.now().timestamp()),
                "data": {
                    "object": {
                        "id": created.payment.payment_intent_id,
                        "object": "payment_intent",
                        "amount": created.total,
                        "amount_received": created.total,
                        "currency": "eur",
                        "status": "succeeded",
                    }
                },
            }
        )
        WebhookProcessor(DynamoPaymentStore(TABLE), self.clock, listener=self.lifecycle()).process(event)

    def status(self, checkout_id: str) -> str:
        record = DynamoCheckoutRepository(TABLE).get(checkout_id)
        assert record is not None
        return record.status

    def sku(self, sku: str) -> dict[str, Any]:
        item = self.client.get_item(TableName=TABLE, Key=ddb.key(*keys.sku(sku)), ConsistentRead=True)["Item"]
        return ddb.from_item(item)

    def events(self, detail_type: str, checkout_id: str) -> list[dict[str, Any]]:
        found = []
        for raw in self.client.scan(TableName=TABLE)["Items"]:
            item = ddb.from_item(raw)
            if item.get("entity") != "outbox" or item["detail_type"] != detail_type:
                continue
            if item["detail"].get("checkout_id") == checkout_id:
                found.append(item["detail"])
        return found

    def refunds_of(self, created: CreatedCheckoutOut) -> list[dict[str, object]]:
        assert created.payment is not None
        return [
            r for r in self.gateway.refunds if r["payment_intent_id"] == created.payment.payment_intent_id
        ]

    def fail(
        self,
        monkeypatch: pytest.MonkeyPatch,
        operation: str,
        error: Callable[[dict[str, Any]], Exception],
        times: int,
    ) -> list[int]:
        """Make the next `times` calls of `operation` raise `error(kwargs)` (-1: every call)."""
        real = getattr(self.client, operation)
        left = [times]

        def failing(**kwargs: Any) -> Any:
            if left[0] != 0:
                left[0] -= 1
                raise error(kwargs)
            return real(**kwargs)

        monkeypatch.setattr(self.client, operation, failing)
        return left


def conflict(kwargs: dict[str, Any]) -> ClientError:
    """What DynamoDB answers while another transaction holds one of the items (the hot SKU)."""
    reasons = [{"Code": "None"}] * len(kwargs["TransactItems"])
    reasons[-1] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": reasons,
        },
        "TransactWriteItems",
    )


def throttled(_: dict[str, Any]) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "GetItem"
    )


@pytest.fixture
def shop(main_table: str) -> Shop:  # noqa: F811
    return Shop(FixedClock())


# -- DynamoDB's transient answers are the state machine's TransientError ---------------------------


@pytest.mark.parametrize(
    "error",
    [
        conflict({"TransactItems": [{}, {}, {}]}),
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem"),
        ClientError({"Error": {"Code": "ThrottlingException"}}, "Query"),
        ClientError({"Error": {"Code": "RequestLimitExceeded"}}, "UpdateItem"),
        ClientError({"Error": {"Code": "InternalServerError"}}, "GetItem"),
        ClientError({"Error": {"Code": "TransactionConflictException"}}, "UpdateItem"),
        ClientError(
            {"Error": {"Code": "ServiceUnavailable"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetItem"
        ),
        ClientError(
            {
                "Error": {"Code": "TransactionCanceledException"},
                "CancellationReasons": [{"Code": "None"}, {"Code": "ThrottlingError"}],
            },
            "TransactWriteItems",
        ),
        ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
        EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
    ],
)
def test_transient_dynamodb_errors_are_recognised(error: Exception) -> None:
    assert ddb.is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem"),
        ClientError({"Error": {"Code": "ValidationException"}}, "TransactWriteItems"),
        ClientError(
            {
                "Error": {"Code": "TransactionCanceledException"},
                "CancellationReasons": [{"Code": "ConditionalCheckFailed"}, {"Code": "TransactionConflict"}],
            },
            "TransactWriteItems",
        ),
        ValueError("a bug"),
    ],
)
def test_answers_a_retry_cannot_change_are_not_transient(error: Exception) -> None:
    assert not ddb.is_transient(error)


def test_a_release_conflict_is_retried_and_then_cancels_the_payment_intent(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a checkout on a hot SKU whose payment wait timed out
    shop.product("HOT")
    created = shop.checkout("HOT")
    shop.clock.advance(TTL + 1)
    shop.fail(monkeypatch, "transact_write_items", conflict, times=1)
    # When ExpireCheckout's release meets a TransactionConflict
    with pytest.raises(TransientError) as raised:
        shop.lifecycle().run("expire_checkout", {"checkout_id": created.id})
    # Then it fails with the error the state machine retries, and the retry does the whole job
    assert type(raised.value).__name__ == "TransientError"
    assert shop.lifecycle().run("expire_checkout", {"checkout_id": created.id}) == {"outcome": "cancelled"}
    assert created.payment is not None
    assert shop.gateway.canceled == [created.payment.payment_intent_id]
    assert shop.status(created.id) == "expired"
    assert shop.sku("HOT")["reserved"] == 0


# -- the orphan payment: a payment no workflow will ever see ---------------------------------------


def test_payment_after_failed_compensation_is_refunded_once_and_never_expired(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given AwaitPayment stored its token and timed out, and ExpireCheckout kept meeting conflicts
    # until the state machine gave up (CompensationFailed): the checkout still awaits payment
    shop.product("HOT2")
    created = shop.checkout("HOT2")
    shop.store_token(created.id)
    shop.clock.advance(TTL + 1)
    left = shop.fail(monkeypatch, "transact_write_items", conflict, times=-1)
    for _ in range(7):
        with pytest.raises(TransientError):
            shop.lifecycle().expire_checkout(created.id)
    left[0] = 0
    assert shop.status(created.id) == "awaiting_payment"
    # When the shopper pays anyway (the webhook finds a dead token) and the expiry sweep runs
    shop.pay(created)
    sweep = shop.checkouts().release_expired()
    # Then the paid checkout is not expired as if unpaid, and nobody is told it expired
    assert sweep.expired == 0
    assert shop.status(created.id) == "awaiting_payment"
    assert shop.events("CheckoutExpired", created.id) == []
    # When the paid-checkout sweep runs once the workflow's grace is over, twice
    shop.clock.advance(PAID_CHECKOUT_GRACE.total_seconds() + 1)
    first = shop.lifecycle().run("settle_paid_checkouts", {})
    second = shop.lifecycle().run("settle_paid_checkouts", {})
    # Then the payment is refunded exactly once, in full, and the stock is given back as cancelled
    assert first["refunded"] == 1
    assert second["refunded"] == 0
    refunds = shop.refunds_of(created)
    assert [r["amount"] for r in refunds] == [created.total]
    assert shop.status(created.id) == "cancelled"
    assert [e["reason"] for e in shop.events("StockReleased", created.id)] == ["cancelled"]
    assert shop.events("CheckoutExpired", created.id) == []
    assert (shop.sku("HOT2")["reserved"], shop.sku("HOT2")["available"]) == (0, 10)


def test_payment_when_await_payment_failed_before_storing_its_token_is_refunded(shop: Shop) -> None:
    # Given a checkout whose AwaitPayment never stored a token (its workflow failed first)
    shop.product("MUG")
    created = shop.checkout("MUG")
    # When the shopper pays, the reservation time passes and both sweeps run
    shop.pay(created)
    shop.clock.advance(TTL + 1)
    assert shop.checkouts().release_expired().expired == 0
    shop.clock.advance(PAID_CHECKOUT_GRACE.total_seconds())
    result = shop.lifecycle().run("settle_paid_checkouts", {})
    # Then it is refunded once, and the checkout ends cancelled (not expired)
    assert result["refunded"] == 1
    assert [r["amount"] for r in shop.refunds_of(created)] == [created.total]
    assert shop.status(created.id) == "cancelled"
    assert shop.events("CheckoutExpired", created.id) == []


def test_paid_checkout_sweep_leaves_confirmed_orders_alone(shop: Shop) -> None:
    # Given a paid checkout that the workflow confirmed into an order
    shop.product("MUG")
    created = shop.checkout("MUG")
    shop.pay(created)
    confirmed = shop.lifecycle().confirm_order(created.id)
    assert confirmed["outcome"] == "confirmed"
    # When the sweep runs after the grace
    shop.clock.advance(PAID_CHECKOUT_GRACE.total_seconds() + 1)
    result = shop.lifecycle().run("settle_paid_checkouts", {})
    # Then nothing is refunded and the order stands
    assert result["refunded"] == 0
    assert shop.gateway.refunds == []
    assert shop.status(created.id) == "completed"


def test_sweep_racing_a_late_confirmation_refunds_once_and_confirms_nothing(shop: Shop) -> None:
    # Given a paid checkout whose workflow is slow: the sweep settles it first
    shop.product("MUG")
    created = shop.checkout("MUG")
    shop.pay(created)
    shop.clock.advance(PAID_CHECKOUT_GRACE.total_seconds() + 1)
    assert shop.lifecycle().run("settle_paid_checkouts", {})["refunded"] == 1
    # When ConfirmOrder then runs (and AbandonCheckout after it)
    outcome = shop.lifecycle().confirm_order(created.id)
    abandoned = shop.lifecycle().abandon_checkout(created.id, "confirmation_failed")
    # Then no order is made and the payment is refunded once
    assert outcome == {"outcome": "refunded", "order_id": None}
    assert abandoned["outcome"] == "refunded"
    assert len(shop.refunds_of(created)) == 1
    assert shop.sku("MUG")["on_hand"] == 10


def test_expire_checkout_of_a_checkout_paid_after_the_wait_timed_out_refunds_it(shop: Shop) -> None:
    # Given the wait timed out and the payment landed before ExpireCheckout ran
    shop.product("MUG")
    created = shop.checkout("MUG")
    shop.store_token(created.id)
    shop.clock.advance(TTL + 1)
    shop.pay(created)
    # When ExpireCheckout runs (twice: a retry)
    first = shop.lifecycle().run("expire_checkout", {"checkout_id": created.id})
    again = shop.lifecycle().run("expire_checkout", {"checkout_id": created.id})
    # Then the checkout is cancelled, not expired, and refunded once
    assert first == again == {"outcome": "refunded"}
    assert shop.status(created.id) == "cancelled"
    assert len(shop.refunds_of(created)) == 1
    assert shop.events("CheckoutExpired", created.id) == []
    assert [e["reason"] for e in shop.events("StockReleased", created.id)] == ["cancelled"]


# -- ConfirmOrder: a transient failure is never a permanent one ------------------------------------


def test_confirm_timing_out_after_its_commit_is_retried_and_finds_the_order(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a paid checkout, and a confirmation transaction that commits but whose answer is lost
    shop.product("MUG")
    created = shop.checkout("MUG")
    shop.pay(created)
    real = shop.client.transact_write_items

    def commit_then_time_out(**kwargs: Any) -> Any:
        monkeypatch.setattr(shop.client, "transact_write_items", real)
        real(**kwargs)
        raise ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

    monkeypatch.setattr(shop.client, "transact_write_items", commit_then_time_out)
    # When ConfirmOrder runs: it fails transiently; the state machine retries it
    with pytest.raises(TransientError):
        shop.lifecycle().run("confirm_order", {"checkout_id": created.id, "payment": None})
    retried = shop.lifecycle().run("confirm_order", {"checkout_id": created.id, "payment": None})
    # Then the retry finds the committed order and goes on; nothing is refunded
    assert retried["outcome"] == "confirmed"
    assert retried["order_id"]
    assert shop.gateway.refunds == []
    # And a compensation reached anyway (retries exhausted) reports the order, so the workflow goes on
    abandoned = shop.lifecycle().run(
        "abandon_checkout", {"checkout_id": created.id, "reason": "confirmation_failed"}
    )
    assert abandoned == {"outcome": "completed", "order_id": retried["order_id"]}
    assert shop.gateway.refunds == []


def test_confirm_with_a_throttled_payment_read_is_transient_not_a_refund(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a paid checkout, and the payment record's read throttled
    shop.product("MUG")
    created = shop.checkout("MUG")
    shop.pay(created)
    shop.fail(monkeypatch, "get_item", throttled, times=1)
    # When ConfirmOrder reads the payment record, Then it fails transiently (retried), not for good
    with pytest.raises(TransientError):
        shop.lifecycle().confirm_order(created.id, None)
    assert shop.lifecycle().confirm_order(created.id, None)["outcome"] == "confirmed"
    assert shop.gateway.refunds == []


# -- the expiry sweep: one bad checkout does not stop the others -----------------------------------


def test_expiry_sweep_isolates_a_failing_checkout(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two expired checkouts, and the first release refused for a reason no retry fixes
    shop.product("MUG")
    first, second = shop.checkout("MUG"), shop.checkout("MUG")
    shop.clock.advance(TTL + 1)

    def invalid(_: dict[str, Any]) -> ClientError:
        return ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "TransactWriteItems")

    shop.fail(monkeypatch, "transact_write_items", invalid, times=1)
    # When the sweep runs
    result = shop.checkouts().release_expired()
    # Then the other checkout is expired all the same and the failure is counted
    assert (result.expired, result.failed) == (1, 1)
    assert sorted([shop.status(first.id), shop.status(second.id)]) == ["awaiting_payment", "expired"]
    # And the next run finishes it
    assert shop.checkouts().release_expired().expired == 1


def test_grace_outlasts_the_workflow_retries() -> None:
    # ConfirmOrder then AbandonCheckout at their worst (retries and 30 s Lambda timeouts) end sooner.
    assert timedelta(minutes=10) <= PAID_CHECKOUT_GRACE
