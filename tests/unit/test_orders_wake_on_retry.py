"""An admin change that committed and died before waking the workflow (the Lambda crashed between its
write and SendTaskSuccess) must not leave the order's execution waiting forever: the retry is refused
(the change is there already), and that refusal wakes the waiting task with what is stored."""

from __future__ import annotations

from typing import Any

import pytest
from cloudtill.errors import DomainError
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.orders.api import FulfilmentIn
from cloudtill.orders.service import OrderService
from cloudtill.payments.dynamo import DynamoPaymentStore

from tests.fakes import FakePaymentGateway, FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_orders_same_sku_lines import paid_order_with_two_lines_of_one_sku, setup


class CrashingOnceWorkflow:
    """The first resume dies (the function crashed after its write); later ones are recorded."""

    def __init__(self) -> None:
        self.crashed = False
        self.resumed: list[tuple[str, dict[str, Any]]] = []

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        return True

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("Runtime exited before SendTaskSuccess")
        self.resumed.append((token, output))
        return True


def test_a_refused_retry_of_a_committed_shipment_wakes_the_waiting_workflow(main_table: str) -> None:  # noqa: F811
    # Given a paid order whose AwaitFulfilment task stored its token
    clock = FixedClock()
    setup(main_table, clock)
    order_id = paid_order_with_two_lines_of_one_sku(main_table, clock, 1)
    orders = DynamoOrderWorkflowStore(main_table)
    assert orders.store_order_token(order_id, "token-1") is not None
    workflow = CrashingOnceWorkflow()
    service = OrderService(orders, DynamoPaymentStore(main_table), FakePaymentGateway(), workflow, clock)
    ship_all = FulfilmentIn(carrier="dhl", tracking_number="T1")

    # When shipping everything commits but the function dies before resuming the task
    with pytest.raises(RuntimeError):
        service.fulfil(order_id, ship_all)
    # And ops retries the same request: nothing is left to ship
    with pytest.raises(DomainError):
        service.fulfil(order_id, ship_all)

    # Then the refusal woke the waiting task with the order as stored: it goes on to AwaitDelivery
    shipped = {"status": "shipped", "fulfilments": 1, "cancel_requested": False}
    assert workflow.resumed == [("token-1", shipped)]
