"""Privacy domain: a customer's data export and erasure (GDPR access and erasure requests)."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class PrivacyDomain(DomainFunctions):
    domain = "privacy"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Reads the customer's records through GSI2 and pseudonymises them in place (UpdateItem in
        # transactions with the erasure marker and the CustomerErased outbox event): the spec's
        # `table_access`, granted by the function factory. Nothing else.
        return
