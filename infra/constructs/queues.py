"""The one way a cloudtill SQS queue is made: SSE (SQS managed keys), TLS-only access policy.

SQS managed encryption rather than a KMS key: EventBridge, Lambda's event source mappings and
EventBridge Scheduler all deliver to such queues without key policies, and the messages are event
envelopes whose sensitive parts (addresses, emails) are also in the encrypted table.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.acknowledgements import acknowledge, skip_checkov

# The longest SQS allows: a failure found on a Monday after a long weekend is still there.
DLQ_RETENTION = Duration.days(14)
MAX_RECEIVES_BEFORE_DLQ = 3


def dead_letter_queue(
    scope: Construct, construct_id: str, *, queue_name: str, fed_by: str | None = None
) -> sqs.Queue:
    """A DLQ. `fed_by` names the non-SQS sender (an event source mapping, Scheduler) when no queue's
    redrive policy points here, which is how cdk-nag recognises a DLQ."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )
    _skip_checkov_kms(queue)
    if fed_by is not None:
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter destination of {fed_by}; a DLQ of a DLQ would only "
            "move the problem. Its depth has an alarm to the ops topic.",
        )
    return queue


def work_queue(
    scope: Construct, construct_id: str, *, queue_name: str, visibility_timeout: Duration, dlq: sqs.IQueue
) -> sqs.Queue:
    """A queue a function consumes; after `MAX_RECEIVES_BEFORE_DLQ` failed receives, messages go to `dlq`."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVES_BEFORE_DLQ),
    )
    _skip_checkov_kms(queue)
    return queue


def _skip_checkov_kms(queue: sqs.Queue) -> None:
    skip_checkov(
        queue,
        "CKV_AWS_27",
        "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which checkov does not recognise; a KMS "
        "key would need key policies for EventBridge, Scheduler and the event source mappings.",
    )
