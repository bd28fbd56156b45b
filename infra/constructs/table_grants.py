"""DynamoDB grants from the wiring: item actions limited by partition-key prefix (`dynamodb:LeadingKeys`).

Used by the function factory (each function's `table_access`) and by the workflows (a state machine's
`TableAccess`), so every table grant in the stack is built the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from infra.wiring import FunctionSpec


class _HasRolePolicy(Protocol):
    def add_to_role_policy(self, statement: iam.PolicyStatement) -> Any: ...


def grant_table_access(
    function: _HasRolePolicy, spec: FunctionSpec, tables: Mapping[str, dynamodb.ITable]
) -> None:
    """The function's declared `table_access` (infra/wiring.py) as policy statements: one per entry, on
    the table's ARN (an index's ARN for index queries), limited by `dynamodb:LeadingKeys` to the
    entry's key prefixes; an entry without prefixes (a Scan, the idempotency table) has no condition."""
    for number, access in enumerate(spec.table_access):
        table_arn = tables[access.table].table_arn
        resource = f"{table_arn}/index/{access.index}" if access.index else table_arn
        sid = f"{access.table}{access.index or ''}Items{number}"
        if access.key_prefixes:
            grant_items_by_prefix(function, sid, list(access.actions), resource, access.key_prefixes)
        else:
            function.add_to_role_policy(
                iam.PolicyStatement(sid=sid, actions=list(access.actions), resources=[resource])
            )


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
