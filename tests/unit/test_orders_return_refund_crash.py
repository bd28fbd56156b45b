"""A return's refund survives the function dying right after the return's write: the write itself
leaves the refund claimed and listed as pending, so the stuck-refund sweep requests it (once), and the
order's ledger equals what Stripe refunded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.orders.api import FulfilmentIn, ReturnIn
from cloudtill.orders.ports import OrderWrite
from cloudtill.orders.service import OrderService
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.refund_ledger import settle_stuck_refunds

from tests.fakes import FakePaymentGateway, FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_orders_same_sku_lines import NoWorkflow, paid_order_with_two_lines_of_one_sku, setup


class Crashed(Exception):
    """The Lambda runtime died: nothing after this point of the request ran."""


class CrashAfterReturnWrite(DynamoOrderWorkflowStore):
    def write(self, change: OrderWrite) -> None:
        super().write(change)
        if change.order_return is not None:
            raise Crashed


def test_a_crash_right_after_a_return_is_written_still_refunds_it_once(main_table: str) -> None:  # noqa: F811
    # Given a shipped order of 3 units at 1000 each
    clock = FixedClock()
    setup(main_table, clock)
    order_id = paid_order_with_two_lines_of_one_sku(main_table, clock, 1)
    gateway = FakePaymentGateway()
    payments = DynamoPaymentStore(main_table)
    OrderService(DynamoOrderWorkflowStore(main_table), payments, gateway, NoWorkflow(), clock).fulfil(
        order_id, FulfilmentIn(carrier="dhl", tracking_number="X1")
    )

    # When a return of one unit with refund is written and the function dies before anything else
    crashing = OrderService(CrashAfterReturnWrite(main_table), payments, gateway, NoWorkflow(), clock)
    with pytest.raises(Crashed):
        crashing.record_return(
            order_id,
            ReturnIn.model_validate(
                {"lines": [{"sku": "DUP-A", "quantity": 1}], "restock": True, "refund": True}
            ),
        )
    assert gateway.refunds == []

    # Then once the claim is stale the sweep refunds exactly that unit, once
    orders = DynamoOrderWorkflowStore(main_table)
    clock.advance(1)
    settle_stuck_refunds(orders, gateway, clock, stale_after=timedelta(0))
    settle_stuck_refunds(orders, gateway, clock, stale_after=timedelta(0))
    assert [r["amount"] for r in gateway.refunds] == [1000]
    admin = OrderService(orders, payments, gateway, NoWorkflow(), clock)
    assert admin.get_for_admin(order_id).refunded_amount == 1000
