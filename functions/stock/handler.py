"""Stock function: admin stock levels, settings, the movement ledger and reconciliation (thin handler)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.clock import SystemClock
from cloudtill.observability import logger, metrics
from cloudtill.settings import get_settings
from cloudtill.stock.api import (
    MovementIn,
    MovementOut,
    MovementPage,
    ReconciliationOut,
    Sku,
    StockOut,
    StockSettingsIn,
)
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.reconcile import reconcile
from cloudtill.stock.service import StockService

settings = get_settings()
app = create_app()


@functools.cache
def repository() -> DynamoStockRepository:
    return DynamoStockRepository(settings.table_name)


@functools.cache
def stock() -> StockService:
    return StockService(repository(), SystemClock())


# Registered before `/admin/stock/<sku>` so the literal segment wins (as it does in API Gateway).
@app.get("/admin/stock/reconciliation", summary="Check stock counters against reservations", tags=["admin"])
def reconciliation(
    sku: Annotated[
        list[Sku] | None, Query(max_length=100, description="Repeatable; every SKU when absent")
    ] = None,
) -> ReconciliationOut:
    result = reconcile(repository(), sku)
    if not result.ok:
        logger.warning("stock reconciliation found discrepancies", extra={"count": len(result.discrepancies)})
    return result


@app.get("/admin/stock/<sku>", summary="Get a SKU's stock level and FIFO value", tags=["admin"])
def get_stock(sku: Annotated[Sku, Path()]) -> StockOut:
    return stock().get_stock(sku)


@app.put("/admin/stock/<sku>/settings", summary="Set low-stock threshold and backorder limit", tags=["admin"])
def update_settings(sku: Annotated[Sku, Path()], body: StockSettingsIn) -> StockOut:
    return stock().update_settings(sku, body)


@app.post("/admin/stock/<sku>/movements", summary="Record a stock movement", tags=["admin"], status_code=201)
def record_movement(sku: Annotated[Sku, Path()], body: MovementIn) -> Response[MovementOut]:
    movement = stock().record_movement(sku, body)
    metrics.add_metric(name="StockMovement", unit="Count", value=1)
    return Response(status_code=201, content_type="application/json", body=movement)


@app.get("/admin/stock/<sku>/movements", summary="Page a SKU's movement ledger, newest first", tags=["admin"])
def list_movements(
    sku: Annotated[Sku, Path()],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> MovementPage:
    return stock().list_movements(sku, limit, cursor)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)
