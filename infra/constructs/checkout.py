"""Checkout domain: priced checkouts that reserve stock, shipping methods, promotions, expiry sweep."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions, acknowledge_index_access
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class CheckoutDomain(DomainFunctions):
    domain = "checkout"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Checkouts, reservations, promotion counters and outbox items in one transaction; the
        # expiry sweep queries GSI1 (held reservations by expiry).
        dependencies.tables.main.grant_read_write_data(function)
        acknowledge_index_access(function, dependencies.tables.main)
        # POST /checkouts is idempotent (Powertools idempotency: get/put/update/delete records).
        dependencies.tables.idempotency.grant_read_write_data(function)
        # The Stripe secret is granted by the function factory, and only with `uses_stripe`.
