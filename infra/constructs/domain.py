"""Base of the per-domain constructs: a domain's functions plus the grants that domain needs.

A function added to `infra/wiring.py` is built by the function factory under its domain's
construct. The factory's role can log and trace and nothing else; each domain's subclass (e.g.
`CatalogDomain`) grants exactly what that domain needs with `grant_*` methods. A domain with no
subclass in `registry.py` fails the synth rather than deploying a function that cannot work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Protocol

from aws_cdk import CfnResource
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.acknowledgements import acknowledge
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


def acknowledge_index_access(function: lambda_.Function, table: dynamodb.Table) -> None:
    """`grant_*_data` on a table with GSIs adds `<table arn>/index/*`: queries need its indexes."""
    role = function.role
    if role is None:  # pragma: no cover - the factory always gives functions a role
        raise ValueError(f"{function} has no role")
    table_resource = table.node.default_child
    assert isinstance(table_resource, CfnResource)
    logical_id = table.stack.get_logical_id(table_resource)
    acknowledge(
        role.node.find_child("DefaultPolicy"),
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/index/*]",
        "Query access to this one table's own global secondary indexes (GSI1, GSI2), "
        "which CDK's grant_*_data scopes to <table arn>/index/*.",
    )


class _HasRolePolicy(Protocol):
    def add_to_role_policy(self, statement: iam.PolicyStatement) -> Any: ...


def grant_items_by_prefix(
    function: _HasRolePolicy, sid: str, actions: list[str], table_arn: str, key_prefixes: Iterable[str]
) -> None:
    """Table actions limited to items whose partition key matches one of `key_prefixes` (`ORDER#*`),
    for a function or a state machine (anything with a role policy)."""
    function.add_to_role_policy(
        iam.PolicyStatement(
            sid=sid,
            actions=actions,
            resources=[table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(key_prefixes)}},
        )
    )
