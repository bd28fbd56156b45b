"""Payments function: Stripe's signed webhooks and admin refunds (thin handler).

No card data ever reaches this code: shoppers pay in Stripe.js with the intent's client secret. Neither
the webhook body (it holds the client secret) nor any Stripe credential is ever logged.
"""

from __future__ import annotations

import base64
import functools
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.clock import SystemClock
from cloudtill.observability import logger, metrics
from cloudtill.orders.dynamo import DynamoOrderRepository
from cloudtill.orders.factory import order_lifecycle
from cloudtill.orders.lifecycle import OrderLifecycle
from cloudtill.payments.credentials import StripeCredentialsSource
from cloudtill.payments.dynamo import DynamoOrderPaymentLookup, DynamoPaymentStore
from cloudtill.payments.refunds import RefundReason, request_refund
from cloudtill.payments.stripe_adapter import StripePaymentGateway, StripeSignatureVerifier
from cloudtill.payments.webhooks import SIGNATURE_HEADER, WebhookProcessor, receive_webhook
from cloudtill.settings import get_settings
from pydantic import BaseModel, ConfigDict, Field

settings = get_settings()
app = create_app()

OrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(default=None, gt=0, description="minor units; default: all that remains")
    reason: RefundReason = "requested_by_customer"
    note: str | None = Field(default=None, max_length=500, description="kept in Stripe's metadata")


class RefundOut(BaseModel):
    order_id: str
    payment_intent_id: str
    refund_id: str
    amount: int
    currency: str
    status: str = Field(description="Stripe's refund status; recorded when charge.refunded arrives")
    idempotency_key: str = Field(
        description="the refund's key (the header's, or one made for it): retry with it, never twice"
    )


class WebhookAck(BaseModel):
    received: bool = True
    result: str


@functools.cache
def credentials() -> StripeCredentialsSource:
    return StripeCredentialsSource(settings)


@functools.cache
def store() -> DynamoPaymentStore:
    return DynamoPaymentStore(settings.table_name)


@functools.cache
def gateway() -> StripePaymentGateway:
    return StripePaymentGateway(
        lambda: credentials().get().api_key.get_secret_value(), api_base=settings.stripe_api_base
    )


@functools.cache
def refund_claims() -> DynamoOrderRepository:
    """The orders' refund ledger: an admin refund is a claim on the order like the workflow's."""
    return DynamoOrderRepository(settings.table_name)


@functools.cache
def lifecycle() -> OrderLifecycle:
    """The order workflow's follow-up of successful payments (resume it, or refund a late payment)."""
    return order_lifecycle(settings, gateway())


@app.post("/webhooks/stripe", summary="Stripe webhook endpoint (signed)", tags=["webhooks"])
def stripe_webhook() -> WebhookAck:
    event_in = app.current_event
    raw = event_in.body or ""
    if event_in.is_base64_encoded:
        raw = base64.b64decode(raw).decode("utf-8", errors="replace")
    secrets = [s.get_secret_value() for s in credentials().get().webhook_secrets]
    processor = WebhookProcessor(store(), SystemClock(), listener=lifecycle())
    event, outcome = receive_webhook(
        raw, event_in.headers.get(SIGNATURE_HEADER), secrets, StripeSignatureVerifier(), processor
    )
    log = logger.warning if outcome.result == "orphan" else logger.info
    # Ids and types only: the body holds the client secret and the customer's details.
    log(
        "stripe webhook",
        extra={"stripe_event_id": event.id, "stripe_event_type": event.type, "result": outcome.result},
    )
    metrics.add_metric(name=f"StripeWebhook_{outcome.result}", unit="Count", value=1)
    return WebhookAck(result=outcome.result)


@app.post(
    "/admin/orders/<order_id>/refunds", summary="Refund an order's payment", tags=["admin"], status_code=202
)
def refund_order(
    order_id: Annotated[OrderId, Path()],
    body: RefundIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response[RefundOut]:
    requested = request_refund(
        order_id,
        body.amount,
        body.reason,
        body.note,
        idempotency_key,
        DynamoOrderPaymentLookup(settings.table_name),
        store(),
        gateway(),
        refund_claims(),
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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)
