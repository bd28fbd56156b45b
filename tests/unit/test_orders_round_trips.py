"""How many DynamoDB round trips each step of the order lifecycle costs, and why fewer is still safe.

`Repo` is an in-memory `OrderRepository` with the DynamoDB semantics these steps rely on: the order
item carries the waiting task's token, storing a token bumps the order's `version` and returns the
item as written, every order write is conditioned on the version read. It counts one call per round
trip, so a step that starts reading more shows up here. The interleaving tests replay the two orders
in which a waiting task and an admin write can meet (docs/orders.md "Waiting by task token").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from cloudtill.checkout.records import CheckoutLineRecord, CheckoutRecord
from cloudtill.order_workflow.contracts import payment_outcome
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.orders import rules
from cloudtill.orders.api import FulfilmentIn
from cloudtill.orders.ports import CheckoutClosed, OrderWrite, StaleOrder
from cloudtill.orders.records import OrderRecord, OrderView, TimelineEntry
from cloudtill.orders.service import OrderService
from cloudtill.payments.records import PaymentRecord
from cloudtill.payments.stripe_objects import Event
from cloudtill.payments.webhooks import WebhookProcessor
from cloudtill.stock.fifo import CostLayer, FifoStock
from cloudtill.stock.rules import StockState

from tests.fakes import FakePaymentGateway, FixedClock, InMemoryPaymentStore

AT = "2026-11-23T12:00:00.000Z"
CHECKOUT = "chk_" + "a" * 32
ORDER = rules.order_id_for(CHECKOUT)
PI = "pi_1"


def checkout_record() -> CheckoutRecord:
    lines = (CheckoutLineRecord("A", "Tee", 2, 1000, 2000, 0, 0, False),)
    return CheckoutRecord(
        id=CHECKOUT, token_hash="h", status="awaiting_payment", email="s@example.com",
        email_hash="e", phone=None, marketing_consent=False, lines=lines, currency="EUR",
        subtotal=2000, discount=0, shipping=0, tax=0, total=2000, prices_include_tax=True,
        tax_rate_bps=0, shipping_method="standard", shipping_address={"country": "IE"}, redemption=None,
        created_at=AT, updated_at=AT, expires_at=AT, payment={"payment_intent_id": PI}, reserved={"A": 2},
    )  # fmt: skip


def stock_a() -> StockState:
    return StockState("A", 10, 2, 0, 0, False, FifoStock((CostLayer(1, 10, 400),), 0, 2), 1)


class Repo:
    """In-memory `OrderRepository`; `calls` counts round trips by operation."""

    def __init__(self) -> None:
        self.orders: dict[str, tuple[OrderRecord, str | None]] = {}
        self.checkouts: dict[str, tuple[CheckoutRecord, str | None]] = {}
        self.stock_states: dict[str, StockState] = {"A": stock_a()}
        self.calls: Counter[str] = Counter()
        # Runs right before a write is applied: another actor's step, for the interleaving tests.
        self.before_write: Callable[[], None] | None = None

    def get(self, order_id: str) -> OrderView | None:
        self.calls["Query"] += 1
        return self._view(order_id)

    def get_order(self, order_id: str) -> OrderView | None:
        self.calls["GetItem"] += 1
        return self._view(order_id)

    def _view(self, order_id: str) -> OrderView | None:
        if order_id not in self.orders:
            return None
        order, token = self.orders[order_id]
        return OrderView(order, task_token=token)

    def list_by_status(
        self, status: str, date: str | None, limit: int, cursor: str | None
    ) -> tuple[list[OrderRecord], str | None]:
        raise NotImplementedError

    def write(self, change: OrderWrite) -> None:
        self.calls["TransactWriteItems"] += 1
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()
        order = change.order
        if change.checkout is not None:
            stored, _ = self.checkouts[change.checkout.id]
            if stored.status != "awaiting_payment":
                raise CheckoutClosed(change.checkout.id)
            self.checkouts[stored.id] = (replace(stored, status="completed", order_id=order.id), None)
        if change.expected_version is None:
            if order.id in self.orders:
                raise StaleOrder(order.id)
            self.orders[order.id] = (order, None)
            return
        stored_order, token = self.orders[order.id]
        if stored_order.version != change.expected_version:
            raise StaleOrder(order.id)
        self.orders[order.id] = (order, token)  # an Update: the token attribute survives

    def stock(self, sku: str) -> StockState | None:
        self.calls["GetItem"] += 1
        return self.stock_states.get(sku)

    def checkout_and_stock(
        self, checkout_id: str, skus: Sequence[str]
    ) -> tuple[CheckoutRecord | None, dict[str, StockState]]:
        self.calls["BatchGetItem"] += 1
        found = self.checkouts.get(checkout_id)
        return (found[0] if found else None), {
            s: self.stock_states[s] for s in skus if s in self.stock_states
        }

    def advance(self, order_id: str, step: rules.StatusStep) -> str | None:
        self.calls["UpdateItem"] += 1
        if order_id not in self.orders:
            return None
        order, token = self.orders[order_id]
        if order.status == step.from_status and not order.cancel_requested:
            entry = TimelineEntry(step.at, step.event)
            moved = replace(
                order, status=step.to_status, updated_at=step.at,
                timeline=(*order.timeline, entry), version=order.version + 1,
            )  # fmt: skip
            self.orders[order_id] = (moved, token)
        return self.orders[order_id][0].status

    def store_payment_token(self, checkout_id: str, token: str) -> CheckoutRecord | None:
        self.calls["UpdateItem"] += 1
        if checkout_id not in self.checkouts:
            return None
        checkout = self.checkouts[checkout_id][0]
        self.checkouts[checkout_id] = (checkout, token)
        return checkout

    def checkout_with_token(self, checkout_id: str) -> tuple[CheckoutRecord, str | None] | None:
        self.calls["GetItem"] += 1
        return self.checkouts.get(checkout_id)

    def store_order_token(self, order_id: str, token: str) -> OrderRecord | None:
        self.calls["UpdateItem"] += 1
        if order_id not in self.orders:
            return None
        order = replace(self.orders[order_id][0], version=self.orders[order_id][0].version + 1)
        self.orders[order_id] = (order, token)
        return order

    def claim_refund(self, owner: tuple[str, str], claim: str) -> bool:
        raise NotImplementedError

    def settle_refund_claim(self, owner: tuple[str, str], claim: str, refund_id: str | None) -> None:
        raise NotImplementedError

    def mark(self, owner: tuple[str, str], flag: str, at: str) -> bool:
        raise NotImplementedError

    def is_marked(self, owner: tuple[str, str], flag: str) -> bool:
        raise NotImplementedError


class Workflow:
    """Tokens that are waiting; resuming one completes it (a second resume is stale: False)."""

    def __init__(self) -> None:
        self.waiting: set[str] = set()
        self.resumed: list[tuple[str, dict[str, Any]]] = []

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        if task_token not in self.waiting:
            return False
        self.waiting.discard(task_token)
        self.resumed.append((task_token, output))
        return True


class Checkouts:
    def __init__(self, repo: Repo) -> None:
        self._repo = repo

    def get(self, checkout_id: str) -> CheckoutRecord | None:
        found = self._repo.checkouts.get(checkout_id)
        return found[0] if found else None

    def expire(self, checkout_id: str) -> bool:
        raise NotImplementedError

    def cancel(self, checkout_id: str) -> bool:
        raise NotImplementedError


class CountingPayments(InMemoryPaymentStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def get(self, payment_intent_id: str) -> PaymentRecord | None:
        self.calls["GetItem"] += 1
        return super().get(payment_intent_id)

    def is_processed(self, event_id: str) -> bool:
        self.calls["GetItem"] += 1
        return super().is_processed(event_id)

    def lookup(self, event_id: str, payment_intent_id: str | None) -> tuple[bool, PaymentRecord | None]:
        self.calls["BatchGetItem"] += 1
        return event_id in self.processed, self.records.get(payment_intent_id or "")

    def commit(self, effect: Any) -> bool:
        self.calls["TransactWriteItems"] += 1
        return super().commit(effect)


def paid_record() -> PaymentRecord:
    return PaymentRecord(
        payment_intent_id=PI, checkout_id=CHECKOUT, amount=2000, currency="EUR", created_at=AT,
        updated_at=AT, status="succeeded", amount_received=2000, currency_received="EUR",
    )  # fmt: skip


@pytest.fixture
def repo() -> Repo:
    r = Repo()
    r.checkouts[CHECKOUT] = (checkout_record(), None)
    return r


@pytest.fixture
def payments() -> CountingPayments:
    return CountingPayments()


@pytest.fixture
def workflow() -> Workflow:
    return Workflow()


@pytest.fixture
def lifecycle(repo: Repo, payments: CountingPayments, workflow: Workflow) -> OrderLifecycle:
    return OrderLifecycle(repo, Checkouts(repo), payments, FakePaymentGateway(), workflow, FixedClock())


@pytest.fixture
def service(repo: Repo, payments: CountingPayments, workflow: Workflow) -> OrderService:
    return OrderService(repo, payments, FakePaymentGateway(), workflow, FixedClock())


def confirmed(repo: Repo) -> OrderRecord:
    order = rules.order_from_checkout(checkout_record(), PI, {"A": 400}, AT)
    repo.orders[order.id] = (order, None)
    return order


# -- round trips per step -------------------------------------------------------------------------


def test_await_payment_stores_its_token_and_reads_only_the_payment(
    repo: Repo, payments: CountingPayments, lifecycle: OrderLifecycle
) -> None:
    assert lifecycle.await_payment(CHECKOUT, "t-pay") == {"waiting": True}
    assert repo.calls == {"UpdateItem": 1} and payments.calls == {"GetItem": 1}


def test_the_webhooks_follow_up_reads_the_checkout_once(
    repo: Repo, payments: CountingPayments, workflow: Workflow, lifecycle: OrderLifecycle
) -> None:
    lifecycle.await_payment(CHECKOUT, "t-pay")
    workflow.waiting.add("t-pay")
    repo.calls.clear()
    payments.calls.clear()
    assert lifecycle.payment_succeeded(paid_record()) == "resumed"
    assert repo.calls == {"GetItem": 1} and payments.calls == {}
    assert workflow.resumed == [("t-pay", payment_outcome(paid_record(), checkout_record()))]


def test_confirm_reads_checkout_and_stock_in_one_batch_and_never_the_payment(
    repo: Repo, payments: CountingPayments, lifecycle: OrderLifecycle
) -> None:
    paid = payment_outcome(paid_record(), checkout_record())
    assert lifecycle.confirm_order(CHECKOUT, paid) == {"outcome": "confirmed", "order_id": ORDER}
    assert repo.calls == {"BatchGetItem": 1, "TransactWriteItems": 1} and payments.calls == {}


def test_confirm_without_the_payment_in_its_input_reads_it(
    repo: Repo, payments: CountingPayments, lifecycle: OrderLifecycle
) -> None:
    # An execution started before the state machine passed the payment along.
    payments.records[PI] = paid_record()
    assert lifecycle.confirm_order(CHECKOUT, None)["outcome"] == "confirmed"
    assert payments.calls == {"GetItem": 1}
    assert repo.calls == {"BatchGetItem": 1, "GetItem": 1, "TransactWriteItems": 1}  # + the SKU


def test_confirm_refuses_a_payment_input_of_another_intent_without_a_good_record(
    repo: Repo, lifecycle: OrderLifecycle
) -> None:
    other = {**payment_outcome(paid_record(), checkout_record()), "payment_intent_id": "pi_other"}
    with pytest.raises(ValueError, match="no good payment"):
        lifecycle.confirm_order(CHECKOUT, other)
    assert ORDER not in repo.orders


def test_await_order_decides_from_its_token_write_alone(repo: Repo, lifecycle: OrderLifecycle) -> None:
    confirmed(repo)
    assert lifecycle.await_order(ORDER, "t-ful", "fulfilment", 0) == {"waiting": True}
    assert repo.calls == {"UpdateItem": 1}


def test_fulfil_route_reads_the_order_item_once_and_takes_the_token_from_that_read(
    repo: Repo, workflow: Workflow, lifecycle: OrderLifecycle, service: OrderService
) -> None:
    confirmed(repo)
    lifecycle.await_order(ORDER, "t-ful", "fulfilment", 0)
    workflow.waiting.add("t-ful")
    repo.calls.clear()
    service.fulfil(ORDER, FulfilmentIn(carrier="an_post", tracking_number="T1"))
    assert repo.calls == {"GetItem": 1, "TransactWriteItems": 1}
    assert [t for t, _ in workflow.resumed] == ["t-ful"]


def test_deliver_route_answers_from_its_one_read(
    repo: Repo, payments: CountingPayments, workflow: Workflow, service: OrderService
) -> None:
    order = confirmed(repo)
    shipped, _ = rules.ship(order, "an_post", "T1", None, AT)
    repo.orders[ORDER] = (shipped, "t-del")
    workflow.waiting.add("t-del")
    payments.records[PI] = paid_record()
    out = service.deliver(ORDER)
    assert out.status == "delivered" and out.payment_status == "paid"
    assert repo.calls == {"Query": 1, "TransactWriteItems": 1} and payments.calls == {"GetItem": 1}
    assert workflow.resumed[0][1]["status"] == "delivered"


def test_complete_order_is_one_conditional_update_and_safe_to_retry(
    repo: Repo, lifecycle: OrderLifecycle
) -> None:
    order = confirmed(repo)
    shipped, _ = rules.ship(order, "an_post", "T1", None, AT)
    repo.orders[ORDER] = (rules.deliver(shipped, AT), None)
    assert lifecycle.complete_order(ORDER) == {"outcome": "completed"}
    assert lifecycle.complete_order(ORDER) == {"outcome": "completed"}  # a retry after success
    assert repo.calls == {"UpdateItem": 2}
    done = repo.orders[ORDER][0]
    assert done.status == "completed" and [e.event for e in done.timeline][-1] == "completed"
    assert len([e for e in done.timeline if e.event == "completed"]) == 1


def test_complete_order_refuses_an_order_that_is_not_delivered(repo: Repo, lifecycle: OrderLifecycle) -> None:
    confirmed(repo)
    with pytest.raises(rules.OrderStateConflict):
        lifecycle.complete_order(ORDER)


def test_the_succeeded_webhook_reads_once_and_commits_once(payments: CountingPayments) -> None:
    payments.records[PI] = replace(paid_record(), status="awaiting_payment", amount_received=None)
    heard: list[PaymentRecord] = []

    class Listener:
        def payment_succeeded(self, record: PaymentRecord) -> str:
            heard.append(record)
            return "resumed"

    processor = WebhookProcessor(payments, FixedClock(), Listener())
    obj = {"id": PI, "object": "payment_intent", "amount": 2000, "currency": "eur", "status": "succeeded"}
    event = Event.model_validate(
        {"id": "evt_1", "type": "payment_intent.succeeded", "created": 1000, "data": {"object": obj}}
    )
    assert processor.process(event).result == "applied"
    assert payments.calls == {"BatchGetItem": 1, "TransactWriteItems": 1}
    assert [r.status for r in heard] == ["succeeded"] and heard[0] == payments.records[PI]
    payments.calls.clear()
    assert processor.process(event).result == "duplicate"  # the redelivery still follows up
    assert payments.calls == {"BatchGetItem": 1} and len(heard) == 2


# -- the token hand-over, in both orders ----------------------------------------------------------


def test_token_stored_between_the_writers_read_and_its_write_is_still_resumed(
    repo: Repo, workflow: Workflow, lifecycle: OrderLifecycle, service: OrderService
) -> None:
    confirmed(repo)

    def await_fulfilment_runs_now() -> None:
        # AwaitFulfilment stores its token after the route read the order (no token then) and
        # before the route's write: it sees nothing shipped yet and waits.
        workflow.waiting.add("t-ful")
        assert lifecycle.await_order(ORDER, "t-ful", "fulfilment", 0) == {"waiting": True}

    repo.before_write = await_fulfilment_runs_now
    service.fulfil(ORDER, FulfilmentIn(carrier="an_post", tracking_number="T1"))
    # The token write bumped the version: the route's first write failed, it read again (token
    # included), wrote, and resumed the task exactly once.
    assert repo.calls["TransactWriteItems"] == 2 and repo.calls["GetItem"] == 2
    assert [t for t, _ in workflow.resumed] == ["t-ful"] and workflow.waiting == set()
    assert workflow.resumed[0][1]["status"] == "shipped"


def test_token_stored_after_the_write_sees_the_change_and_resumes_itself(
    repo: Repo, workflow: Workflow, lifecycle: OrderLifecycle, service: OrderService
) -> None:
    confirmed(repo)
    service.fulfil(ORDER, FulfilmentIn(carrier="an_post", tracking_number="T1"))
    assert workflow.resumed == []  # nobody was waiting yet
    workflow.waiting.add("t-ful")  # the task is running: its token is live
    assert lifecycle.await_order(ORDER, "t-ful", "fulfilment", 0) == {"waiting": False}
    assert [(t, o["status"]) for t, o in workflow.resumed] == [("t-ful", "shipped")]


def test_token_stored_before_the_writers_read_is_taken_from_that_read(
    repo: Repo, workflow: Workflow, lifecycle: OrderLifecycle, service: OrderService
) -> None:
    confirmed(repo)
    lifecycle.await_order(ORDER, "t-ful", "fulfilment", 0)
    workflow.waiting.add("t-ful")
    service.fulfil(ORDER, FulfilmentIn(carrier="an_post", tracking_number="T1"))
    assert [t for t, _ in workflow.resumed] == ["t-ful"]
