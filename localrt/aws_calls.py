"""Counting AWS API calls at the emulator, for the cost benchmark (`make bench`) and curious developers.

Every request moto's server handles passes `BaseResponse.call_action`; a small hook counts it by
caller, service and operation. Callers are told apart by User-Agent: the function workers' boto3 sends
`app/cloudtill-fn` (localrt sets `AWS_SDK_UA_APP_ID` in their environment, see `FUNCTION_UA_APP_ID`),
everything else (the local runtime's pollers, scheduler, seeding, tests) counts as `runtime`. Calls moto
makes to itself without HTTP (Step Functions invoking Lambda tasks) do not pass here; the function pools
count those invocations. `GET /_local/aws-calls` reports the counters.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from moto.core.responses import BaseResponse

from localrt import table_access

FUNCTION_UA_APP_ID = "cloudtill-fn"
# Between the function name and the worker's process id in the app id (a User-Agent-safe character):
# the fault plan kills the very worker that made a call (localrt/faults.py).
PROCESS_SEPARATOR = "~"
PID_PLACEHOLDER = "{pid}"
_lock = threading.Lock()
_counts: Counter[tuple[str, str, str]] = Counter()
# DynamoDB request units as billed for items up to 1 KB (reads) / 1 KB (writes): an estimate, since item
# sizes are not looked at. Transactions cost two units per item, batches one per item.
_ddb_units: Counter[tuple[str, str]] = Counter()
_by_function: Counter[tuple[str, str, str]] = Counter()
_DDB_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def _ddb_request_units(operation: str, params: Any) -> int:
    if not isinstance(params, dict):
        return 1
    if operation.startswith("Transact"):
        return 2 * len(params.get("TransactItems", []))
    if operation == "BatchGetItem":
        return sum(len(r.get("Keys", [])) for r in params.get("RequestItems", {}).values())
    if operation == "BatchWriteItem":
        return sum(len(r) for r in params.get("RequestItems", {}).values())
    return 1


def function_app_id(function: str) -> str:
    """The UA app id a function's worker sends: `cloudtill-fn.<function>~<pid>` (the worker fills in
    its process id)."""
    return f"{FUNCTION_UA_APP_ID}.{function}{PROCESS_SEPARATOR}{PID_PLACEHOLDER}"


def caller_of(user_agent: str) -> str:
    """`functions` or `runtime`; see the module docstring."""
    return "functions" if f"app/{FUNCTION_UA_APP_ID}" in user_agent else "runtime"


def function_of(user_agent: str) -> str | None:
    marker = f"app/{FUNCTION_UA_APP_ID}."
    if marker not in user_agent:
        return None
    return user_agent.split(marker, 1)[1].split(" ", 1)[0].split(PROCESS_SEPARATOR, 1)[0]


def process_of(user_agent: str) -> int | None:
    """The worker's process id, when its app id carries one (`cloudtill-fn.<function>~<pid>`)."""
    marker = f"app/{FUNCTION_UA_APP_ID}."
    if marker not in user_agent:
        return None
    _, _, pid = user_agent.split(marker, 1)[1].split(" ", 1)[0].partition(PROCESS_SEPARATOR)
    return int(pid) if pid.isdigit() else None


def _record(response: BaseResponse) -> None:
    try:
        service = response.boto3_service_name or "unknown"
        operation = response._get_action()
        user_agent = str(response.headers.get("User-Agent", "")) if response.headers else ""
    except Exception:  # counting must never break the emulator
        return
    caller = caller_of(user_agent)
    function = function_of(user_agent)
    units = 0
    if service == "dynamodb" and operation in _DDB_READS | _DDB_WRITES:
        body = getattr(response, "body", None)
        if isinstance(body, (str, bytes)):
            try:
                body = json.loads(body)
            except ValueError:
                body = None
        units = _ddb_request_units(operation, body)
        if function:
            table_access.check(function, operation, body)
    with _lock:
        _counts[(caller, service, operation)] += 1
        if function:
            _by_function[(function, service, operation)] += 1
        if units:
            kind = "read" if operation in _DDB_READS else "write"
            _ddb_units[(caller, kind)] += units


def install() -> None:
    """Count every call from now on (idempotent)."""
    original: Callable[..., Any] = BaseResponse.call_action
    if getattr(original, "_cloudtill_counted", False):
        return

    @functools.wraps(original)
    def call_action(self: BaseResponse) -> Any:
        _record(self)
        return original(self)

    call_action._cloudtill_counted = True  # type: ignore[attr-defined]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]


def snapshot() -> dict[str, dict[str, dict[str, int]]]:
    """{caller: {service: {operation: count}}} since the emulator started."""
    result: dict[str, dict[str, dict[str, int]]] = {}
    with _lock:
        items = list(_counts.items())
    for (caller, service, operation), count in sorted(items):
        result.setdefault(caller, {}).setdefault(service, {})[operation] = count
    return result


def by_function() -> dict[str, dict[str, dict[str, int]]]:
    """{function: {service: {operation: count}}}: the `functions` calls, per calling function."""
    result: dict[str, dict[str, dict[str, int]]] = {}
    with _lock:
        items = list(_by_function.items())
    for (function, service, operation), count in sorted(items):
        result.setdefault(function, {}).setdefault(service, {})[operation] = count
    return result


def dynamodb_units() -> dict[str, dict[str, int]]:
    """{caller: {"read": units, "write": units}}: estimated request units (items of at most 1 KB)."""
    result: dict[str, dict[str, int]] = {}
    with _lock:
        items = list(_ddb_units.items())
    for (caller, kind), units in sorted(items):
        result.setdefault(caller, {})[kind] = units
    return result
