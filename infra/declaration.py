"""The wiring as one value the stack is built from, checked before any resource is created.

`Declaration.from_wiring()` reads `infra/wiring.py` at call time; tests build variants with
`dataclasses.replace` (a function using Stripe, one more subscription) without touching the
module. `validate()` turns a broken declaration (a route to an unknown function, a schedule name
used twice, a stream consumer on a table without a stream) into one clear error at synth time,
instead of a half-built stack or a KeyError deep inside a construct.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from infra import wiring
from infra.wiring import FunctionSpec, Route, Schedule, StreamConsumer, Subscription, TableSpec


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

    @classmethod
    def from_wiring(cls) -> Declaration:
        return cls(
            functions=wiring.FUNCTIONS,
            routes=wiring.ROUTES,
            subscriptions=wiring.SUBSCRIPTIONS,
            stream_consumers=wiring.STREAM_CONSUMERS,
            schedules=wiring.SCHEDULES,
            tables=wiring.TABLES,
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

        users: list[tuple[str, str]] = [(f"route {r.method} {r.path}", r.function) for r in self.routes]
        users += [(f"subscription {s.name!r}", s.function) for s in self.subscriptions]
        users += [(f"stream consumer {c.name!r}", c.function) for c in self.stream_consumers]
        users += [(f"schedule {s.name!r}", s.function) for s in self.schedules]
        problems += [
            f"{user} targets unknown function {fn!r}" for user, fn in users if fn not in function_names
        ]

        for subscription in self.subscriptions:
            if not subscription.detail_types:
                problems.append(f"subscription {subscription.name!r} lists no detail types")
            if not 1 <= subscription.batch_size <= 10_000:
                problems.append(f"subscription {subscription.name!r}: batch_size must be 1..10000")
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
        for schedule in self.schedules:
            if not schedule.cron.startswith(("rate(", "cron(", "at(")):
                problems.append(
                    f"schedule {schedule.name!r}: {schedule.cron!r} is not a Scheduler expression "
                    "(rate(...), cron(...) or at(...))"
                )
            if "schedule" in schedule.payload:
                problems.append(f"schedule {schedule.name!r}: the payload key 'schedule' is reserved")
        if problems:
            raise WiringError("infra/wiring.py is inconsistent:\n- " + "\n- ".join(problems))
        return self


def _duplicates(kind: str, names: Iterable[str]) -> list[str]:
    return [
        f"{kind} {name!r} is declared {count} times" for name, count in Counter(names).items() if count > 1
    ]
