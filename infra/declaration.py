"""The wiring as one value the stack is built from, checked before any resource is created.

`Declaration.from_wiring()` reads `infra/wiring.py` at call time; tests build variants with
`dataclasses.replace` (a function reading the Stripe secret, one more subscription) without touching
the module. `validate()` turns a broken declaration (a route to an unknown function, a schedule name
used twice, a stream consumer on a table without a stream) into one clear error at synth time,
instead of a half-built stack or a KeyError deep inside a construct.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra import wiring
from infra.wiring import (
    BucketSpec,
    FunctionSpec,
    Route,
    Schedule,
    SecretSpec,
    StateMachineSpec,
    StreamConsumer,
    Subscription,
    TableSpec,
    Trigger,
)

# `definition_file`s are relative to the repository root (as localrt reads them).
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# `${Name}` in an ASL file: substituted with the ARN of the function `StateMachineSpec.tasks[Name]`.
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class WiringError(ValueError):
    """The wiring declaration is inconsistent; the message says what to fix in infra/wiring.py."""


@dataclass(frozen=True)
class Declaration:
    functions: tuple[FunctionSpec, ...]
    routes: tuple[Route, ...]
    subscriptions: tuple[Subscription, ...]
    stream_consumers: tuple[StreamConsumer, ...]
    schedules: tuple[Schedule, ...]
    tables: tuple[TableSpec, ...]
    state_machines: tuple[StateMachineSpec, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()
    buckets: tuple[BucketSpec, ...] = ()
    # The `topic` function SES bounces and complaints reach (None: nobody sends e-mail).
    email_feedback_function: str | None = None

    @classmethod
    def from_wiring(cls) -> Declaration:
        return cls(
            functions=wiring.FUNCTIONS,
            routes=wiring.ROUTES,
            subscriptions=wiring.SUBSCRIPTIONS,
            stream_consumers=wiring.STREAM_CONSUMERS,
            schedules=wiring.SCHEDULES,
            tables=wiring.TABLES,
            state_machines=wiring.STATE_MACHINES,
            secrets=wiring.SECRETS,
            buckets=wiring.BUCKETS,
            email_feedback_function=wiring.EMAIL_FEEDBACK_FUNCTION,
        )

    def function(self, name: str) -> FunctionSpec:
        for spec in self.functions:
            if spec.name == name:
                return spec
        raise WiringError(f"no function named {name!r} in infra/wiring.py FUNCTIONS")

    def validate(self) -> Declaration:
        problems: list[str] = []
        function_names = {spec.name for spec in self.functions}
        tables = {table.logical_name: table for table in self.tables}

        problems += _duplicates("function", (s.name for s in self.functions))
        problems += _duplicates("route", (f"{r.method} {r.path}" for r in self.routes))
        problems += _duplicates("subscription", (s.name for s in self.subscriptions))
        problems += _duplicates("stream consumer", (c.name for c in self.stream_consumers))
        problems += _duplicates("schedule", (s.name for s in self.schedules))
        problems += _duplicates("state machine", (m.name for m in self.state_machines))

        users: list[tuple[str, str]] = [(f"route {r.method} {r.path}", r.function) for r in self.routes]
        users += [(f"subscription {s.name!r}", s.function) for s in self.subscriptions]
        users += [(f"stream consumer {c.name!r}", c.function) for c in self.stream_consumers]
        users += [(f"schedule {s.name!r}", s.function) for s in self.schedules]
        users += [
            (f"state machine {m.name!r} task ${{{placeholder}}}", fn)
            for m in self.state_machines
            for placeholder, fn in m.tasks.items()
        ]
        if self.email_feedback_function is not None:
            users.append(("SES feedback", self.email_feedback_function))
        problems += [
            f"{user} targets unknown function {fn!r}" for user, fn in users if fn not in function_names
        ]
        problems += self._trigger_problems()

        for subscription in self.subscriptions:
            if not subscription.detail_types:
                problems.append(f"subscription {subscription.name!r} lists no detail types")
            if not 1 <= subscription.batch_size <= 10_000:
                problems.append(f"subscription {subscription.name!r}: batch_size must be 1..10000")
            if not 0 <= subscription.max_batching_window_seconds <= 300:
                problems.append(f"subscription {subscription.name!r}: batching window must be 0..300 s")
            if subscription.batch_size > 10 and not subscription.max_batching_window_seconds:
                # Lambda refuses an SQS mapping with more than 10 messages per batch and no window.
                problems.append(
                    f"subscription {subscription.name!r}: batch_size above 10 needs a batching window"
                )
        for consumer in self.stream_consumers:
            table = tables.get(consumer.table)
            if table is None:
                problems.append(f"stream consumer {consumer.name!r} reads unknown table {consumer.table!r}")
            elif not table.stream:
                problems.append(f"stream consumer {consumer.name!r}: table {consumer.table!r} has no stream")
            if not consumer.entities:
                problems.append(f"stream consumer {consumer.name!r} lists no entities")
            if not 1 <= consumer.batch_size <= 10_000:
                problems.append(f"stream consumer {consumer.name!r}: batch_size must be 1..10000")
            if not 0 <= consumer.max_batching_window_seconds <= 300:
                problems.append(f"stream consumer {consumer.name!r}: batching window must be 0..300 s")
        for schedule in self.schedules:
            if not schedule.cron.startswith(("rate(", "cron(", "at(")):
                problems.append(
                    f"schedule {schedule.name!r}: {schedule.cron!r} is not a Scheduler expression "
                    "(rate(...), cron(...) or at(...))"
                )
            if "schedule" in schedule.payload:
                problems.append(f"schedule {schedule.name!r}: the payload key 'schedule' is reserved")
        for machine in self.state_machines:
            problems += _definition_problems(machine, set(tables))
        for spec in self.functions:
            problems += _table_access_problems(spec, tables)
        problems += self._needs_problems()
        if problems:
            raise WiringError("infra/wiring.py is inconsistent:\n- " + "\n- ".join(problems))
        return self

    def _trigger_problems(self) -> list[str]:
        """Every trigger reaches a function deployed for exactly that trigger (its own entry point)."""
        wanted: list[tuple[str, str, Trigger]] = [
            (f"route {r.method} {r.path}", r.function, "api") for r in self.routes
        ]
        wanted += [(f"subscription {s.name!r}", s.function, "queue") for s in self.subscriptions]
        wanted += [(f"stream consumer {c.name!r}", c.function, "stream") for c in self.stream_consumers]
        wanted += [(f"schedule {s.name!r}", s.function, "schedule") for s in self.schedules]
        wanted += [
            (f"state machine {m.name!r} task ${{{placeholder}}}", fn, "task")
            for m in self.state_machines
            for placeholder, fn in m.tasks.items()
        ]
        if self.email_feedback_function is not None:
            wanted.append(("SES feedback", self.email_feedback_function, "topic"))
        triggers = {spec.name: spec.trigger for spec in self.functions}
        return [
            f"{user} targets {fn!r}, a {triggers[fn]!r} function: it needs a {trigger!r} function "
            f"(entry point {trigger}_handler)"
            for user, fn, trigger in wanted
            if fn in triggers and triggers[fn] != trigger
        ]

    def _needs_problems(self) -> list[str]:
        """Each need names a declared secret, bucket or state machine, with actions of its service."""
        problems: list[str] = []
        secrets = {secret.name for secret in self.secrets}
        buckets = {bucket.name for bucket in self.buckets}
        machines = {machine.name for machine in self.state_machines}
        for spec in self.functions:
            where = f"function {spec.name!r}"
            problems += [
                f"{where} reads unknown secret {name!r}" for name in spec.secrets if name not in secrets
            ]
            for access in spec.buckets:
                if access.bucket not in buckets:
                    problems.append(f"{where} uses unknown bucket {access.bucket!r}")
                if not access.actions or not all(a.startswith("s3:") for a in access.actions):
                    problems.append(
                        f"{where} must list S3 (s3:) actions on {access.bucket!r}, got {access.actions}"
                    )
            for workflow in spec.workflows:
                if workflow.state_machine not in machines:
                    problems.append(f"{where} drives unknown state machine {workflow.state_machine!r}")
                if not workflow.actions or not all(a.startswith("states:") for a in workflow.actions):
                    problems.append(
                        f"{where} must list Step Functions (states:) actions, got {workflow.actions}"
                    )
            # One STATE_MACHINE_ARN variable per function: a function drives at most one state machine.
            if len({access.state_machine for access in spec.workflows}) > 1:
                problems.append(
                    f"{where} drives {len(spec.workflows)} state machines (it has one STATE_MACHINE_ARN)"
                )
        if any("email" in spec.sends for spec in self.functions) and self.email_feedback_function is None:
            problems.append("functions send e-mail but no function receives SES feedback")
        return problems


def _definition_problems(machine: StateMachineSpec, known_tables: set[str]) -> list[str]:
    """The ASL file exists, is JSON, and its `${Name}` placeholders are exactly the declared tasks and
    table accesses, each table one the wiring declares."""
    path = REPOSITORY_ROOT / machine.definition_file
    if not path.is_file():
        return [f"state machine {machine.name!r}: definition file {machine.definition_file} does not exist"]
    text = path.read_text()
    placeholders = set(PLACEHOLDER.findall(text))
    declared = set(machine.tasks) | {access.placeholder for access in machine.tables}
    problems = [
        f"state machine {machine.name!r}: ${{{name}}} in {machine.definition_file} is not in its tasks "
        "or tables"
        for name in sorted(placeholders - declared)
    ]
    table_placeholders = {access.placeholder for access in machine.tables}
    problems += [
        f"state machine {machine.name!r}: {'table access' if name in table_placeholders else 'task'} "
        f"{name!r} is declared but {machine.definition_file} never uses ${{{name}}}"
        for name in sorted(declared - placeholders)
    ]
    problems += [
        f"state machine {machine.name!r}: table access {access.placeholder!r} names unknown table "
        f"{access.table!r}"
        for access in machine.tables
        if access.table not in known_tables
    ]
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(f"state machine {machine.name!r}: {machine.definition_file} is not JSON ({error})")
    return problems


# Item-level reads: each request names its partition key(s), so `dynamodb:LeadingKeys` bounds them.
_KEYED_READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}


def _table_access_problems(spec: FunctionSpec, tables: dict[str, TableSpec]) -> list[str]:
    """Each grant names a known table (and index) and item-level actions only; item access to the main
    table is always bounded by key prefixes."""
    problems: list[str] = []
    for access in spec.table_access:
        where = f"function {spec.name!r} table access {access.actions} on {access.table!r}"
        table = tables.get(access.table)
        if table is None:
            problems.append(f"{where}: unknown table")
            continue
        unknown = set(access.actions) - _KEYED_READS - _WRITES - {"dynamodb:Scan"}
        if unknown or not access.actions:
            problems.append(f"{where}: not an item-level DynamoDB action: {sorted(unknown) or 'none'}")
        if access.index is not None:
            if access.index not in table.global_indexes:
                problems.append(f"{where}: {access.table!r} has no index {access.index!r}")
            if set(access.actions) - {"dynamodb:Query"}:
                problems.append(f"{where}: an index grant allows Query only")
        if "dynamodb:Scan" in access.actions and (access.key_prefixes or len(access.actions) > 1):
            # A Scan names no partition key: under ForAllValues a LeadingKeys condition would hold for it
            # vacuously, so it gets a statement of its own, visibly unconditioned.
            problems.append(f"{where}: Scan must be granted alone and without key prefixes")
        # The main table holds every domain's items: item access to it is always bounded by prefix.
        if access.table == wiring.MAIN_TABLE.logical_name and not access.key_prefixes:
            keyed = set(access.actions) & (_KEYED_READS | _WRITES)
            if keyed:
                problems.append(f"{where}: {sorted(keyed)} need key prefixes (dynamodb:LeadingKeys)")
    return problems


def _duplicates(kind: str, names: Iterable[str]) -> list[str]:
    return [
        f"{kind} {name!r} is declared {count} times" for name, count in Counter(names).items() if count > 1
    ]
