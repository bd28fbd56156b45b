"""Base of the per-domain constructs: a domain's functions plus the grants that domain needs.

A function added to `infra/wiring.py` is built by the function factory under its domain's
construct. The factory's role can log and trace and call exactly the table actions its spec declares
(`table_access`, on item-key prefixes); each domain's subclass (e.g. `PaymentsDomain`) grants what else
that domain needs (queues, SES, S3, ...) with `grant_*` methods. A domain with no
subclass in `registry.py` fails the synth rather than deploying a function that cannot work.
"""

from __future__ import annotations

from typing import ClassVar

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.function_factory import FunctionDependencies, FunctionFactory
from infra.wiring import FunctionSpec


class DomainFunctions(Construct):
    domain: ClassVar[str] = ""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        dependencies: FunctionDependencies,
        specs: tuple[FunctionSpec, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        for spec in specs:
            function = factory.create(self, spec)
            self.grant(spec, function, dependencies)
            self.functions[spec.name] = function

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        """The domain's data access (`grant_*` only). Subclasses must say what they need."""
        raise NotImplementedError(f"{type(self).__name__} must define the {self.domain!r} domain's grants")
