"""Which functions call Step Functions, on which state machine, with which IAM actions.

Plain data next to `infra/wiring.py` (which declares the state machines and their task functions):
this is the other direction, the functions that *drive* a workflow through `cloudtill.workflow`'s
adapter. Each client gets `STATE_MACHINE_ARN` in its environment and exactly these actions on that
one state machine; every other function gets neither. `tests/infra` checks the list against the code
(the handlers that build the adapter, and the boto3 calls the adapter makes), so it cannot rot.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.wiring import ORDER_LIFECYCLE


@dataclass(frozen=True)
class WorkflowClient:
    """`function` calls `actions` (IAM action names) on the state machine `state_machine`."""

    state_machine: str
    function: str
    actions: tuple[str, ...]


# What `cloudtill.workflow.StepFunctionsWorkflow` calls: `start` -> StartExecution, `resume` ->
# SendTaskSuccess. Nothing calls SendTaskFailure/Heartbeat, DescribeExecution or StopExecution.
START_EXECUTION = "states:StartExecution"
SEND_TASK_SUCCESS = "states:SendTaskSuccess"

WORKFLOW_CLIENTS: tuple[WorkflowClient, ...] = (
    # POST /checkouts starts the checkout's order lifecycle (one execution named after it).
    WorkflowClient(ORDER_LIFECYCLE, "checkout", (START_EXECUTION,)),
    # Admin fulfilment/delivery/cancel/returns and the lifecycle's own tasks wake the waiting task.
    WorkflowClient(ORDER_LIFECYCLE, "orders", (SEND_TASK_SUCCESS,)),
    # The `payment_intent.succeeded` webhook resumes the AwaitPayment task.
    WorkflowClient(ORDER_LIFECYCLE, "payments", (SEND_TASK_SUCCESS,)),
)
