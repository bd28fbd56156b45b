"""E-mail (SES) and SMS (SNS) for the functions whose spec `sends` them, and SES's feedback.

- E-mail: the region's sender identity with a configuration set whose sends, bounces and complaints
  (`EMAIL_FEEDBACK_EVENTS`) go to an encrypted SNS topic; each sending function may send as that
  identity with that configuration set, and learns the set's name. The topic delivers to the wiring's
  `EMAIL_FEEDBACK_FUNCTION` (a `topic` function), asynchronously: Lambda retries twice, then the
  feedback lands in a DLQ with an alarm.
- SMS: Publish to phone numbers only (a Deny on every topic ARN keeps the `*` from reaching a topic).

Built in the sending functions' domain construct (`Notifications`), whose resources keep their logical
IDs. The functions' table access is their specs' `table_access`, like every function's.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.acknowledgements import acknowledge, skip_checkov
from infra.constructs.eventing import VISIBILITY_TIMEOUT_FACTOR
from infra.constructs.queues import dead_letter_queue
from infra.wiring import EMAIL_FEEDBACK_EVENTS, FunctionSpec


class Email:
    """The region's SES sending setup, built once in `scope`."""

    def __init__(self, scope: Construct, sender_email: str) -> None:
        self._scope = scope
        stack = Stack.of(scope)
        feedback_key = kms.Key(
            scope,
            "FeedbackTopicKey",
            enable_key_rotation=True,
            description="Encrypts SES bounce/complaint notifications (they carry e-mail addresses)",
        )
        ses_principal = iam.ServicePrincipal("ses.amazonaws.com")
        feedback_key.grant(ses_principal, "kms:GenerateDataKey*", "kms:Decrypt")
        self.feedback_topic = sns.Topic(scope, "SesFeedbackTopic", master_key=feedback_key, enforce_ssl=True)
        self.feedback_topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[ses_principal],
                actions=["sns:Publish"],
                resources=[self.feedback_topic.topic_arn],
                conditions={"StringEquals": {"AWS:SourceAccount": stack.account}},
            )
        )
        self.configuration_set = ses.ConfigurationSet(
            scope, "ConfigurationSet", suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS
        )
        self.configuration_set.add_event_destination(
            # A stable logical ID (it also publishes sends): renaming it would replace the resource.
            "BouncesAndComplaints",
            destination=ses.EventDestination.sns_topic(self.feedback_topic),
            events=[getattr(ses.EmailSendingEvent, name) for name in EMAIL_FEEDBACK_EVENTS],
        )
        self.identity = ses.EmailIdentity(
            scope,
            "SenderIdentity",
            identity=ses.Identity.email(sender_email),
            configuration_set=self.configuration_set,
        )
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}

    def grant_send(self, spec: FunctionSpec, function: lambda_.Function) -> None:
        stack = Stack.of(self._scope)
        self.identity.grant_send_email(function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="SendWithTheConfigurationSet",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[
                    stack.format_arn(
                        service="ses",
                        resource="configuration-set",
                        resource_name=self.configuration_set.configuration_set_name,
                    )
                ],
            )
        )
        function.add_environment(
            "NOTIFICATIONS_SES_CONFIGURATION_SET", self.configuration_set.configuration_set_name
        )
        # A `sending` claim is taken over by a redelivery once the queue's visibility timeout has passed.
        function.add_environment(
            "NOTIFICATIONS_RESEND_AFTER_SECONDS", str(VISIBILITY_TIMEOUT_FACTOR * spec.timeout_seconds)
        )

    def deliver_feedback(self, function: lambda_.Function) -> None:
        """Bounces and complaints -> `function` (SNS invokes it asynchronously)."""
        feedback_dlq = dead_letter_queue(
            self._scope,
            "FeedbackDlq",
            queue_name=f"{self._scope.node.id.lower()}-ses-feedback-dlq",
            fed_by="the SES feedback function's asynchronous invocations (SES feedback via SNS)",
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(feedback_dlq),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        self.feedback_topic.add_subscription(subscriptions.LambdaSubscription(function))
        # The stack hands these to Operations: every DLQ gets an alarm to the ops topic.
        self.dead_letter_queues["ses-feedback"] = feedback_dlq


def grant_sms(function: lambda_.Function) -> None:
    # An SMS to a phone number has no resource ARN: Publish needs `*`. The Deny keeps that `*` from
    # reaching any topic, so the function can text shoppers and publish nowhere else.
    function.add_to_role_policy(iam.PolicyStatement(sid="SendSms", actions=["sns:Publish"], resources=["*"]))
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
