"""One self-contained regional stack: data, messaging, every domain's functions, the API."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Environment, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.acknowledgements import acknowledge, skip_checkov
from infra.constructs.api import Api
from infra.constructs.buckets import bucket
from infra.constructs.data import DataTables
from infra.constructs.eventing import Eventing
from infra.constructs.messaging import Messaging
from infra.constructs.notifications import Email, grant_sms
from infra.constructs.operations import Operations
from infra.constructs.schedules import Schedules
from infra.constructs.workflows import Workflows, state_machine_arns
from infra.declaration import Declaration
from infra.function_factory import FUNCTIONS_DIR, FunctionDependencies, FunctionFactory
from infra.region_settings import RegionSettings, StageSettings
from infra.stateful import retain_stateful_resources
from infra.wiring import SecretSpec


def stack_name(stage: str, region: str) -> str:
    return f"cloudtill-{stage}-{region}"


class CloudtillStack(Stack):
    def __init__(
        self,
        scope: Construct,
        *,
        stage: StageSettings,
        region: RegionSettings,
        layer_dirs: dict[str, Path],
        account: str | None = None,
        declaration: Declaration | None = None,
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        declaration = (declaration or Declaration.from_wiring()).validate()
        functions = declaration.functions
        name = stack_name(stage.stage, region.region)
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=Environment(account=account, region=region.region),
            description=f"cloudtill {stage.stage} in {region.region} ({region.shop.currency})",
        )
        Tags.of(self).add("app", "cloudtill")
        Tags.of(self).add("stage", stage.stage)

        self.declaration = declaration
        self.data = DataTables(self, "Data", specs=declaration.tables)
        self.messaging = Messaging(self, "Messaging", stage=stage.stage)
        # One construct per domain holds its functions (and the buckets and e-mail setup built for
        # them): plain scopes, so every resource keeps its logical ID.
        self.domains: dict[str, Construct] = {}
        for domain in [*(f.domain for f in functions), *(b.domain for b in declaration.buckets)]:
            if domain not in self.domains:
                self.domains[domain] = Construct(self, _pascal(domain))
        needed = {name for spec in functions for name in spec.secrets}
        needed_buckets = {access.bucket for spec in functions for access in spec.buckets}
        dependencies = FunctionDependencies(
            tables=self.data,
            event_bus=self.messaging.event_bus,
            secrets={s.name: self._secret(stage, s) for s in declaration.secrets if s.name in needed},
            buckets={
                b.name: bucket(self.domains[b.domain], b)
                for b in declaration.buckets
                if b.name in needed_buckets
            },
            state_machine_arns=state_machine_arns(self, stage.stage, declaration),
        )
        self.buckets = dict(dependencies.buckets)
        self.function_factory = FunctionFactory(
            self,
            "Functions",
            region=region,
            stage=stage,
            dependencies=dependencies,
            layer_dirs=layer_dirs,
            functions_dir=functions_dir,
        )
        self.functions: dict[str, lambda_.Function] = {
            spec.name: self.function_factory.create(self.domains[spec.domain], spec) for spec in functions
        }
        email: Email | None = None
        for spec in functions:
            if "email" in spec.sends:
                email = email or Email(self.domains[spec.domain], region.shop.sender_email)
                email.grant_send(spec, self.functions[spec.name])
            if "sms" in spec.sends:
                grant_sms(self.functions[spec.name])
        if email is not None and declaration.email_feedback_function is not None:
            email.deliver_feedback(self.functions[declaration.email_feedback_function])
        # What invocations target: the functions, or their SnapStart aliases.
        invoked = dict(self.function_factory.invocation_targets)

        self.api = Api(self, "Api", stage=stage, region=region, routes=declaration.routes, functions=invoked)
        self.operations = Operations(
            self,
            "Operations",
            stage=stage,
            region=region,
            functions=self.functions,
            rest_api=self.api.rest_api,
            routes=declaration.routes,
        )
        self.eventing = Eventing(
            self,
            "Eventing",
            stage=stage.stage,
            declaration=declaration,
            functions=invoked,
            tables=self.data.tables,
            event_bus=self.messaging.event_bus,
            operations=self.operations,
        )
        self.schedules = Schedules(
            self,
            "Schedules",
            stage=stage.stage,
            default_timezone=region.shop.timezone,
            declaration=declaration,
            functions=invoked,
            operations=self.operations,
        )
        self.workflows = Workflows(
            self,
            "Workflows",
            stage=stage,
            declaration=declaration,
            functions=invoked,
            tables=self.data.tables,
            operations=self.operations,
        )
        # The SES feedback DLQ alarms like every other DLQ.
        for dlq_name, dlq in (email.dead_letter_queues if email is not None else {}).items():
            self.operations.watch_dead_letter_queue(dlq_name, dlq)
        # Last: the dashboard shows every alarm, DLQ and workflow built above.
        if stage.dashboard:
            self.operations.build_dashboard()
        if stage.retain_stateful_resources:
            retain_stateful_resources(self)

    def _secret(self, stage: StageSettings, spec: SecretSpec) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            f"{_pascal(spec.name)}Secret",
            secret_name=f"cloudtill/{stage.stage}/{spec.name}",
            description=spec.description,
        )
        acknowledge(secret, "AwsSolutions-SMG4", spec.not_rotated_because)
        skip_checkov(
            secret,
            "CKV_AWS_149",
            "Encrypted with the AWS managed key (aws/secretsmanager); only this account's functions that "
            "declare the secret read it, so a customer managed key would add a key policy without a "
            "reader to keep out.",
        )
        return secret


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
