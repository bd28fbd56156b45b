"""SCHEDULES from the wiring: one EventBridge Scheduler schedule per entry, invoking its function.

Each schedule has its own role that may invoke only that function (and send to its DLQ), a retry
policy, a DLQ with an alarm, and the region's time zone unless the wiring names one. The input is
what the local scheduler sends (`localrt.scheduler.schedule_event`): the schedule's name, the time
it was due and the wiring's payload; functions dispatch on the `schedule` key.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnResource, Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from infra.acknowledgements import acknowledge
from infra.constructs.operations import Operations
from infra.constructs.queues import dead_letter_queue
from infra.declaration import Declaration
from infra.wiring import Schedule

# A missed run is retried for a while, then parked in the DLQ; the next run comes anyway.
RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(1)


def schedule_input(schedule: Schedule) -> dict[str, str]:
    return {
        "schedule": schedule.name,
        "time": scheduler.ContextAttribute.scheduled_time,
        **schedule.payload,
    }


class Schedules(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        default_timezone: str,
        declaration: Declaration,
        functions: Mapping[str, lambda_.IFunction],
        operations: Operations,
    ) -> None:
        super().__init__(scope, construct_id)
        self.schedules: dict[str, scheduler.Schedule] = {}
        for schedule in declaration.schedules:
            scope_ = Construct(self, schedule.name)
            function = functions[schedule.function]
            name = f"cloudtill-{stage}-{schedule.name}"
            dlq = dead_letter_queue(
                scope_,
                "Dlq",
                queue_name=f"{name}-dlq",
                fed_by=f"the {schedule.name} schedule (invocations Scheduler gave up on)",
            )
            # The construct would share one role among schedules; one each keeps a role's reach
            # to exactly one function.
            role = iam.Role(
                scope_,
                "Role",
                assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                description=f"EventBridge Scheduler: invoke {schedule.function} for {schedule.name}",
            )
            self.schedules[schedule.name] = scheduler.Schedule(
                scope_,
                "Schedule",
                schedule_name=name,
                description=f"{schedule.cron} -> {schedule.function}",
                schedule=scheduler.ScheduleExpression.expression(
                    schedule.cron, TimeZone.of(schedule.timezone or default_timezone)
                ),
                target=scheduler_targets.LambdaInvoke(
                    function,
                    input=scheduler.ScheduleTargetInput.from_object(schedule_input(schedule)),
                    role=role,
                    dead_letter_queue=dlq,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                ),
            )
            _acknowledge_function_versions(role, function)
            operations.watch_dead_letter_queue(f"schedule-{schedule.name}", dlq)


def _acknowledge_function_versions(role: iam.Role, function: lambda_.IFunction) -> None:
    """`grant_invoke` allows `<function arn>` and `<function arn>:*` (its versions and aliases)."""
    function_resource = function.node.default_child
    assert isinstance(function_resource, CfnResource)
    logical_id = Stack.of(function).get_logical_id(function_resource)
    acknowledge(
        role.node.find_child("DefaultPolicy"),
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
        "Invoke permission on this one function's own versions and aliases (<function arn>:*), "
        "which CDK's grant_invoke adds next to the function ARN; no other function is reachable.",
    )
