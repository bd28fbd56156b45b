"""Event delivery from the wiring: SUBSCRIPTIONS (bus rule -> SQS + DLQ -> function) and
STREAM_CONSUMERS (table stream -> function), built generically, one loop each.

Every consumer reports partial batch failures, every path has a dead-letter queue, every DLQ an
alarm (`Operations.watch_dead_letter_queue`). The local runtime (`localrt/eventing.py`) plays the
same rules, queues and filters against moto; `tests/infra/test_wiring.py` compares the two.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.acknowledgements import acknowledge
from infra.constructs.operations import Operations
from infra.constructs.queues import dead_letter_queue, work_queue
from infra.declaration import Declaration
from infra.wiring import EVENT_SOURCE, StreamConsumer, Subscription

# SQS consumers: AWS's guidance for Lambda event sources is a visibility timeout of six times the
# function timeout, so a message is not redelivered while a (retried) invocation still runs.
VISIBILITY_TIMEOUT_FACTOR = 6
# Stream consumers: a batch that keeps failing is split (bisect) to isolate the bad record; after
# this many retries or this age the record's position goes to the DLQ. The outbox item itself stays
# in the table for 7 days (cloudtill.outbox.RETENTION), so an operator can republish it.
STREAM_RETRY_ATTEMPTS = 10
STREAM_MAX_RECORD_AGE = Duration.hours(6)


def subscription_event_pattern(subscription: Subscription) -> events.EventPattern:
    """Domain events (`cloudtill.<domain>` sources) of the subscription's detail types."""
    return events.EventPattern(
        source=events.Match.prefix(f"{EVENT_SOURCE}."),
        detail_type=sorted(subscription.detail_types),
    )


def stream_filter(consumer: StreamConsumer) -> dict[str, object]:
    """Only records whose new image is one of the consumer's entities invoke the function."""
    return {"dynamodb": {"NewImage": {"entity": {"S": lambda_.FilterRule.or_(*sorted(consumer.entities))}}}}


class Eventing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        declaration: Declaration,
        functions: Mapping[str, lambda_.IFunction],
        tables: Mapping[str, dynamodb.Table],
        event_bus: events.IEventBus,
        operations: Operations,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = f"cloudtill-{stage}"
        self._declaration = declaration
        self._functions = functions
        self._operations = operations
        self.rules: dict[str, events.Rule] = {}
        for subscription in declaration.subscriptions:
            self.rules[subscription.name] = self._subscription(subscription, event_bus)
        for consumer in declaration.stream_consumers:
            self._stream_consumer(consumer, tables[consumer.table])

    def _subscription(self, subscription: Subscription, event_bus: events.IEventBus) -> events.Rule:
        scope = Construct(self, f"Subscription-{subscription.name}")
        spec = self._declaration.function(subscription.function)
        name = f"{self._prefix}-{subscription.name}"
        dlq = dead_letter_queue(scope, "Dlq", queue_name=f"{name}-dlq")
        queue = work_queue(
            scope,
            "Queue",
            queue_name=name,
            # AWS's guidance: six times the timeout plus the batching window.
            visibility_timeout=Duration.seconds(
                VISIBILITY_TIMEOUT_FACTOR * spec.timeout_seconds + subscription.max_batching_window_seconds
            ),
            dlq=dlq,
        )
        rule = events.Rule(
            scope,
            "Rule",
            rule_name=name,
            description=f"{', '.join(sorted(subscription.detail_types))} -> {subscription.function}",
            event_bus=event_bus,
            event_pattern=subscription_event_pattern(subscription),
            # Events EventBridge cannot deliver to the queue land in the same DLQ.
            targets=[targets.SqsQueue(queue, dead_letter_queue=dlq)],
        )
        self._functions[subscription.function].add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=subscription.batch_size,
                max_batching_window=_window(subscription.max_batching_window_seconds),
                report_batch_item_failures=True,
            )
        )
        self._operations.watch_dead_letter_queue(f"subscription-{subscription.name}", dlq)
        return rule

    def _stream_consumer(self, consumer: StreamConsumer, table: dynamodb.Table) -> None:
        scope = Construct(self, f"Stream-{consumer.name}")
        dlq = dead_letter_queue(
            scope,
            "Dlq",
            queue_name=f"{self._prefix}-stream-{consumer.name}-dlq",
            fed_by=f"the {consumer.name} stream event source mapping (failed batch positions)",
        )
        function = self._functions[consumer.function]
        function.add_event_source(
            event_sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=consumer.batch_size,
                max_batching_window=_window(consumer.max_batching_window_seconds),
                filters=[lambda_.FilterCriteria.filter(stream_filter(consumer))],
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=STREAM_RETRY_ATTEMPTS,
                max_record_age=STREAM_MAX_RECORD_AGE,
                on_failure=event_sources.SqsDlq(dlq),
            )
        )
        self._operations.watch_dead_letter_queue(f"stream-{consumer.name}", dlq)
        if function.role is not None:
            # Restates the factory's `Resource::*` acknowledgement with the stream's part added.
            acknowledge(
                function.role.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Resource::*]",
                "dynamodb:ListStreams (added by the stream event source mapping) and X-Ray "
                "PutTraceSegments/PutTelemetryRecords support no resource-level permissions; the stream "
                "reads themselves are scoped to this table's stream ARN.",
            )


def _window(seconds: int) -> Duration | None:
    """The event source mapping's MaximumBatchingWindowInSeconds (unset when 0: invoke at once)."""
    return Duration.seconds(seconds) if seconds else None
