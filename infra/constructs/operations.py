"""Operations: the ops alarm topic, alarms on every function (and DLQ), one dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.region_settings import RegionSettings, StageSettings

ALARM_PERIOD = Duration.minutes(5)


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
    ) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage
        # CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key: a customer
        # managed key whose policy lets CloudWatch use it is the only encrypted option.
        topic_key = kms.Key(
            self,
            "OpsTopicKey",
            enable_key_rotation=True,
            description="Encrypts the cloudtill ops alarm topic",
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
        for name, function in sorted(functions.items()):
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

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"cloudtill-{stage.stage}")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[rest_api.metric_count(period=Duration.minutes(1))],
                right=[
                    rest_api.metric_client_error(period=Duration.minutes(1)),
                    rest_api.metric_server_error(period=Duration.minutes(1)),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency p99 (ms)",
                left=[rest_api.metric_latency(period=Duration.minutes(1), statistic="p99")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[
                    f.metric_errors(period=Duration.minutes(1), label=n) for n, f in sorted(functions.items())
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function duration p95 (ms)",
                left=[
                    f.metric_duration(period=Duration.minutes(1), statistic="p95", label=n)
                    for n, f in sorted(functions.items())
                ],
                width=8,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8),
        )

    def watch_dead_letter_queue(self, name: str, queue: sqs.IQueue) -> cloudwatch.Alarm:
        """Every DLQ gets an alarm: one message in it is a failure someone has to look at."""
        return self._alarm(
            f"{name}-dlq",
            queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
            description=f"Messages are waiting in the {name} dead-letter queue.",
        )

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, *, threshold: int, description: str
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "".join(part.capitalize() for part in name.split("-")) + "Alarm",
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
