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
            # (Step Functions names them with the `Exception` suffix even where DynamoDB does not)
            assert {
                "DynamoDb.ProvisionedThroughputExceededException",
                "DynamoDb.ThrottlingException",
                "DynamoDb.RequestLimitExceededException",
                "DynamoDb.InternalServerErrorException",
                "DynamoDb.TransactionConflictException",
            } <= retried, name
        else:
            # TransientError: what cloudtill.ddb.is_transient recognises, and our own races. Every task
            # is idempotent, so a Lambda that died mid-way (timeout after a committed write:
            # Lambda.Unknown; a crashed runtime: Runtime.ExitError; a function timeout:
            # Sandbox.Timedout) is retried too rather than compensated.
            assert {
                "TransientError",
                "Lambda.ServiceException",
                "Lambda.TooManyRequestsException",
                "Lambda.Unknown",
                "Runtime.ExitError",
                "Sandbox.Timedout",
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
    abandoned = states[states["AbandonCheckout"]["Next"]]
    assert abandoned["Default"] == "ConfirmationFailed"
    assert states["ConfirmationFailed"]["Type"] == "Fail"
    # A compensation that keeps failing ends in its own Fail state.
    for name in (
        "ExpireCheckout",
        "AbandonCheckout",
        "RejectPayment",
        "CancelOrder",
        "AbandonUnwatchedCheckout",
    ):
        assert states[name]["Catch"][0]["Next"] == "CompensationFailed", name
    assert states["CompensationFailed"]["Type"] == "Fail"


def test_a_confirmation_that_committed_before_failing_goes_on_with_its_order() -> None:
    # AbandonCheckout finds the checkout completed (the order was confirmed; only the answer was
    # lost): the execution waits for the order's fulfilment instead of failing and leaving a cancel
    # request nobody serves.
    states = lifecycle()["States"]
    choice = states[states["AbandonCheckout"]["Next"]]
    assert choice["Type"] == "Choice"
    (completed,) = [c for c in choice["Choices"] if c.get("StringEquals") == "completed"]
    assert completed["Variable"] == "$.compensation.outcome"
    after = states[completed["Next"]]
    assert after["Parameters"]["order_id.$"] == "$.compensation.order_id"
    assert after["Next"] == "NothingShippedYet"
    assert states["AbandonCheckout"]["ResultSelector"]["order_id.$"] == "$.Payload.order_id"


def test_a_payment_wait_that_fails_closes_the_checkout_at_once() -> None:
    # AwaitPayment (or the read after its lost race) failing for good: nobody waits for the payment,
    # so the checkout is cancelled now (PaymentIntent cancelled, or refunded if paid), not left
    # payable until it expires.
    states = lifecycle()["States"]
    for name in ("AwaitPayment", "ReadPaymentOutcome"):
        failure = next(c for c in states[name]["Catch"] if c["ErrorEquals"] == ["States.ALL"])
        assert failure["Next"] == "AbandonUnwatchedCheckout", name
    task = states["AbandonUnwatchedCheckout"]
    assert task["Parameters"]["Payload"] == {
        "task": "abandon_checkout",
        "checkout_id.$": "$.checkout_id",
        "reason": "payment_wait_failed",
    }
    assert states[task["Next"]]["Type"] == "Fail"
