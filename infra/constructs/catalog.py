"""Catalog domain: products, variants and prices, stored in the main table."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class CatalogDomain(DomainFunctions):
    domain = "catalog"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Products, SKU items and categories only: the spec's `table_access` (infra/wiring.py), granted
        # by the function factory. Neither the idempotency table nor the Stripe secret.
        return
