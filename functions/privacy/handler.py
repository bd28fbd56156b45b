"""Privacy function: a customer's data export and erasure (admin only; thin handler).

The email travels in the path (percent-encoded); it is never logged — only the number of records.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.clock import SystemClock
from cloudtill.observability import logger, metrics
from cloudtill.privacy.api import CustomerExport, ErasureOut
from cloudtill.privacy.dynamo import DynamoCustomerRecords
from cloudtill.privacy.service import PrivacyService
from cloudtill.settings import get_settings
from pydantic import Field

settings = get_settings()
app = create_app()

CustomerEmail = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


@functools.cache
def privacy() -> PrivacyService:
    return PrivacyService(DynamoCustomerRecords(settings.table_name), SystemClock())


@app.post(
    "/admin/customers/<email>/export", summary="Everything held about a customer (JSON)", tags=["admin"]
)
def export_customer(email: Annotated[CustomerEmail, Path()]) -> CustomerExport:
    exported = privacy().export(email)
    logger.info(
        "customer export",
        extra={"checkouts": len(exported.checkouts), "orders": len(exported.orders)},
    )
    return exported


@app.delete(
    "/admin/customers/<email>",
    summary="Erase a customer's personal data (financial records are kept, pseudonymised)",
    tags=["admin"],
)
def erase_customer(email: Annotated[CustomerEmail, Path()]) -> ErasureOut:
    erased = privacy().erase(email)
    logger.info("customer erased", extra=erased.model_dump())
    metrics.add_metric(name="CustomerErased", unit="Count", value=0 if erased.already_erased else 1)
    return erased


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)
