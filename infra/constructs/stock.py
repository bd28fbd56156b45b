"""Stock domain: levels, the movement ledger with FIFO valuation, low-stock flags, reconciliation."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions, acknowledge_index_access
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class StockDomain(DomainFunctions):
    domain = "stock"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # SKU items, movements and outbox events; reconciliation queries held reservations (GSI2).
        dependencies.tables.main.grant_read_write_data(function)
        acknowledge_index_access(function, dependencies.tables.main)
