"""The one way a cloudtill Lambda function is built (arm64, layers, logs, tracing, environment).

Every function gets: its own folder as code (`functions/<name>`), the shared `cloudtill` layer and
the dependency layer, the Stripe layer and read access to the Stripe secret only with
`uses_stripe`, its own log group with the stage's retention, X-Ray active tracing, and the
environment from `infra.environment.function_environment` (the same one localrt uses).

Roles are created here with no AWS managed policy: the execution role may write to its own log
group and call the DynamoDB actions its spec's `table_access` declares (on those item-key prefixes),
and nothing else until a domain construct grants it more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import layer_build
from infra._shared_layer_path import SHARED_LAYER_ROOT
from infra.acknowledgements import LOG_GROUP_KMS_REASON, acknowledge, skip_checkov
from infra.constructs.data import DataTables
from infra.constructs.table_grants import grant_table_access
from infra.environment import function_environment
from infra.region_settings import RegionSettings, StageSettings
from infra.wiring import FunctionSpec

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
HANDLER = "handler.lambda_handler"
ARCHITECTURE = lambda_.Architecture.ARM_64
RUNTIME = lambda_.Runtime(f"python{layer_build.LAMBDA_PYTHON_VERSION}", lambda_.RuntimeFamily.PYTHON)
# Never ship local byte code, caches or tests inside an asset.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.mypy_cache", "**/tests"]


@dataclass(frozen=True)
class FunctionDependencies:
    """What the factory wires into every function's environment and grants."""

    tables: DataTables
    event_bus: events.IEventBus
    # None while no function in the wiring uses Stripe.
    stripe_secret: secretsmanager.ISecret | None
    # Function name -> ARN of the state machine it drives (`infra/workflow_clients.py`): its
    # STATE_MACHINE_ARN. Built from the state machine's name, so a function and a state machine
    # that invokes it do not depend on each other in CloudFormation.
    state_machine_arns: Mapping[str, str] = field(default_factory=dict)


def function_code_dir(spec: FunctionSpec, functions_dir: Path = FUNCTIONS_DIR) -> Path:
    code_dir = functions_dir / spec.code_folder
    if not code_dir.is_dir():
        raise FileNotFoundError(
            f"function {spec.name!r} is in infra/wiring.py but {code_dir} does not exist "
            f"(expected {code_dir}/handler.py with lambda_handler)"
        )
    return code_dir


class FunctionFactory(Construct):
    """Owns the layers shared by all functions and creates functions from `FunctionSpec`s."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        region: RegionSettings,
        stage: StageSettings,
        dependencies: FunctionDependencies,
        layer_dirs: dict[str, Path],
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        self._functions_dir = functions_dir
        self._region = region
        self._stage = stage
        self._dependencies = dependencies
        self._layer_dirs = layer_dirs
        self.functions: dict[str, lambda_.Function] = {}
        self.shared_layer = self._layer("SharedLayer", SHARED_LAYER_ROOT, "cloudtill shared package")
        self.deps_layer = self._layer(
            "DepsLayer", layer_dirs[layer_build.DEPS_LAYER].parent, "Third-party runtime dependencies"
        )
        # Created on first use, so a stack without Stripe functions has no Stripe layer.
        self._stripe_layer: lambda_.LayerVersion | None = None

    def _layer(self, construct_id: str, asset_root: Path, description: str) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(str(asset_root), exclude=[*ASSET_EXCLUDES, layer_build.STAMP_NAME]),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=description,
        )

    @property
    def region(self) -> RegionSettings:
        """The region's settings (e.g. the shop's sender address a domain construct verifies)."""
        return self._region

    @property
    def stripe_layer(self) -> lambda_.LayerVersion:
        if self._stripe_layer is None:
            self._stripe_layer = self._layer(
                "StripeLayer",
                self._layer_dirs["stripe"].parent,
                "Stripe SDK (only for functions calling Stripe)",
            )
        return self._stripe_layer

    def create(self, scope: Construct, spec: FunctionSpec) -> lambda_.Function:
        """Creates the function `spec` inside `scope` (its domain construct)."""
        if spec.name in self.functions:
            raise ValueError(f"function {spec.name!r} is declared twice in infra/wiring.py")
        construct_id = _pascal(spec.name)
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=log_retention(self._stage),
            removal_policy=log_removal_policy(self._stage),
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the cloudtill {spec.name} function",
        )
        log_group.grant_write(role)

        layers: list[lambda_.ILayerVersion] = [self.shared_layer, self.deps_layer]
        stripe_secret = self._dependencies.stripe_secret if spec.uses_stripe else None
        if spec.uses_stripe:
            if stripe_secret is None:
                raise ValueError(f"function {spec.name!r} uses Stripe but the stack has no Stripe secret")
            layers.append(self.stripe_layer)

        tables = self._dependencies.tables
        function = lambda_.Function(
            scope,
            construct_id,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(function_code_dir(spec, self._functions_dir)), exclude=ASSET_EXCLUDES
            ),
            layers=layers,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment=function_environment(
                spec,
                stage=self._stage.stage,
                shop=self._region.shop,
                table_name=tables.main.table_name,
                idempotency_table_name=tables.idempotency.table_name,
                event_bus_name=self._dependencies.event_bus.event_bus_name,
                stripe_secret_arn=stripe_secret.secret_arn if stripe_secret is not None else None,
                state_machine_arn=self._dependencies.state_machine_arns.get(spec.name),
            ),
        )
        if stripe_secret is not None:
            stripe_secret.grant_read(function)
        grant_table_access(function, spec, tables.tables)
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords support no resource-level "
            "permissions (https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html).",
        )
        _skip_checkov_function_checks(function, log_group)
        self.functions[spec.name] = function
        return function


def _skip_checkov_function_checks(function: lambda_.Function, log_group: logs.LogGroup) -> None:
    """The checkov checks every cloudtill function is exempt from, and why (docs/security.md)."""
    skip_checkov(
        function,
        "CKV_AWS_116",
        "No invocation of this function needs a function-level DLQ: API Gateway, Step Functions and event "
        "source mappings invoke synchronously (SQS redrive DLQs, the stream's on-failure queue); SNS "
        "feedback has an on-failure destination (EventInvokeConfig); schedules are sweeps re-run on the "
        "next tick, with a Scheduler DLQ and an Errors alarm.",
    )
    skip_checkov(
        function,
        "CKV_AWS_117",
        "Talks only to AWS public endpoints (DynamoDB, EventBridge, Step Functions, SES, S3) and Stripe; "
        "a VPC would add NAT gateways and endpoints without a private resource to reach.",
    )
    skip_checkov(
        function,
        "CKV_AWS_115",
        "Concurrency is bounded upstream (stage throttling and WAF for the API, event source mapping "
        "batch/concurrency for queues); reserving it per function fails deployment on accounts at the "
        "default concurrency quota and turns a spike into throttles instead of queueing.",
    )
    skip_checkov(
        function,
        "CKV_AWS_173",
        "Environment holds names and settings only (secrets live in Secrets Manager); Lambda encrypts it "
        "at rest with its AWS managed key.",
    )
    skip_checkov(log_group, "CKV_AWS_158", LOG_GROUP_KMS_REASON)


def log_retention(stage: StageSettings) -> logs.RetentionDays:
    return logs.RetentionDays[_RETENTION_NAMES[stage.log_retention_days]]


def log_removal_policy(stage: StageSettings) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if stage.retain_logs else RemovalPolicy.DESTROY


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


# CloudWatch Logs retention in days -> the name of the aws_logs.RetentionDays member.
_RETENTION_NAMES = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
}
