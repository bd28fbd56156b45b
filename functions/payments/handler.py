"""Payments function: Stripe's signed webhooks (thin handler). Admin refunds are the orders
function's: a refund is a claim on the order's ledger, which this public function cannot write.

No card data ever reaches this code: shoppers pay in Stripe.js with the intent's client secret. Neither
the webhook body (it holds the client secret) nor any Stripe credential is ever logged.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.clock import SystemClock
from cloudtill.observability import logger, metrics
from cloudtill.order_workflow.factory import order_lifecycle
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.payments.credentials import StripeCredentialsSource
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.stripe_adapter import StripePaymentGateway, StripeSignatureVerifier
from cloudtill.payments.webhooks import SIGNATURE_HEADER, WebhookProcessor, receive_webhook
from cloudtill.settings import get_settings
from pydantic import BaseModel

settings = get_settings()
app = create_app()


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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)
