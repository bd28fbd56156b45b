"""Every DynamoDB request a function makes, checked against the grants its spec declares
(`FunctionSpec.table_access` in infra/wiring.py, what CDK turns into its IAM policy).

The emulator does not enforce IAM, so a call the deployed role would refuse passes locally. Here each
request is broken into what IAM authorizes (one action per item of a transaction or batch, on the table
or the index, with the partition key `dynamodb:LeadingKeys` sees) and compared with the declaration;
what no grant allows is kept and reported by `GET /_local/aws-calls` (`table_access_violations`). The
integration suite fails a run that has any (tests/integration/conftest.py).
"""

from __future__ import annotations

import re
import threading
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from infra.wiring import FUNCTIONS, TABLES, FunctionSpec, TableSpec

MAX_KEPT = 200
_lock = threading.Lock()
_violations: dict[tuple[str, str, str, str | None, str | None], None] = {}
_EQUALS = re.compile(r"([#\w]+)\s*=\s*(:\w+)")
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
_SINGLE = {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}


class Request(NamedTuple):
    """One authorization IAM makes: `action` on `table` (its index `index_name`), for partition key `key`."""

    action: str
    table: str  # physical table name
    index_name: str | None
    key: str | None  # None: the request names no partition key (Scan)


def _partition_key(item: Any, attribute: str) -> str | None:
    if not isinstance(item, dict):
        return None
    value = item.get(attribute)
    return str(value.get("S")) if isinstance(value, dict) and "S" in value else None


def _query_key(params: dict[str, Any], attribute: str) -> str | None:
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for name, placeholder in _EQUALS.findall(str(params.get("KeyConditionExpression", ""))):
        if names.get(name, name) == attribute:
            return _partition_key(values, placeholder)
    return None


def requests_of(operation: str, params: dict[str, Any], tables: dict[str, TableSpec]) -> list[Request]:
    """What IAM authorizes for one DynamoDB API call; `tables` maps physical names to their specs."""

    def key_attribute(table: str, index: str | None = None) -> str:
        spec = tables.get(table)
        if spec is None:
            return ""
        return spec.global_indexes[index][0] if index and index in spec.global_indexes else spec.partition_key

    if operation in _SINGLE:
        table = str(params.get("TableName", ""))
        item = params.get("Item") if operation == "PutItem" else params.get("Key")
        return [Request(f"dynamodb:{operation}", table, None, _partition_key(item, key_attribute(table)))]
    if operation in {"Query", "Scan"}:
        table, index = str(params.get("TableName", "")), params.get("IndexName")
        key = _query_key(params, key_attribute(table, index)) if operation == "Query" else None
        return [Request(f"dynamodb:{operation}", table, index, key)]
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        found = []
        for entry in params.get("TransactItems", []):
            for kind, part in entry.items():
                table = str(part.get("TableName", ""))
                item = part.get("Item") if kind == "Put" else part.get("Key")
                action = _TRANSACT_ACTIONS.get(kind, f"dynamodb:{kind}")
                found.append(Request(action, table, None, _partition_key(item, key_attribute(table))))
        return found
    if operation == "BatchGetItem":
        return [
            Request("dynamodb:BatchGetItem", table, None, _partition_key(k, key_attribute(table)))
            for table, request in (params.get("RequestItems") or {}).items()
            for k in request.get("Keys", [])
        ]
    if operation == "BatchWriteItem":
        return [
            Request(
                "dynamodb:BatchWriteItem",
                table,
                None,
                _partition_key(
                    (w.get("PutRequest") or {}).get("Item") or (w.get("DeleteRequest") or {}).get("Key"),
                    key_attribute(table),
                ),
            )
            for table, writes in (params.get("RequestItems") or {}).items()
            for w in writes
        ]
    return []  # table management, streams, TTL: not item access


def allowed(spec: FunctionSpec, request: Request, logical_table: str) -> bool:
    return any(
        access.table == logical_table
        and access.index == request.index_name
        and request.action in access.actions
        and (
            not access.key_prefixes
            or (request.key is not None and any(fnmatchcase(request.key, p) for p in access.key_prefixes))
        )
        for access in spec.table_access
    )


class TableAccessCheck:
    """Checks the calls of the functions in `FUNCTIONS` against their specs; `table_names` maps each
    table's logical name to the name it has in the emulator."""

    def __init__(self, table_names: dict[str, str]) -> None:
        specs = {spec.logical_name: spec for spec in TABLES}
        self._tables = {name: specs[logical] for logical, name in table_names.items()}
        self._logical = {name: logical for logical, name in table_names.items()}
        self._functions = {spec.name: spec for spec in FUNCTIONS}

    def check(self, function: str, operation: str, params: Any) -> None:
        spec = self._functions.get(function)
        if spec is None or not isinstance(params, dict):
            return
        for request in requests_of(operation, params, self._tables):
            logical = self._logical.get(request.table, request.table)
            if not allowed(spec, request, logical):
                seen = (function, request.action, logical, request.index_name, request.key)
                with _lock:
                    if len(_violations) < MAX_KEPT:
                        _violations[seen] = None


_check: TableAccessCheck | None = None


def install(table_names: dict[str, str]) -> None:
    global _check
    _check = TableAccessCheck(table_names)


def check(function: str, operation: str, params: Any) -> None:
    if _check is not None:
        _check.check(function, operation, params)


def violations() -> list[dict[str, str | None]]:
    """Calls no declared grant allows (the deployed role would answer AccessDenied), first seen first."""
    with _lock:
        kept = list(_violations)
    return [
        {"function": f, "action": a, "table": t, "index": i, "partition_key": k} for f, a, t, i, k in kept
    ]
