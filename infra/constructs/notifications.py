"""Notifications domain: the consumer of customer/ops events, SES (identity, configuration set with
bounce/complaint events -> SNS -> the same function) and SMS via SNS.

Its main-table access is declared on its spec in `infra/wiring.py` (`dynamodb:LeadingKeys`): the function
reads checkouts, orders and its own items, and can write only `NOTIFICATION#…` and `SUPPRESSED#…` items:
never order, checkout or stock data.

ReportReady e-mails carry a presigned link to the day's report, signed by this function when it sends
(the event carries only the key): the stack calls `link_reports` with the reporting construct's bucket,
which grants `s3:GetObject` on `reports/*` only (S3 checks the signer's permission when the link is used).
"""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.acknowledgements import acknowledge, skip_checkov
from infra.constructs.domain import DomainFunctions
from infra.constructs.eventing import VISIBILITY_TIMEOUT_FACTOR
from infra.constructs.queues import dead_letter_queue
from infra.constructs.reporting import REPORTS_PREFIX
from infra.environment import REPORTS_BUCKET_VARIABLE
from infra.function_factory import FunctionDependencies, FunctionFactory
from infra.wiring import FunctionSpec


class NotificationsDomain(DomainFunctions):
    domain = "notifications"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        dependencies: FunctionDependencies,
        specs: tuple[FunctionSpec, ...],
    ) -> None:
        self._sender_email = factory.region.shop.sender_email
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        super().__init__(scope, construct_id, factory=factory, dependencies=dependencies, specs=specs)

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Table access (reads of checkouts/orders, its own records) is the spec's `table_access`.
        self._email(spec, function)
        self._sms(function)

    def link_reports(self, bucket: s3.Bucket) -> None:
        """Lets the functions sign links to report files: read of `reports/*` in `bucket`, nothing else
        (no list, no write, no other prefix), and the bucket's name in their environment."""
        bucket_resource = bucket.node.default_child
        assert isinstance(bucket_resource, CfnResource)
        bucket_id = Stack.of(self).get_logical_id(bucket_resource)
        for function in self.functions.values():
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="SignReportLinks",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(REPORTS_PREFIX)],
                )
            )
            function.add_environment(REPORTS_BUCKET_VARIABLE, bucket.bucket_name)
            role = function.role
            assert role is not None
            acknowledge(
                role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/reports/*]",
                "ReportReady e-mails link to reports/YYYY/MM/DD/report.html with a URL this role signs: "
                "s3:GetObject on the reports/ prefix only (a new file every day).",
            )

    def _email(self, spec: FunctionSpec, function: lambda_.Function) -> None:
        stack = Stack.of(self)
        feedback_key = kms.Key(
            self,
            "FeedbackTopicKey",
            enable_key_rotation=True,
            description="Encrypts SES bounce/complaint notifications (they carry e-mail addresses)",
        )
        ses_principal = iam.ServicePrincipal("ses.amazonaws.com")
        feedback_key.grant(ses_principal, "kms:GenerateDataKey*", "kms:Decrypt")
        feedback_topic = sns.Topic(self, "SesFeedbackTopic", master_key=feedback_key, enforce_ssl=True)
        feedback_topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[ses_principal],
                actions=["sns:Publish"],
                resources=[feedback_topic.topic_arn],
                conditions={"StringEquals": {"AWS:SourceAccount": stack.account}},
            )
        )
        configuration_set = ses.ConfigurationSet(
            self, "ConfigurationSet", suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS
        )
        configuration_set.add_event_destination(
            "BouncesAndComplaints",
            destination=ses.EventDestination.sns_topic(feedback_topic),
            events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
        )
        identity = ses.EmailIdentity(
            self,
            "SenderIdentity",
            identity=ses.Identity.email(self._sender_email),
            configuration_set=configuration_set,
        )
        identity.grant_send_email(function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="SendWithTheConfigurationSet",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[
                    stack.format_arn(
                        service="ses",
                        resource="configuration-set",
                        resource_name=configuration_set.configuration_set_name,
                    )
                ],
            )
        )
        function.add_environment(
            "NOTIFICATIONS_SES_CONFIGURATION_SET", configuration_set.configuration_set_name
        )
        # A `sending` claim is taken over by a redelivery once the queue's visibility timeout has passed.
        function.add_environment(
            "NOTIFICATIONS_RESEND_AFTER_SECONDS", str(VISIBILITY_TIMEOUT_FACTOR * spec.timeout_seconds)
        )

        # SNS invokes the function asynchronously: Lambda retries twice, then the feedback lands here.
        feedback_dlq = dead_letter_queue(
            self,
            "FeedbackDlq",
            queue_name=f"{function.node.id.lower()}-ses-feedback-dlq",
            fed_by="the notifications function's asynchronous invocations (SES feedback via SNS)",
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(feedback_dlq),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        feedback_topic.add_subscription(subscriptions.LambdaSubscription(function))
        # The stack hands these to Operations: every DLQ gets an alarm to the ops topic.
        self.dead_letter_queues["ses-feedback"] = feedback_dlq

    def _sms(self, function: lambda_.Function) -> None:
        # An SMS to a phone number has no resource ARN: Publish needs `*`. The Deny keeps that `*` from
        # reaching any topic, so the function can text shoppers and publish nowhere else.
        function.add_to_role_policy(
            iam.PolicyStatement(sid="SendSms", actions=["sns:Publish"], resources=["*"])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="NoTopicPublishing",
                effect=iam.Effect.DENY,
                actions=["sns:Publish"],
                resources=["arn:aws:sns:*:*:*"],
            )
        )
        role = function.role
        assert role is not None
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "sns:Publish to a phone number (SMS) has no resource ARN; a Deny on every topic ARN limits it to "
            "SMS. X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
        )
        skip_checkov(
            role.node.find_child("DefaultPolicy"),
            "CKV_AWS_111",
            "sns:Publish to a phone number (SMS) has no resource ARN; the NoTopicPublishing Deny on every "
            "topic ARN limits the `*` to SMS, which checkov does not weigh.",
        )
