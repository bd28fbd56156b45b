"""Orders domain: the order-lifecycle tasks and the admin/shopper order routes."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec

# An orders function that only reads (the shopper's order view) never refunds or cancels anything.
_READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}


class OrdersDomain(DomainFunctions):
    domain = "orders"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Orders, fulfilments, returns; on confirmation the checkout, its reservations and the SKUs'
        # stock (one transaction); refund claims, outbox events: the spec's `table_access`, granted by
        # the function factory.
        # Refunds and PaymentIntent cancels go through Stripe: the Stripe layer and secret come from
        # the function factory for `uses_stripe` functions.
        writes = any(set(a.actions) - _READS for a in spec.table_access)
        if writes and not spec.uses_stripe:
            raise ValueError(f"orders function {spec.name!r} must set uses_stripe=True in infra/wiring.py")
        # The order lifecycle (its task functions, and SendTaskSuccess / StartExecution for its
        # clients) is built by `infra/constructs/workflows.py` from the wiring and
        # `infra/workflow_clients.py`.
