"""What the orders domain's events tell the reports (docs/reporting.md "What the producers add"): the
FIFO cost the stock ledger took for each line (exact across two cost layers, split over a SKU's lines),
the unit cost restocked units go back at, and the refund's destination country and share of the tax."""

from __future__ import annotations

from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.orders.api import FulfilmentIn, ReturnIn
from cloudtill.orders.service import OrderService
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.stock.api import MovementIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FakePaymentGateway, FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_orders_same_sku_lines import (
    SKU,
    NoWorkflow,
    outbox,
    paid_order_with_two_lines_of_one_sku,
    setup,
)


def test_order_events_carry_fifo_costs_restock_costs_and_refunded_tax(main_table: str) -> None:  # noqa: F811
    # Given FIFO layers at two costs: 10 units at 400 (setup), then 10 at 600; 9 of the first sold
    clock = FixedClock()
    setup(main_table, clock)
    stock = StockService(DynamoStockRepository(main_table), clock)
    stock.record_movement(SKU, MovementIn(type="receive", quantity=10, unit_cost=600, reason="second"))
    stock.record_movement(SKU, MovementIn(type="adjust", quantity=-8, reason="shrinkage"))

    # When an order takes 3 units on two lines of the SKU (2 left at 400, then 1 at 600)
    order_id = paid_order_with_two_lines_of_one_sku(main_table, clock, 7)

    # Then the lines' costs add up to exactly what the ledger took: 2 x 400 + 600 = 1400
    (confirmed,) = outbox(main_table, "OrderConfirmed")
    assert [ln["cost_of_goods_sold"] for ln in confirmed["lines"]] == [466, 934]
    assert [ln["unit_cost"] for ln in confirmed["lines"]] == [466, 466]  # 1400 // 3
    assert confirmed["prices_include_tax"] is True

    # And a return that restocks names the unit cost the units go back at, the country and the tax
    orders = OrderService(
        DynamoOrderWorkflowStore(main_table), DynamoPaymentStore(main_table), FakePaymentGateway(),
        NoWorkflow(), clock,
    )  # fmt: skip
    orders.fulfil(order_id, FulfilmentIn(carrier="dhl", tracking_number="X1"))
    orders.record_return(order_id, ReturnIn.model_validate(
        {"lines": [{"sku": SKU, "quantity": 2}], "restock": True, "refund": True}
    ))  # fmt: skip
    (returned,) = outbox(main_table, "OrderReturned")
    assert returned["lines"] == [{"sku": SKU, "quantity": 2, "unit_cost": 466}]
    assert (returned["country"], returned["tax_refunded"]) == ("IE", 0)  # the order has no tax
