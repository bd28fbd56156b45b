"""Checkout domain: priced checkouts that reserve stock, shipping methods, promotions, expiry sweep."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class CheckoutDomain(DomainFunctions):
    domain = "checkout"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Checkouts, reservations, SKU counters, promotions, outbox items, the PaymentIntent's record
        # and the idempotency records: the spec's `table_access`, granted by the function factory, as
        # is the Stripe secret (only with `uses_stripe`).
        return
