"""Operations: the ops alarm topic, alarms (functions, API, DLQs, business metrics, workflows), one
compact dashboard.

Alarms are created as things are built (`watch_dead_letter_queue`, `watch_state_machine`); the
stack calls `build_dashboard()` last, so the dashboard shows every DLQ and workflow the stack has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.environment import METRICS_NAMESPACE
from infra.region_settings import RegionSettings, StageSettings
from infra.wiring import Route

ALARM_PERIOD = Duration.minutes(5)
GRAPH_PERIOD = Duration.minutes(1)
# CloudWatch allows at most 10 metrics in one metric-math alarm.
MAX_METRICS_PER_ALARM = 10


@dataclass(frozen=True)
class ServiceMetricAlarm:
    """An alarm on a function's own EMF metric (Powertools: namespace `cloudtill`, dimension `service`)."""

    service: str
    metric: str
    threshold: int
    description: str


# Created when the service is part of the stack (so they appear as the functions land).
SERVICE_METRIC_ALARMS: tuple[ServiceMetricAlarm, ...] = (
    ServiceMetricAlarm(
        service="payments",
        metric="WebhookSignatureRejected",
        # One rejected request is a scanner; a handful in 5 minutes is usually a webhook signing
        # secret rolled in Stripe but not in Secrets Manager (every real event is rejected).
        threshold=5,
        description="Stripe webhook requests failed signature verification (rolled signing secret?).",
    ),
    ServiceMetricAlarm(
        # The sweep's own function (its metrics carry its name as `service`).
        service="checkout-expiry",
        metric="CheckoutExpiryFailed",
        # Each run retries the failed ones; one failing run after another holds their stock.
        threshold=1,
        description="Expired checkouts could not be released (their stock stays held until a run succeeds).",
    ),
    ServiceMetricAlarm(
        service="order-sweeps",
        metric="PaidCheckoutSettleFailed",
        threshold=1,
        description="A paid checkout without an order could not be refunded yet (retried every 5 minutes).",
    ),
)
# Functions whose API 5xx answers (per route, summed) page the ops topic on their own: a handled
# 500 is not a Lambda error, so the function error alarm alone would miss it.
API_5XX_ALARM_FUNCTIONS: tuple[str, ...] = ("checkout", "payments")
# Business metrics on the dashboard, found by name whichever service emits them.
BUSINESS_METRICS: tuple[tuple[str, str], ...] = (
    ("OrderConfirmed", "Orders confirmed / min"),
    ("PaymentFailed", "Payments failed / min"),
)


