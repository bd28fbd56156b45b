"""Stock domain: levels, the movement ledger with FIFO valuation, low-stock flags, reconciliation."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class StockDomain(DomainFunctions):
    domain = "stock"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # SKU items, movements and outbox events; reconciliation queries held reservations (GSI2) and
        # scans the SKU items: the spec's `table_access`, granted by the function factory.
        return
