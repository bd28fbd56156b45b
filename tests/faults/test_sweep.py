"""Every scenario once fault-free, then once per (injection point, fault kind): the points are the calls
the fault-free run was seen to make (GET /_local/faults/points), so a new call site is covered by
itself. `make test` runs a fixed-seed sample (FAULTS_SAMPLE cases, FAULTS_SEED); `make faults` all."""

from __future__ import annotations

import os
import random
import time
from datetime import datetime
from typing import Any

import pytest

from tests.faults import reconcile
from tests.faults.matrix import MATRIX, RunResult
from tests.faults.scenarios import SCENARIOS, Flow, Run, setup

SAMPLE = int(os.environ.get("FAULTS_SAMPLE", "8"))
SEED = int(os.environ.get("FAULTS_SEED", "13"))
FULL = os.environ.get("FAULTS_FULL") == "1"
# Only the cases whose `scenario|point|fault` contains one of these comma-separated strings (with
# FAULTS_FULL: all of those), e.g. to run again what a sweep found.
MATCH = [m for m in os.environ.get("FAULTS_MATCH", "").split(",") if m]
# The expiry sweep runs every minute: a checkout whose workflow failed is final by then at the latest.
SWEEP_PERIOD_SECONDS = 60
# After the expiry: the workflow's compensations retry with backoff (1+2+4+8+16 s) before they give up.
SETTLE_SLACK_SECONDS = 45
EXPIRY_GRACE_SECONDS = 3
EXPIRY_SWEEP = "release-expired-checkouts"
# The sweeps that finish what a dead attempt left (every 5 minutes in the stack, after a claim is 5
# minutes stale or a payment 15 minutes without an order), run at the end of a run with those waits
# cut to zero: the run is quiet by then, so nothing they take over is still in flight.
RECOVERY_SWEEPS = {
    "settle-stuck-refunds": {"stale_after_seconds": 0},
    "settle-paid-checkouts": {"grace_seconds": 0},
}
RECOVERY_SECONDS = 30

Case = tuple[str, str, str]  # scenario, point label, kind


def kinds_for(point: dict[str, Any]) -> tuple[str, ...]:
    """Which faults a point can suffer: API calls fail or crash their caller; deliveries repeat
    (webhooks also arrive out of order); the state machine's own calls fail (it does not crash)."""
    operation = point["operation"]
    if operation.startswith("Webhook("):
        return ("duplicate", "reorder")
    if operation.startswith("Deliver("):
        return ("duplicate",)
    if point["caller"] == "states":
        return ("error",)
    return ("error", "crash_after")


def _label(point: dict[str, Any]) -> str:
    return f"{point['caller']}:{point['service']}:{point['operation']}"


def _point_of(label: str) -> dict[str, str]:
    caller, service, operation = label.split(":", 2)
    return {"caller": caller, "service": service, "operation": operation}


def _observed(flow: Flow) -> dict[str, int]:
    points = flow.api.get("/_local/faults/points").json()["points"]
    return {_label(p): int(p["count"]) for p in points}


def _quiet(flow: Flow, run: Run) -> bool:
    for checkout in reconcile.customer_checkouts(flow.backend, run.email):
        if checkout.get("status") not in reconcile.FINAL_CHECKOUT_STATUSES:
            return False
        cid = str(checkout["PK"]).removeprefix("CHECKOUT#")
        if reconcile.execution_status(flow.backend, cid) == "RUNNING":
            order = flow.admin.get(f"/admin/orders/{checkout.get('order_id')}")
            if (
                order.status_code != 200
                or order.json()["status"] not in reconcile.ORDER_STATUSES_AWAITING_OPS
            ):
                return False
    if flow.api.get("/_local/faults").json().get("pending_webhooks"):
        return False
    return not any(n for name, n in _queues(flow).items() if not name.endswith("-dlq"))


def _queues(flow: Flow) -> dict[str, int]:
    return {str(k): int(v) for k, v in flow.api.get("/_local/queues").json().items()}


def settle(flow: Flow, run: Run) -> None:
    """Wait until the run's checkouts are final, its executions ended and the queues are drained (twice
    in a row), or until its deadline. Once the latest checkout has expired the expiry sweep is run (the
    schedule runs it every minute; running it now only saves the wait): the deadline is then slack."""
    expiries = [
        datetime.fromisoformat(str(c["expires_at"])).timestamp()
        for c in reconcile.customer_checkouts(flow.backend, run.email)
        if c.get("expires_at")
    ]
    expired_at = max(expiries, default=time.time()) + EXPIRY_GRACE_SECONDS
    deadline = expired_at + SWEEP_PERIOD_SECONDS + SETTLE_SLACK_SECONDS
    calm, swept = 0, False
    while time.time() < deadline:
        calm = calm + 1 if _quiet(flow, run) else 0
        if calm == 2:
            return
        if not calm and not swept and time.time() > expired_at:
            flow.api.post(f"/_local/schedules/{EXPIRY_SWEEP}/run", json={})  # 502 if faulted: fine
            swept, deadline = True, time.time() + SETTLE_SLACK_SECONDS
        time.sleep(1.0)


