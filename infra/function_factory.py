"""The one way a cloudtill Lambda function is built (arm64, layers, logs, tracing, environment, grants).

Every function gets: its code folder as code (`functions/<code_folder>`, built with byte code by
`infra.layer_build.ensure_function_code`) with its trigger's entry point (`handler.<trigger>_handler`),
the shared `cloudtill` layer and the dependency layer, its own log group with the stage's retention,
X-Ray active tracing, and the environment from
`infra.environment.function_environment` (the same one localrt uses).

Roles are created here with no AWS managed policy. The execution role may write to its own log group
and do exactly what its spec's needs declare: the DynamoDB actions of `table_access` (on those
item-key prefixes), read its `secrets` (each bringing its SDK layer), its `buckets` objects under the
bucket's prefix, and PutEvents with `puts_events`. Workflow clients are granted by the workflows
construct, e-mail and SMS senders by the notifications construct, triggers with their event sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import layer_build
from infra.acknowledgements import LOG_GROUP_KMS_REASON, acknowledge, skip_checkov
from infra.constructs.data import DataTables
from infra.constructs.table_grants import grant_table_access
from infra.environment import function_environment
from infra.region_settings import RegionSettings, StageSettings
from infra.wiring import BUCKETS, SECRETS, FunctionSpec

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
# The layer's asset root: `python/cloudtill` inside, as Lambda expects a layer's Python packages.
SHARED_LAYER_ROOT = Path(__file__).resolve().parent.parent / "layers" / "cloudtill"
HANDLER_MODULE = "handler"
_SECRETS = {secret.name: secret for secret in SECRETS}
_BUCKETS = {bucket.name: bucket for bucket in BUCKETS}
# What each SDK layer a secret brings is, as its description says.
LAYER_DESCRIPTIONS = {"stripe": "Stripe SDK (only for functions calling Stripe)"}
ARCHITECTURE = lambda_.Architecture.ARM_64
# With SnapStart (a stage setting) every invocation goes to this alias of the latest version.
LIVE_ALIAS = "live"
# Lambda supports SnapStart on every Python runtime from 3.12.
RUNTIME = lambda_.Runtime(
    f"python{layer_build.LAMBDA_PYTHON_VERSION}", lambda_.RuntimeFamily.PYTHON, supports_snap_start=True
)
# Assets are the built folders (infra/layer_build.py), whose `.pyc` were compiled by the runtime's
# CPython and must ship; caches, tests and the build stamp never do.
ASSET_EXCLUDES = ["**/.pytest_cache", "**/.mypy_cache", "**/tests", layer_build.STAMP_NAME]


@dataclass(frozen=True)
class FunctionDependencies:
    """What the factory wires into every function's environment and grants."""

    tables: DataTables
    event_bus: events.IEventBus
    # The stack's secrets and buckets by wiring name (only those some function needs).
    secrets: Mapping[str, secretsmanager.ISecret] = field(default_factory=dict)
    buckets: Mapping[str, s3.IBucket] = field(default_factory=dict)
    # State machine name -> its ARN: the STATE_MACHINE_ARN of the functions driving it. Built from the
    # state machine's name, so a function and a state machine that invokes it do not depend on each
    # other in CloudFormation.
    state_machine_arns: Mapping[str, str] = field(default_factory=dict)


