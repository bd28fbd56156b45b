"""EventBridge Scheduler's part: fires the wiring's schedules at their times, or now on request
(`POST /_local/schedules/{name}/run`, used by `make report` and the tests)."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from cloudtill.clock import iso

from infra.wiring import SCHEDULES, Schedule
from localrt.functions import FunctionPool

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def served_schedules() -> set[tuple[str, str, str]]:
    """(name, function, expression) of every schedule the local scheduler fires."""
    return {(s.name, s.function, s.cron) for s in SCHEDULES}


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a `rate(...)` expression; None for `cron(...)` (fired on request)."""
    found = _RATE.match(expression)
    if not found:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


def schedule_event(schedule: Schedule, payload: dict[str, Any]) -> dict[str, Any]:
    """What the Scheduler target receives: the schedule's configured input (plus overrides)."""
    return {"schedule": schedule.name, "time": iso(datetime.now(UTC)), **schedule.payload, **payload}


class Scheduler:
    def __init__(self, pools: dict[str, FunctionPool]) -> None:
        self._pools = pools
        self._schedules = {s.name: s for s in SCHEDULES}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._runs_lock = threading.Lock()
        self._runs: dict[str, int] = {}

    @property
    def names(self) -> set[str]:
        return set(self._schedules)

    @property
    def runs(self) -> dict[str, int]:
        """Invocations per function made by schedules since start (counted apart from what an order
        costs: a sweep runs whether or not anybody orders)."""
        with self._runs_lock:
            return dict(self._runs)

    def fire(self, name: str, payload: dict[str, Any] | None = None) -> Any:
        schedule = self._schedules[name]
        with self._runs_lock:
            self._runs[schedule.function] = self._runs.get(schedule.function, 0) + 1
        return self._pools[schedule.function].invoke(schedule_event(schedule, payload or {}))

    def _loop(self) -> None:
        due = {name: time.monotonic() + (rate_seconds(s.cron) or 0) for name, s in self._schedules.items()}
        while not self._stopped.wait(1.0):
            for name, schedule in self._schedules.items():
                every = rate_seconds(schedule.cron)
                if every is None or time.monotonic() < due[name]:
                    continue
                due[name] = time.monotonic() + every
                try:
                    self.fire(name)
                except Exception as error:  # a failed run is retried at the next tick, as Scheduler would
                    print(f"schedule {name} failed: {error}", flush=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
