"""Payments domain: the Stripe webhook (signature-verified, deduplicated) and admin refunds."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions, acknowledge_index_access
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class PaymentsDomain(DomainFunctions):
    domain = "payments"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Payment events (dedupe by Stripe event id), orders, refunds and outbox items.
        dependencies.tables.main.grant_read_write_data(function)
        acknowledge_index_access(function, dependencies.tables.main)
        # The Stripe secret (API key + webhook signing secret) and the Stripe layer come from the
        # function factory for every `uses_stripe` function; payments must be one.
        if not spec.uses_stripe:
            raise ValueError(f"payments function {spec.name!r} must set uses_stripe=True in infra/wiring.py")
