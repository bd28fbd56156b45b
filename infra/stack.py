"""One self-contained regional stack: data, messaging, every domain's functions, the API."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from aws_cdk import Environment, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import wiring
from infra.acknowledgements import acknowledge, skip_checkov
from infra.constructs.api import Api
from infra.constructs.data import DataTables
from infra.constructs.domain import DomainFunctions
from infra.constructs.eventing import Eventing
from infra.constructs.messaging import Messaging
from infra.constructs.notifications import NotificationsDomain
from infra.constructs.operations import Operations
from infra.constructs.registry import domain_construct
from infra.constructs.reporting import ReportingDomain
from infra.constructs.schedules import Schedules
from infra.constructs.workflows import Workflows, client_state_machine_arns
from infra.declaration import Declaration
from infra.function_factory import FUNCTIONS_DIR, FunctionDependencies, FunctionFactory
from infra.region_settings import RegionSettings, StageSettings
from infra.stateful import retain_stateful_resources


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
        dependencies = FunctionDependencies(
            tables=self.data,
            event_bus=self.messaging.event_bus,
            stripe_secret=self._stripe_secret(stage) if any(f.uses_stripe for f in functions) else None,
            state_machine_arns=client_state_machine_arns(self, stage.stage, declaration),
        )
        self.function_factory = FunctionFactory(
            self,
            "Functions",
            region=region,
            stage=stage,
            dependencies=dependencies,
            layer_dirs=layer_dirs,
            functions_dir=functions_dir,
        )

        specs_by_domain: dict[str, list[wiring.FunctionSpec]] = defaultdict(list)
        for spec in functions:
            specs_by_domain[spec.domain].append(spec)
        self.domains: dict[str, DomainFunctions] = {
            domain: domain_construct(domain)(
                self,
                _pascal(domain),
                factory=self.function_factory,
                dependencies=dependencies,
                specs=tuple(specs),
            )
            for domain, specs in specs_by_domain.items()
        }
        self.functions: dict[str, lambda_.Function] = dict(self.function_factory.functions)
        # Cross-domain: ReportReady e-mails link to the report, so notifications may read reports/*.
        reporting, notifications = self.domains.get("reporting"), self.domains.get("notifications")
        if isinstance(reporting, ReportingDomain) and isinstance(notifications, NotificationsDomain):
            notifications.link_reports(reporting.reports_bucket)

        self.api = Api(
            self, "Api", stage=stage, region=region, routes=declaration.routes, functions=self.functions
        )
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
            functions=self.functions,
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
            functions=self.functions,
            operations=self.operations,
        )
        self.workflows = Workflows(
            self,
            "Workflows",
            stage=stage,
            declaration=declaration,
            functions=self.functions,
            tables=self.data.tables,
            operations=self.operations,
        )
        # DLQs a domain construct made for itself (e.g. SES feedback) alarm like every other DLQ.
        for domain in self.domains.values():
            for dlq_name, dlq in getattr(domain, "dead_letter_queues", {}).items():
                self.operations.watch_dead_letter_queue(dlq_name, dlq)
        # Last: the dashboard shows every alarm, DLQ and workflow built above.
        self.operations.build_dashboard()
        if stage.retain_stateful_resources:
            retain_stateful_resources(self)

    def _stripe_secret(self, stage: StageSettings) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            "StripeSecret",
            secret_name=f"cloudtill/{stage.stage}/stripe",
            description="Stripe API key and webhook signing secret (JSON: api_key, webhook_secret)",
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "The Stripe key is issued and rolled in the Stripe dashboard; Secrets Manager cannot "
            "rotate it. Operators roll it per the runbook in docs/infrastructure.md.",
        )
        skip_checkov(
            secret,
            "CKV_AWS_149",
            "Encrypted with the AWS managed key (aws/secretsmanager); only this account's Stripe functions "
            "read it, so a customer managed key would add a key policy without a reader to keep out.",
        )
        return secret


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
