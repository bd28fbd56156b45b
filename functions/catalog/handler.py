"""Catalog function: public product listing and admin product management (thin handler)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill.api import create_app, handle
from cloudtill.catalog.api import (
    CategorySlug,
    ProductId,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductUpdate,
)
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.clock import SystemClock
from cloudtill.observability import logger, metrics
from cloudtill.settings import get_settings

settings = get_settings()
app = create_app()


@functools.cache
def catalog() -> CatalogService:
    repository = DynamoProductRepository(settings.table_name)
    return CatalogService(repository, SystemClock(), settings.shop_settings.currency)


@app.get("/products", summary="List active products", tags=["catalog"])
def list_products(
    category: Annotated[CategorySlug | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ProductPage:
    return catalog().list_products(category, limit, cursor)


@app.get("/products/<product_id>", summary="Get a product", tags=["catalog"])
def get_product(product_id: Annotated[ProductId, Path()]) -> ProductOut:
    return catalog().get_product(product_id)


@app.post("/admin/products", summary="Create a product", tags=["admin"], status_code=201)
def create_product(body: ProductIn) -> Response[ProductOut]:
    product = catalog().create_product(body)
    metrics.add_metric(name="ProductCreated", unit="Count", value=1)
    return Response(status_code=201, content_type="application/json", body=product)


@app.put("/admin/products/<product_id>", summary="Replace a product (optimistic concurrency)", tags=["admin"])
def update_product(product_id: Annotated[ProductId, Path()], body: ProductUpdate) -> ProductOut:
    return catalog().update_product(product_id, body)


@app.delete("/admin/products/<product_id>", summary="Archive a product", tags=["admin"], status_code=204)
def archive_product(product_id: Annotated[ProductId, Path()]) -> Response[None]:
    catalog().archive_product(product_id)
    return Response(status_code=204, body=None)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)
