"""The shopper's order view (thin handler): `GET /orders/{order_id}` with the checkout's token.

A function of its own, public and read only: its role can read an order (with its payment's status)
and nothing else, so no public function can write orders. The service is the orders domain's.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.clock import SystemClock
from cloudtill.observability import logger, metrics
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.orders.api import OrderId, OrderOut
from cloudtill.orders.service import OrderService
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.settings import get_settings

settings = get_settings()
app = create_app()

TOKEN_HEADER = "X-Checkout-Token"  # noqa: S105 - a header name, not a secret


class ReadOnly:
    """Stands in for what only the service's writes use (the Stripe gateway, the workflow): this
    function has neither the Stripe secret nor a Step Functions grant, and never needs them."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the order view only reads: it has no {self._what} ({name})")


@functools.cache
def orders() -> OrderService:
    gateway: Any = ReadOnly("payment gateway")
    workflow: Any = ReadOnly("workflow")
    return OrderService(
        DynamoOrderWorkflowStore(settings.table_name),
        DynamoPaymentStore(settings.table_name),
        gateway,
        workflow,
        SystemClock(),
    )


@app.get(
    "/orders/<order_id>", summary="Get an order (needs its checkout's X-Checkout-Token)", tags=["orders"]
)
def get_order(
    order_id: Annotated[OrderId, Path()],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=512)] = None,
) -> OrderOut:
    return orders().get_for_shopper(order_id, token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)