class Operations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageSettings,
        region: RegionSettings,
        functions: Mapping[str, lambda_.IFunction],
        rest_api: apigateway.RestApi,
        routes: Sequence[Route] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage
        self._functions = dict(sorted(functions.items()))
        self._rest_api = rest_api
        # CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key: a customer
        # managed key whose policy lets CloudWatch use it is the only encrypted option.
        topic_key = kms.Key(
            self,
            "OpsTopicKey",
            enable_key_rotation=True,
            description="Encrypts the cloudtill ops alarm topic",
            # It protects only alarm notifications of this stack: nothing to keep after the stack
            # (prod retains it anyway, like every key: infra/stateful.py).
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        topic_key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self,
            "OpsTopic",
            display_name=f"cloudtill {stage.stage} alarms",
            master_key=topic_key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(region.shop.ops_email))
        self._alarm_action = cloudwatch_actions.SnsAction(self.topic)

        self.alarms: list[cloudwatch.Alarm] = []
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        self.state_machines: dict[str, sfn.IStateMachine] = {}
        for name, function in self._functions.items():
            self._alarm(
                f"{name}-errors",
                function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=stage.function_error_alarm_threshold,
                description=f"The {name} function reported errors (uncaught exceptions, timeouts).",
            )
            self._alarm(
                f"{name}-throttles",
                function.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                description=f"The {name} function was throttled (account or reserved concurrency).",
            )
        self._alarm(
            "api-5xx",
            rest_api.metric_server_error(period=ALARM_PERIOD, statistic="Sum"),
            threshold=5,
            description="The API answered 5xx (function errors or integration timeouts).",
        )
        self.api_5xx: dict[str, list[cloudwatch.IMetric]] = {}
        for function_name in API_5XX_ALARM_FUNCTIONS:
            function_routes = [r for r in routes if r.function == function_name]
            if function_name in self._functions and function_routes:
                self.api_5xx[function_name] = self._route_5xx_alarms(function_name, function_routes)
        for spec in SERVICE_METRIC_ALARMS:
            if spec.service in self._functions:
                self._alarm(
                    f"{spec.service}-{spec.metric}",
                    service_metric(spec.service, spec.metric, ALARM_PERIOD),
                    threshold=spec.threshold,
                    description=spec.description,
                )

    def watch_dead_letter_queue(self, name: str, queue: sqs.IQueue) -> cloudwatch.Alarm:
        """Every DLQ gets an alarm: one message in it is a failure someone has to look at."""
        self.dead_letter_queues[name] = queue
        return self._alarm(
            f"{name}-dlq",
            queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
            description=f"Messages are waiting in the {name} dead-letter queue.",
        )

    def watch_state_machine(self, name: str, state_machine: sfn.IStateMachine) -> list[cloudwatch.Alarm]:
        """The hook for workflows (the order lifecycle): failed, timed out or aborted executions alarm."""
        self.state_machines[name] = state_machine
        return [
            self._alarm(
                f"{name}-{kind}",
                metric(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                description=f"Executions of the {name} workflow {kind.replace('-', ' ')}.",
            )
            for kind, metric in (
                ("failed", state_machine.metric_failed),
                ("timed-out", state_machine.metric_timed_out),
                ("aborted", state_machine.metric_aborted),
            )
        ]

    def build_dashboard(self) -> cloudwatch.Dashboard:
        """The one dashboard, compact: three rows of three widgets. Call once, after everything."""
        api, functions = self._rest_api, self._functions
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"cloudtill-{self._stage.stage}"
        )
        business = [
            cloudwatch.MathExpression(
                expression=f"SEARCH('{{{METRICS_NAMESPACE},service}} MetricName=\"{metric}\"', 'Sum', 60)",
                label=label,
                period=GRAPH_PERIOD,
            )
            for metric, label in BUSINESS_METRICS
        ]
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[api.metric_count(period=GRAPH_PERIOD)],
                right=[
                    api.metric_client_error(period=GRAPH_PERIOD),
                    api.metric_server_error(period=GRAPH_PERIOD),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(title="Orders and payment failures", left=business, width=8),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8),
        )
        checkout_errors: list[cloudwatch.IMetric] = [*self.api_5xx.get("checkout", [])]
        if "checkout" in functions:
            checkout_errors.append(
                functions["checkout"].metric_errors(period=GRAPH_PERIOD, label="function errors")
            )
        self.dashboard.add_widgets(
            _graph("Checkout errors (API 5xx, function)", checkout_errors, empty="No checkout function."),
            _graph(
                "Dead-letter queue depth",
                [
                    q.metric_approximate_number_of_messages_visible(
                        period=GRAPH_PERIOD, statistic="Maximum", label=n
                    )
                    for n, q in sorted(self.dead_letter_queues.items())
                ],
                empty="No dead-letter queues.",
            ),
            _graph(
                "Workflow failures",
                [
                    m
                    for n, sm in sorted(self.state_machines.items())
                    for m in (
                        sm.metric_failed(period=GRAPH_PERIOD, label=f"{n} failed"),
                        sm.metric_timed_out(period=GRAPH_PERIOD, label=f"{n} timed out"),
                    )
                ],
                empty="No workflows yet (Operations.watch_state_machine adds them).",
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[f.metric_errors(period=GRAPH_PERIOD, label=n) for n, f in functions.items()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration p95 (ms)",
                left=[
                    f.metric_duration(period=GRAPH_PERIOD, statistic="p95", label=n)
                    for n, f in functions.items()
                ],
                width=12,
            ),
        )
        return self.dashboard

    def _route_5xx_alarms(self, function_name: str, routes: Sequence[Route]) -> list[cloudwatch.IMetric]:
        """One alarm on the summed API 5XXError of the function's routes (per 10 routes, CloudWatch's cap)."""
        graphs: list[cloudwatch.IMetric] = []
        chunks = [routes[i : i + MAX_METRICS_PER_ALARM] for i in range(0, len(routes), MAX_METRICS_PER_ALARM)]
        for index, chunk in enumerate(chunks):
            suffix = "" if len(chunks) == 1 else f"-{index + 1}"
            total = cloudwatch.MathExpression(
                # A route without traffic has no data point: FILL keeps the sum defined.
                expression="SUM(FILL(METRICS(), 0))",
                using_metrics={f"m{i}": self._route_5xx(route) for i, route in enumerate(chunk)},
                label=f"{function_name} API 5xx{suffix}",
                period=ALARM_PERIOD,
            )
            self._alarm(
                f"{function_name}-api-5xx{suffix}",
                total,
                threshold=1,
                description=f"Routes of the {function_name} function answered 5xx: client input never "
                "causes one, so this is a bug or an outage.",
            )
            graphs.append(total.with_(period=GRAPH_PERIOD))
        return graphs

    def _route_5xx(self, route: Route) -> cloudwatch.Metric:
        # Per-method metrics exist because the stage has detailed metrics on (`metrics_enabled`).
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={
                "ApiName": self._rest_api.rest_api_name,
                "Stage": self._stage.stage,
                "Resource": route.path,
                "Method": route.method,
            },
            statistic="Sum",
            period=ALARM_PERIOD,
        )

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, *, threshold: int, description: str
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "".join(part[:1].upper() + part[1:] for part in name.split("-")) + "Alarm",
            alarm_name=f"cloudtill-{self._stage.stage}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._alarm_action)
        self.alarms.append(alarm)
        return alarm


def _graph(title: str, metrics: list[cloudwatch.IMetric], *, empty: str) -> cloudwatch.IWidget:
    """A graph, or a note while there is nothing to plot (CloudWatch rejects metric-less graphs)."""
    if metrics:
        return cloudwatch.GraphWidget(title=title, left=metrics, width=8)
    return cloudwatch.TextWidget(markdown=f"**{title}**\n\n{empty}", width=8, height=6)


def service_metric(service: str, metric: str, period: Duration) -> cloudwatch.Metric:
    """A Powertools EMF metric of one service (`cloudtill` namespace, `service` dimension)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric,
        dimensions_map={"service": service},
        statistic="Sum",
        period=period,
    )
