"""Catalog domain: products, variants and prices, stored in the main table."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions, acknowledge_index_access
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class CatalogDomain(DomainFunctions):
    domain = "catalog"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Admin routes write products; public routes read them (also through GSI1/GSI2).
        # Neither the idempotency table nor the Stripe secret: the catalog uses neither
        # (grant `tables.idempotency` here if catalog handlers adopt Powertools idempotency).
        dependencies.tables.main.grant_read_write_data(function)
        acknowledge_index_access(function, dependencies.tables.main)
