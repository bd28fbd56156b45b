"""The order-lifecycle ASL is valid (asl-validator, pinned in package.json) with its task placeholders
substituted exactly as the stack and the local runtime substitute them, and every branch that can
leave money taken or stock held goes through a compensating task before it ends."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.wiring import ORDER_LIFECYCLE, STATE_MACHINES, StateMachineSpec

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
FAKE_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:{name}"


def substituted(spec: StateMachineSpec) -> str:
    text = (ROOT / spec.definition_file).read_text()
    for placeholder, function in spec.tasks.items():
        text = text.replace("${" + placeholder + "}", FAKE_ARN.format(name=function))
    for access in spec.tables:
        text = text.replace("${" + access.placeholder + "}", f"cloudtill-{access.table.lower()}")
    return text


def lifecycle() -> dict[str, Any]:
    spec = next(s for s in STATE_MACHINES if s.name == ORDER_LIFECYCLE)
    return dict(json.loads(substituted(spec)))


@pytest.mark.parametrize("spec", STATE_MACHINES, ids=[s.name for s in STATE_MACHINES])
def test_every_placeholder_is_declared_and_the_definition_validates(
    spec: StateMachineSpec, tmp_path: Path
) -> None:
    text = substituted(spec)
    assert not re.findall(r"\$\{\w+\}", text), "placeholders without a task function or table in the wiring"
    if not VALIDATOR.exists() or shutil.which("node") is None:
        pytest.fail("asl-validator is not installed: run `npm ci`")
    path = tmp_path / "definition.asl.json"
    path.write_text(text)
    result = subprocess.run(
        [str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_definition_is_refused(tmp_path: Path) -> None:
    broken = lifecycle()
    broken["States"]["ConfirmOrder"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    result = subprocess.run(
        [str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0


def test_tasks_retry_transient_errors_and_catch_everything_else() -> None:
    states = lifecycle()["States"]
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        if ":aws-sdk:dynamodb:" in state["Resource"]:
            # Direct DynamoDB calls retry throttling and DynamoDB's own transient errors
            assert {
                "DynamoDb.ProvisionedThroughputExceededException",
                "DynamoDb.ThrottlingException",
                "DynamoDb.InternalServerErrorException",
            } <= retried, name
        else:
            assert {
                "TransientError",
                "Lambda.ServiceException",
                "Lambda.TooManyRequestsException",
            } <= retried, name
        assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


def test_the_payment_wait_times_out_into_the_expiry_compensation() -> None:
    await_payment = lifecycle()["States"]["AwaitPayment"]
    assert await_payment["Resource"].endswith(":dynamodb:updateItem.waitForTaskToken")
    assert await_payment["TimeoutSecondsPath"] == "$.payment_timeout_seconds"
    timeout = next(c for c in await_payment["Catch"] if "States.Timeout" in c["ErrorEquals"])
    assert timeout["Next"] == "ExpireCheckout"


def test_permanent_failures_compensate_before_a_fail_state() -> None:
    states = lifecycle()["States"]
    # Payment taken but no order possible: release + refund first, then a Fail the stack alarms on.
    assert states["ConfirmOrder"]["Catch"][0]["Next"] == "AbandonCheckout"
    assert states["AbandonCheckout"]["Next"] == "ConfirmationFailed"
    assert states["ConfirmationFailed"]["Type"] == "Fail"
    # A compensation that keeps failing ends in its own Fail state.
    for name in ("ExpireCheckout", "AbandonCheckout", "RejectPayment", "CancelOrder"):
        assert states[name]["Catch"][0]["Next"] == "CompensationFailed", name
    assert states["CompensationFailed"]["Type"] == "Fail"
