"""An order holding two lines of one SKU, through the real DynamoDB adapters (in-process moto): the
cancellation restocks every unit, "ship everything" ships every unit, returns refund what each unit
was paid. Checkouts merge lines per SKU, so only older or hand-made orders look like this; every
per-SKU map in the orders domain must still sum the SKU's lines."""

from __future__ import annotations

from typing import Any

from cloudtill import ddb, keys
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.records import CheckoutLineRecord, CheckoutRecord
from cloudtill.checkout.service import CheckoutService
from cloudtill.clock import iso
from cloudtill.order_workflow.checkout_link import CheckoutLink, NoNewPayments
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.orders.api import FulfilmentIn, ReturnIn
from cloudtill.orders.service import OrderService
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.settings import ShopSettings
from cloudtill.stock.api import MovementIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FakePaymentGateway, FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)

SKU = "DUP-A"
PI = "pi_dup"


class NoWorkflow:
    def start(self, name: str, payload: dict[str, Any]) -> bool:
        return True

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        return False


def on_hand(table: str) -> int:
    item = ddb.client().get_item(TableName=table, Key=ddb.key(*keys.sku(SKU)), ConsistentRead=True)
    return int(ddb.from_item(item["Item"])["on_hand"])


def outbox(table: str, detail_type: str) -> list[dict[str, Any]]:
    items = [ddb.from_item(i) for i in ddb.client().scan(TableName=table)["Items"]]
    return [i["detail"] for i in items if i.get("entity") == "outbox" and i["detail_type"] == detail_type]


def paid_order_with_two_lines_of_one_sku(table: str, clock: FixedClock, n: int) -> str:
    """A paid checkout for 1 + 2 units of one SKU on two lines (1000 each), confirmed as an order."""
    checkout_id = f"chk_{n:032d}"
    at = iso(clock.now())
    lines = (
        CheckoutLineRecord(SKU, "Tee", 1, 1000, 1000, 0, 0, False),
        CheckoutLineRecord(SKU, "Tee", 2, 1000, 2000, 0, 0, False),
    )
    record = CheckoutRecord(
        id=checkout_id, token_hash="h", status="awaiting_payment", email="s@example.com",
        email_hash="e", phone=None, marketing_consent=False, lines=lines, currency="EUR",
        subtotal=3000, discount=0, shipping=0, tax=0, total=3000, prices_include_tax=True,
        tax_rate_bps=0, shipping_method="standard", shipping_address={"country": "IE"}, redemption=None,
        created_at=at, updated_at=at, expires_at=iso(clock.now().replace(hour=23)),
        payment={"payment_intent_id": PI + str(n)}, reserved={SKU: 3},
    )  # fmt: skip
    checkouts = DynamoCheckoutRepository(table)
    checkouts.create(record, [])
    service = CheckoutService(checkouts, clock, ShopSettings(), 900, NoNewPayments())
    lifecycle = OrderLifecycle(
        DynamoOrderWorkflowStore(table), CheckoutLink(checkouts, service, clock), DynamoPaymentStore(table),
        FakePaymentGateway(), NoWorkflow(), clock,
    )  # fmt: skip
    paid = {"outcome": "paid", "payment_intent_id": PI + str(n), "amount": 3000, "skus": [SKU]}
    outcome = lifecycle.confirm_order(checkout_id, paid)
    assert outcome["outcome"] == "confirmed"
    return str(outcome["order_id"])


def setup(table: str, clock: FixedClock) -> None:
    catalog = CatalogService(DynamoProductRepository(table), clock, "EUR")
    catalog.create_product(
        ProductIn(name="Tee", category="tees", variants=[{"sku": SKU, "name": "Tee", "price": 1000}])
    )
    StockService(DynamoStockRepository(table), clock).record_movement(
        SKU, MovementIn(type="receive", quantity=10, unit_cost=400, reason="initial")
    )


def test_cancelling_restocks_every_unit_of_every_line(main_table: str) -> None:  # noqa: F811
    clock = FixedClock()
    setup(main_table, clock)
    order_id = paid_order_with_two_lines_of_one_sku(main_table, clock, 1)
    assert on_hand(main_table) == 7
    gateway = FakePaymentGateway()
    orders = DynamoOrderWorkflowStore(main_table)
    admin = OrderService(orders, DynamoPaymentStore(main_table), gateway, NoWorkflow(), clock)
    admin.request_cancel(order_id)
    checkouts = DynamoCheckoutRepository(main_table)
    service = CheckoutService(checkouts, clock, ShopSettings(), 900, NoNewPayments())
    lifecycle = OrderLifecycle(
        orders, CheckoutLink(checkouts, service, clock), DynamoPaymentStore(main_table), gateway,
        NoWorkflow(), clock,
    )  # fmt: skip

    assert lifecycle.cancel_order(order_id) == {"outcome": "cancelled"}

    assert on_hand(main_table) == 10
    (cancelled,) = outbox(main_table, "OrderCancelled")
    assert cancelled["restocked"] == [{"sku": SKU, "quantity": 3, "unit_cost": 400}]


def test_shipping_everything_then_returning_refunds_what_each_unit_was_paid(main_table: str) -> None:  # noqa: F811
    clock = FixedClock()
    setup(main_table, clock)
    order_id = paid_order_with_two_lines_of_one_sku(main_table, clock, 2)
    orders = OrderService(
        DynamoOrderWorkflowStore(main_table), DynamoPaymentStore(main_table), FakePaymentGateway(),
        NoWorkflow(), clock,
    )  # fmt: skip

    fulfilment = orders.fulfil(order_id, FulfilmentIn(carrier="dhl", tracking_number="X1"))
    order = orders.get_for_admin(order_id)
    assert [(ln.sku, ln.quantity) for ln in fulfilment.lines] == [(SKU, 3)]
    assert order.status == "shipped" and [(ln.quantity, ln.shipped) for ln in order.lines] == [(1, 1), (2, 2)]

    two = orders.record_return(order_id, ReturnIn.model_validate(
        {"lines": [{"sku": SKU, "quantity": 2}], "restock": True, "refund": True}
    ))  # fmt: skip
    last = orders.record_return(order_id, ReturnIn.model_validate(
        {"lines": [{"sku": SKU, "quantity": 1}], "restock": True, "refund": True}
    ))  # fmt: skip
    assert (two.refund_amount, last.refund_amount) == (2000, 1000)
    assert orders.get_for_admin(order_id).refunded_amount == 3000
    assert on_hand(main_table) == 10