def function_code_dir(spec: FunctionSpec, functions_dir: Path = FUNCTIONS_DIR) -> Path:
    code_dir = functions_dir / spec.code_folder
    if not code_dir.is_dir():
        raise FileNotFoundError(
            f"function {spec.name!r} is in infra/wiring.py but {code_dir} does not exist "
            f"(expected {code_dir}/handler.py with {spec.handler})"
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
        self._code_dirs = layer_build.ensure_function_code(functions_dir)
        self.functions: dict[str, lambda_.Function] = {}
        # What the API, event sources, schedules and state machines invoke: the function, or with
        # SnapStart its `live` alias (SnapStart applies to published versions only).
        self.invocation_targets: dict[str, lambda_.IFunction] = {}
        self.shared_layer = self._layer(
            "SharedLayer", layer_dirs[layer_build.SHARED_LAYER].parent, "cloudtill shared package"
        )
        self.deps_layer = self._layer(
            "DepsLayer", layer_dirs[layer_build.DEPS_LAYER].parent, "Third-party runtime dependencies"
        )
        # Created on first use, so a stack without Stripe functions has no Stripe layer.
        self._sdk_layers: dict[str, lambda_.LayerVersion] = {}

    def _layer(self, construct_id: str, asset_root: Path, description: str) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(str(asset_root), exclude=ASSET_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=description,
        )

    @property
    def region(self) -> RegionSettings:
        """The region's settings (e.g. the shop's sender address a domain construct verifies)."""
        return self._region

    def sdk_layer(self, name: str) -> lambda_.LayerVersion:
        """The layer `name` (built by `infra.layer_build`), for the functions reading its secret."""
        if name not in self._sdk_layers:
            self._sdk_layers[name] = self._layer(
                f"{_pascal(name)}Layer",
                self._layer_dirs[name].parent,
                LAYER_DESCRIPTIONS.get(name, f"{name} SDK"),
            )
        return self._sdk_layers[name]

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
        secrets = {name: self._dependencies.secrets[name] for name in spec.secrets}
        for name in spec.secrets:
            layer = _SECRETS[name].layer
            if layer is not None:
                layers.append(self.sdk_layer(layer))
        buckets = {access.bucket: self._dependencies.buckets[access.bucket] for access in spec.buckets}

        tables = self._dependencies.tables
        function = lambda_.Function(
            scope,
            construct_id,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"{HANDLER_MODULE}.{spec.handler}",
            code=lambda_.Code.from_asset(
                str(self._code_dirs[function_code_dir(spec, self._functions_dir).name]),
                exclude=ASSET_EXCLUDES,
            ),
            layers=layers,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if self._stage.snap_start else None,
            # A replaced version is deleted, so the SnapStart cache of old versions stops billing.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY)
            if self._stage.snap_start
            else None,
            environment=function_environment(
                spec,
                stage=self._stage.stage,
                shop=self._region.shop,
                table_name=tables.main.table_name,
                idempotency_table_name=tables.idempotency.table_name,
                event_bus_name=self._dependencies.event_bus.event_bus_name,
                secret_arns={name: secret.secret_arn for name, secret in secrets.items()},
                state_machine_arns=self._dependencies.state_machine_arns,
                bucket_names={name: bucket.bucket_name for name, bucket in buckets.items()},
            ),
        )
        for secret in secrets.values():
            secret.grant_read(function)
        grant_table_access(function, spec, tables.tables)
        for access in spec.buckets:
            _grant_bucket_access(
                function, role, access.bucket, buckets[access.bucket], access.actions, access.list
            )
        if spec.puts_events:
            self._dependencies.event_bus.grant_put_events_to(function)
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords support no resource-level "
            "permissions (https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html).",
        )
        _skip_checkov_function_checks(function, log_group)
        self.functions[spec.name] = function
        self.invocation_targets[spec.name] = (
            lambda_.Alias(
                scope, f"{construct_id}Live", alias_name=LIVE_ALIAS, version=function.current_version
            )
            if self._stage.snap_start
            else function
        )
        return function


def _grant_bucket_access(
    function: lambda_.Function,
    role: iam.Role,
    name: str,
    bucket: s3.IBucket,
    actions: tuple[str, ...],
    list_objects: bool,
) -> None:
    """Object `actions` under the bucket's prefix only (no other prefix, no bucket-level action except a
    listing limited to that prefix)."""
    prefix = f"{_BUCKETS[name].prefix}*"
    function.add_to_role_policy(
        iam.PolicyStatement(
            sid=f"{_pascal(name)}Objects", actions=list(actions), resources=[bucket.arn_for_objects(prefix)]
        )
    )
    if list_objects:
        # Only so that a missing object answers NoSuchKey (404 at the API) rather than AccessDenied.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid=f"List{_pascal(name)}",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [prefix]}},
            )
        )
    bucket_resource = bucket.node.default_child
    assert isinstance(bucket_resource, CfnResource)
    bucket_id = Stack.of(bucket).get_logical_id(bucket_resource)
    acknowledge(
        role.node.find_child("DefaultPolicy"),
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}]",
        f"The {name} bucket's objects live under {prefix} (a new key every day): "
        f"{', '.join(actions)} on that prefix only.",
    )


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
