"""Workflows from the wiring: one Step Functions Standard state machine per `STATE_MACHINES` entry.

The definition is the ASL file itself (the very file `localrt` runs in moto), inlined into the
template as `DefinitionString` so a review or `cdk diff` shows the workflow, with its `${Name}`
placeholders resolved by CloudFormation's `DefinitionSubstitutions` to the task functions' ARNs.

- The state machine's role may invoke exactly its task functions (their unqualified ARNs, which is
  what the ASL names), call exactly the table actions of its `TableAccess` entries on items under
  their partition-key prefixes (waiting tasks store their token with a direct DynamoDB call instead of
  a Lambda invocation), write its logs and traces, nothing else.
- Logs: every event (level ALL) to its own log group, **without execution data**: inputs and
  outputs carry shoppers' addresses and e-mails. X-Ray tracing on.
- Clients (functions whose spec lists `workflows`): each gets exactly its actions on that state machine.
  Their grants and `STATE_MACHINE_ARN` use the ARN built from the state machine's name, not a
  reference to it: the orders function is both a task of the state machine and a client, and a
  reference would make each wait for the other in CloudFormation.
- Failed, timed-out and aborted executions alarm (`Operations.watch_state_machine`).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.acknowledgements import LOG_GROUP_KMS_REASON, acknowledge, skip_checkov
from infra.constructs.operations import Operations
from infra.constructs.table_grants import grant_items_by_prefix
from infra.declaration import REPOSITORY_ROOT, Declaration
from infra.function_factory import log_removal_policy, log_retention
from infra.region_settings import StageSettings
from infra.wiring import StateMachineSpec

# Step Functions' recommended prefix: log groups under it share one CloudWatch Logs resource policy
# entry instead of growing the account's resource policy with every state machine.
LOG_GROUP_PREFIX = "/aws/vendedlogs/states/"


def state_machine_name(stage: str, name: str) -> str:
    return f"cloudtill-{stage}-{name}"


def state_machine_arn(scope: Construct, stage: str, name: str) -> str:
    """The ARN the state machine `name` will have in `scope`'s stack, known before it exists."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name(stage, name),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def state_machine_arns(scope: Construct, stage: str, declaration: Declaration) -> dict[str, str]:
    """State machine name -> its ARN, for every state machine a function drives (their
    STATE_MACHINE_ARN)."""
    return {
        access.state_machine: state_machine_arn(scope, stage, access.state_machine)
        for spec in declaration.functions
        for access in spec.workflows
    }


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageSettings,
        declaration: Declaration,
        functions: Mapping[str, lambda_.IFunction],
        tables: Mapping[str, dynamodb.ITable],
        operations: Operations,
    ) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage
        self._functions = functions
        self._tables = tables
        self.state_machines: dict[str, sfn.StateMachine] = {}
        for spec in declaration.state_machines:
            state_machine = self._state_machine(spec)
            self.state_machines[spec.name] = state_machine
            operations.watch_state_machine(spec.name, state_machine)
        for client in declaration.functions:
            for access in client.workflows:
                # By name (see the module docstring): grants on exactly this state machine's ARN.
                target = sfn.StateMachine.from_state_machine_arn(
                    self,
                    f"{_pascal(client.name)}Uses{_pascal(access.state_machine)}",
                    state_machine_arn(self, stage.stage, access.state_machine),
                )
                target.grant(functions[client.name], *access.actions)

    def _state_machine(self, spec: StateMachineSpec) -> sfn.StateMachine:
        construct_id = _pascal(spec.name)
        name = state_machine_name(self._stage.stage, spec.name)
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=f"{LOG_GROUP_PREFIX}{name}",
            retention=log_retention(self._stage),
            removal_policy=log_removal_policy(self._stage),
        )
        skip_checkov(log_group, "CKV_AWS_158", LOG_GROUP_KMS_REASON)
        state_machine = sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(
                (REPOSITORY_ROOT / spec.definition_file).read_text()
            ),
            definition_substitutions={
                **{
                    placeholder: self._functions[function].function_arn
                    for placeholder, function in spec.tasks.items()
                },
                **{access.placeholder: self._tables[access.table].table_name for access in spec.tables},
            },
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        task_functions = sorted(set(spec.tasks.values()))
        if task_functions:
            iam.Grant.add_to_principal(
                grantee=state_machine,
                actions=["lambda:InvokeFunction"],
                # Unqualified ARNs only: the ASL invokes `$LATEST`, never a version or alias.
                resource_arns=[self._functions[f].function_arn for f in task_functions],
            )
        for access in spec.tables:
            grant_items_by_prefix(
                state_machine,
                f"{_pascal(access.placeholder)}Items",
                list(access.actions),
                self._tables[access.table].table_arn,
                access.key_prefixes,
            )
        acknowledge(
            state_machine.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, ...) and X-Ray "
            "(xray:PutTraceSegments, GetSamplingRules, ...) support no resource-level permissions.",
        )
        return state_machine


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
