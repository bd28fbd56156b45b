"""Orders code (thin handler), one entry point per trigger, each its own function in the wiring:
`api_handler` serves the admin order routes (`orders`), `task_handler` the order-lifecycle state
machine's Lambda tasks (`order-tasks`), `schedule_handler` the sweeps (`order-sweeps`). The shopper's
order view is a function of its own (`functions/order-view`)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.clock import SystemClock
from cloudtill.observability import logger, metrics
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.factory import order_lifecycle
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.orders.api import (
    AdminOrderOut,
    Day,
    FulfilmentIn,
    FulfilmentOut,
    OrderId,
    OrderPageOut,
    OrderStatusIn,
    RefundIn,
    RefundOut,
    ReturnIn,
    ReturnOut,
)
from cloudtill.orders.service import OrderService
from cloudtill.payments.claims_dynamo import DynamoRefundClaims
from cloudtill.payments.credentials import StripeCredentialsSource
from cloudtill.payments.dynamo import DynamoOrderPaymentLookup, DynamoPaymentStore
from cloudtill.payments.refunds import request_refund
from cloudtill.payments.stripe_adapter import StripePaymentGateway
from cloudtill.settings import get_settings
from cloudtill.workflow import StepFunctionsWorkflow

settings = get_settings()
app = create_app()


@functools.cache
def gateway() -> StripePaymentGateway:
    credentials = StripeCredentialsSource(settings)
    return StripePaymentGateway(
        lambda: credentials.get().api_key.get_secret_value(), settings.stripe_api_base
    )


@functools.cache
def orders() -> OrderService:
    return OrderService(
        DynamoOrderWorkflowStore(settings.table_name),
        DynamoPaymentStore(settings.table_name),
        gateway(),
        StepFunctionsWorkflow(settings.state_machine_arn),
        SystemClock(),
    )


@functools.cache
def lifecycle() -> OrderLifecycle:
    return order_lifecycle(settings, gateway())


@app.get("/admin/orders", summary="List orders by status (and day), newest first", tags=["admin"])
def list_orders(
    status: Annotated[OrderStatusIn, Query()] = "confirmed",
    date: Annotated[Day | None, Query(description="UTC day the order was placed")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> OrderPageOut:
    return orders().list_orders(status, date, limit, cursor)


@app.get("/admin/orders/<order_id>", summary="Get an order with everything ops need", tags=["admin"])
def get_admin_order(order_id: Annotated[OrderId, Path()]) -> AdminOrderOut:
    return orders().get_for_admin(order_id)


@app.post(
    "/admin/orders/<order_id>/fulfillments",
    summary="Record a shipment (partial allowed)",
    tags=["admin"],
    status_code=201,
)
def fulfil_order(order_id: Annotated[OrderId, Path()], body: FulfilmentIn) -> Response[FulfilmentOut]:
    fulfilment = orders().fulfil(order_id, body)
    metrics.add_metric(name="OrderShipped", unit="Count", value=1)
    return Response(status_code=201, content_type="application/json", body=fulfilment)


@app.post("/admin/orders/<order_id>/delivered", summary="Mark a shipped order delivered", tags=["admin"])
def deliver_order(order_id: Annotated[OrderId, Path()]) -> AdminOrderOut:
    return orders().deliver(order_id)


@app.post(
    "/admin/orders/<order_id>/cancel",
    summary="Cancel an order before shipment (the workflow refunds and restocks)",
    tags=["admin"],
    status_code=202,
)
def cancel_order(order_id: Annotated[OrderId, Path()]) -> Response[AdminOrderOut]:
    requested = orders().request_cancel(order_id)
    return Response(status_code=202, content_type="application/json", body=requested)


@app.post(
    "/admin/orders/<order_id>/returns",
    summary="Record returned units (restock, refund)",
    tags=["admin"],
    status_code=201,
)
def return_order(order_id: Annotated[OrderId, Path()], body: ReturnIn) -> Response[ReturnOut]:
    returned = orders().record_return(order_id, body)
    metrics.add_metric(name="OrderReturned", unit="Count", value=1)
    return Response(status_code=201, content_type="application/json", body=returned)


@app.post(
    "/admin/orders/<order_id>/refunds", summary="Refund an order's payment", tags=["admin"], status_code=202
)
def refund_order(
    order_id: Annotated[OrderId, Path()],
    # Every field is optional: no body is `{}` (refund all that remains).
    body: Annotated[RefundIn | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response[RefundOut]:
    """A claim on the order's refund ledger, like the workflow's cancel and return refunds."""
    body = body or RefundIn()
    requested = request_refund(
        order_id,
        body.amount,
        body.reason,
        body.note,
        idempotency_key,
        DynamoOrderPaymentLookup(settings.table_name),
        DynamoPaymentStore(settings.table_name),
        gateway(),
        DynamoRefundClaims(settings.table_name),
        SystemClock(),
    )
    metrics.add_metric(name="RefundRequested", unit="Count", value=1)
    return Response(
        status_code=202,
        content_type="application/json",
        body=RefundOut(
            order_id=requested.order_id,
            payment_intent_id=requested.payment_intent_id,
            refund_id=requested.refund_id,
            amount=requested.amount,
            currency=requested.currency,
            status=requested.status,
            idempotency_key=requested.idempotency_key,
        ),
    )


def run_task(event: dict[str, Any]) -> dict[str, Any]:
    """A state machine task. Exceptions propagate: Lambda reports them as function errors whose
    errorType (e.g. `TransientError`) the state machine's Retry/Catch match."""
    task = str(event["task"])
    logger.info(
        "order lifecycle task",
        extra={"task": task, "checkout_id": event.get("checkout_id"), "order_id": event.get("order_id")},
    )
    result = lifecycle().run(task, event)
    if task == "settle_paid_checkouts":
        # Each refund here is a payment whose workflow failed to settle it; failures page ops.
        metrics.add_metric(name="PaidCheckoutRefunded", unit="Count", value=result["refunded"])
        metrics.add_metric(name="PaidCheckoutSettleFailed", unit="Count", value=result["failed"])
    return result


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)


@logger.inject_lambda_context
@metrics.log_metrics
def task_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A Lambda task of the order lifecycle (the state machine's payload names it in `task`)."""
    return run_task(event)


@logger.inject_lambda_context
@metrics.log_metrics
def schedule_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The sweeps: each schedule's payload names its task (`settle_stuck_refunds`, ...)."""
    return run_task(event)
