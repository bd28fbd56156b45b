"""Payments domain: the Stripe webhook (signature-verified, deduplicated) and admin refunds."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class PaymentsDomain(DomainFunctions):
    domain = "payments"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Payment items, outbox events, the checkout's payment outcome and late-payment refund claims;
        # orders are only read: the spec's `table_access`, granted by the function factory.
        # The Stripe secret (API key + webhook signing secret) and the Stripe layer come from the
        # function factory for every `uses_stripe` function; payments must be one.
        if not spec.uses_stripe:
            raise ValueError(f"payments function {spec.name!r} must set uses_stripe=True in infra/wiring.py")
