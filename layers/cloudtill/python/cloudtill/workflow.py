"""The Step Functions port: start the order lifecycle of a checkout, resume a task waiting on a token.

`StepFunctionsWorkflow` is the adapter (boto3, created on first use); unit tests use the in-memory
fake in `tests/fakes.py`. Starting is idempotent by execution name (the checkout id): a second start
of the same checkout is answered by `ExecutionAlreadyExists` and ignored. A task token can be stale
(the task timed out, or was resumed already): resuming then reports False instead of raising, because
every caller has a fallback (the waiting task checks the state itself when it stores its token).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from botocore.exceptions import ClientError

# SendTask* errors meaning "this token is not waiting any more" (expired, resumed or unknown).
_STALE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class Workflow(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> bool:
        """Start one execution named `name`; False when it exists already (nothing started)."""
        ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Complete the task waiting on `task_token` with `output`; False when the token is stale."""
        ...


class StepFunctionsWorkflow:
    def __init__(self, state_machine_arn: str | None, client: Any | None = None) -> None:
        self._arn = state_machine_arn
        self._client = client

    def _sfn(self) -> Any:
        if self._client is None:
            import boto3  # lazily: only code paths that touch the workflow pay for the client

            self._client = boto3.client("stepfunctions")
        return self._client

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        if not self._arn:
            raise RuntimeError("STATE_MACHINE_ARN is not configured for this function")
        try:
            self._sfn().start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        try:
            self._sfn().send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _STALE_TOKEN_ERRORS:
                return False
            raise
        return True
