"""The order lifecycle built from a function's settings: the orders function runs its tasks, the
payments function calls `payment_succeeded` after each `payment_intent.succeeded` webhook."""

from __future__ import annotations

from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.service import CheckoutService
from cloudtill.clock import SystemClock
from cloudtill.order_workflow.checkout_link import CheckoutLink, NoNewPayments
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.ports import PaymentGateway
from cloudtill.settings import Settings
from cloudtill.workflow import StepFunctionsWorkflow


def order_lifecycle(settings: Settings, gateway: PaymentGateway) -> OrderLifecycle:
    clock = SystemClock()
    checkout_repository = DynamoCheckoutRepository(settings.table_name)
    checkout_service = CheckoutService(
        checkout_repository, clock, settings.shop_settings, settings.checkout_ttl_seconds, NoNewPayments()
    )
    return OrderLifecycle(
        DynamoOrderWorkflowStore(settings.table_name),
        CheckoutLink(checkout_repository, checkout_service, clock),
        DynamoPaymentStore(settings.table_name),
        gateway,
        StepFunctionsWorkflow(settings.state_machine_arn),
        clock,
    )