def recover(flow: Flow, run: Run) -> None:
    """Run the recovery sweeps (a faulted sweep answers 502: it is a run like any other), then wait
    until the run is quiet again (twice in a row) or RECOVERY_SECONDS have passed."""
    for name, payload in RECOVERY_SWEEPS.items():
        flow.api.post(f"/_local/schedules/{name}/run", json=payload)
    deadline, calm = time.time() + RECOVERY_SECONDS, 0
    while time.time() < deadline:
        calm = calm + 1 if _quiet(flow, run) else 0
        if calm == 2:
            return
        time.sleep(1.0)


def execute(
    flow: Flow, scenario: str, label: str | None = None, kind: str = "none"
) -> tuple[RunResult, set[str]]:
    """One run: setup (not faulted), the fault armed, the scenario, quiescence, the reconciliation.
    Returns the result and the points the run was seen to call."""
    flow.api.delete("/_local/faults")
    run = setup(flow, scenario)
    before = _observed(flow)
    dead_before = _queues(flow)
    if label is not None:
        armed = flow.api.post("/_local/faults", json={"point": _point_of(label), "kind": kind})
        assert armed.status_code == 201, armed.text
    started = time.monotonic()
    SCENARIOS[scenario](flow, run)
    settle(flow, run)
    recover(flow, run)
    state = flow.api.get("/_local/faults").json()
    flow.api.delete("/_local/faults")
    seen = {p for p, n in _observed(flow).items() if n > before.get(p, 0)}
    reading = reconcile.read(flow.backend, flow.api, flow.admin, run.email, run.skus)
    for queue, depth in _queues(flow).items():
        # A dead-lettered message is an event whose effect never happened.
        if queue.endswith("-dlq") and depth > dead_before.get(queue, 0):
            reading.fail(
                "one_effect_per_event",
                f"{depth - dead_before.get(queue, 0)} message(s) dead-lettered in {queue}",
            )
    fired = sum(1 for f in state["fired"] if label and _label(f["point"]) == label and f["kind"] == kind)
    result = RunResult(
        scenario,
        label or "-",
        kind,
        fired,
        [f"{v.invariant}: {v.detail}" for v in reading.violations],
        [*run.steps, f"executions {sorted(set(reading.executions.values()))}"],
        time.monotonic() - started,
    )
    MATRIX.add(result)
    return result, seen


@pytest.fixture(scope="session")
def catalogue(flow: Flow) -> dict[str, RunResult]:
    """Each scenario fault-free, once: its result, and its points into MATRIX.points."""
    baselines = {}
    for scenario in SCENARIOS:
        result, seen = execute(flow, scenario)
        baselines[scenario] = result
        MATRIX.points[scenario] = seen
    return baselines


def _cases() -> list[Case]:
    cases = [
        (scenario, label, kind)
        for scenario in SCENARIOS
        for label in sorted(MATRIX.points.get(scenario, ()))
        for kind in kinds_for(_point_of(label))
    ]
    MATRIX.candidates = len(cases)
    if MATCH:
        cases = [c for c in cases if any(m in "|".join(c) for m in MATCH)]
    if FULL or len(cases) <= SAMPLE:
        return cases
    return sorted(random.Random(SEED).sample(cases, SAMPLE))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_fault_free_run_keeps_every_invariant(catalogue: dict[str, RunResult], scenario: str) -> None:
    result = catalogue[scenario]
    assert MATRIX.points[scenario], f"{scenario}: no injection point observed"
    assert not result.violations, f"{scenario} without faults: {result.violations} ({result.steps})"


@pytest.mark.timeout(0 if FULL else 1800)  # many runs in one test: the sweep is bounded by its deadlines
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_invariant_holds_under_each_fault(
    flow: Flow, catalogue: dict[str, RunResult], scenario: str
) -> None:
    failures = []
    for case_scenario, label, kind in _cases():
        if case_scenario != scenario:
            continue
        result, _ = execute(flow, scenario, label, kind)
        if result.violations:
            failures.append(f"{label} x {kind}: {result.violations} ({' > '.join(result.steps)})")
    assert not failures, f"{len(failures)} faulted runs of {scenario} broke invariants:\n" + "\n".join(
        failures
    )
