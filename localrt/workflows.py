"""Step Functions' part: the wiring's state machines run in moto's execution mode, with the very same
ASL definition as the stack; their Lambda tasks reach the real handlers through the worker pools."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import urllib3
from moto.awslambda_simple.models import LambdaSimpleBackend

from infra.wiring import IDEMPOTENCY_TABLE, MAIN_TABLE, STATE_MACHINES, StateMachineSpec
from localrt.emulator import REGION, AwsEmulator
from localrt.functions import FunctionPool, InvocationError

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # moto's default account
# The local tables' names (the stack names its own); the state machines' `TableAccess` placeholders
# resolve to these.
TABLE_NAMES = {
    MAIN_TABLE.logical_name: "cloudtill-main",
    IDEMPOTENCY_TABLE.logical_name: "cloudtill-idempotency",
}


def function_arn(function: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def local_definition(spec: StateMachineSpec) -> str:
    """The ASL file with its `${Task}` placeholders replaced by the local function ARNs and its
    `${Table}` placeholders by the local table names."""
    text = (ROOT / spec.definition_file).read_text()
    for placeholder, function in spec.tasks.items():
        text = text.replace("${" + placeholder + "}", function_arn(function))
    for access in spec.tables:
        text = text.replace("${" + access.placeholder + "}", TABLE_NAMES[access.table])
    return text


def served_state_machines() -> set[tuple[str, str]]:
    """(name, definition file) of every state machine run locally."""
    return {(s.name, s.definition_file) for s in STATE_MACHINES}


def route_lambda_invocations(pools: dict[str, FunctionPool]) -> None:
    """moto invokes Lambda tasks through its Docker-free backend; send those to the real handlers."""

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        try:
            result = pools[name].invoke(json.loads(body or b"{}"))
        except InvocationError as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": error.error_type, "errorMessage": error.error_message}).encode()
        return json.dumps(result).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]


def start_workflows(emulator: AwsEmulator, pools: dict[str, FunctionPool]) -> None:
    # moto's documented switches: run state machines for real, and Lambda without Docker.
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    urllib3.request(
        "POST", f"{emulator.endpoint}/moto-api/config", body=json.dumps(config).encode(), timeout=10
    )
    route_lambda_invocations(pools)
    # moto's interpreter calls Lambda (and other services) at http://localhost:$MOTO_PORT, read when
    # each task runs; without this it tries moto's default port 5000 and every task fails.
    os.environ["MOTO_PORT"] = str(emulator.port)
    if not STATE_MACHINES:
        return
    stepfunctions = emulator.client("stepfunctions")
    for spec in STATE_MACHINES:
        stepfunctions.create_state_machine(
            name=spec.name,
            definition=local_definition(spec),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{spec.name}-local",
            type="STANDARD",
        )
