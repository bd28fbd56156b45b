"""Lambda's event source mappings and EventBridge's rules, played locally against moto:

- the table stream -> the outbox publisher (stream poller: advances only past records the function
  handled; on a batch item failure it retries from that record, as Lambda does for streams);
- EventBridge bus -> rule per subscription -> SQS queue (+ DLQ after 3 receives) -> consumer (queue
  poller with partial batch failures);
- a catch-all rule into a local event log, listed at `GET /_local/events` (EventBridge's archive, here).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from infra.wiring import EVENT_SOURCE, STREAM_CONSUMERS, SUBSCRIPTIONS, StreamConsumer, Subscription
from localrt.emulator import AwsEmulator
from localrt.faults import DELIVERY_KINDS, FaultPlan, Point
from localrt.functions import FunctionPool, InvocationError

MAX_RECEIVES_BEFORE_DLQ = 3
LOCAL_VISIBILITY_TIMEOUT_S = 2  # short locally so retries show up within a test's patience
EVENT_LOG_QUEUE = "cloudtill-local-event-log"


def served_subscriptions() -> set[tuple[str, str, tuple[str, ...]]]:
    """(name, consumer function, detail types) of every rule -> queue -> consumer run locally."""
    return {(s.name, s.function, tuple(sorted(s.detail_types))) for s in SUBSCRIPTIONS}


def served_stream_consumers() -> set[tuple[str, str, tuple[str, ...]]]:
    """(table, function, entities) of every stream -> function mapping run locally."""
    return {(c.table, c.function, tuple(sorted(c.entities))) for c in STREAM_CONSUMERS}


def queue_name(subscription: Subscription) -> str:
    return f"cloudtill-{subscription.name}"


def dlq_name(subscription: Subscription) -> str:
    return f"cloudtill-{subscription.name}-dlq"


class EventRouting:
    """Creates the bus, rules and queues of the wiring and runs the pollers."""

    def __init__(
        self,
        emulator: AwsEmulator,
        pools: dict[str, FunctionPool],
        bus_name: str,
        table_names: dict[str, str],
        faults: FaultPlan | None = None,
    ) -> None:
        self._emulator = emulator
        self._faults = faults or FaultPlan()
        self._pools = pools
        self.bus_name = bus_name
        self._table_names = table_names
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.event_log: deque[dict[str, Any]] = deque(maxlen=5000)
        self.queue_urls: dict[str, str] = {}
        self.publisher_paused = threading.Event()  # fault injection: the publisher "is down"
        # Per stream consumer: the sequence number up to which every record is handled (kept across a
        # restart by localrt.persistence, so handled records are not delivered again).
        self.stream_handled: dict[str, int] = {}
        # Told of every delivery (consumer, source, event types, seconds, error): localrt's text log.
        self.on_delivery: Callable[[str, str, list[str], float, str | None], None] | None = None

    # -- resources -----------------------------------------------------------------------------

    def _queue(self, sqs: Any, name: str, attributes: dict[str, str] | None = None) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _route(self, events: Any, rule: str, pattern: dict[str, Any], target_arn: str) -> None:
        events.put_rule(Name=rule, EventBusName=self.bus_name, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule=rule, EventBusName=self.bus_name, Targets=[{"Id": "queue", "Arn": target_arn}]
        )

    def create_resources(self) -> None:
        events, sqs = self._emulator.client("events"), self._emulator.client("sqs")
        events.create_event_bus(Name=self.bus_name)
        for subscription in SUBSCRIPTIONS:
            dlq_url, dlq_arn = self._queue(sqs, dlq_name(subscription))
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES_BEFORE_DLQ})
            url, arn = self._queue(
                sqs,
                queue_name(subscription),
                {
                    "RedrivePolicy": redrive,
                    # Plus the batching window, as in the stack: a message gathered early in a
                    # window must not reappear before its batch is handled.
                    "VisibilityTimeout": str(
                        LOCAL_VISIBILITY_TIMEOUT_S + subscription.max_batching_window_seconds
                    ),
                },
            )
            self.queue_urls[subscription.name] = url
            self.queue_urls[f"{subscription.name}-dlq"] = dlq_url
            pattern = {
                "source": [{"prefix": f"{EVENT_SOURCE}."}],
                "detail-type": list(subscription.detail_types),
            }
            self._route(events, f"cloudtill-{subscription.name}", pattern, arn)
        log_url, log_arn = self._queue(sqs, EVENT_LOG_QUEUE)
        self.queue_urls[EVENT_LOG_QUEUE] = log_url
        self._route(
            events, "cloudtill-local-event-log", {"source": [{"prefix": f"{EVENT_SOURCE}."}]}, log_arn
        )

    # -- pollers -------------------------------------------------------------------------------

    def start(self) -> None:
        targets: list[Any] = [lambda c=c: self._poll_stream(c) for c in STREAM_CONSUMERS]
        targets += [lambda s=s: self._poll_queue(s) for s in SUBSCRIPTIONS]
        targets.append(self._drain_event_log)
        for target in targets:
            thread = threading.Thread(target=self._keep_running, args=(target,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopped.set()

    def join(self, timeout_seconds: float) -> None:
        """Wait for the pollers to finish the batch they are delivering (after `stop`)."""
        for thread in self._threads:
            thread.join(timeout_seconds / max(len(self._threads), 1))

    def _keep_running(self, poll: Callable[[], None]) -> None:
        """A poller that hits an error starts again (as an event source mapping would), after a pause."""
        while not self._stopped.is_set():
            try:
                poll()
            except Exception:
                traceback.print_exc()
                self._stopped.wait(1.0)

    def _poll_stream(self, consumer: StreamConsumer) -> None:
        dynamodb, streams = self._emulator.client("dynamodb"), self._emulator.client("dynamodbstreams")
        table = dynamodb.describe_table(TableName=self._table_names[consumer.table])["Table"]
        stream_arn = table["LatestStreamArn"]
        shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        fetched_up_to: str | None = None
        pending: list[dict[str, Any]] = []
        # When the oldest pending record arrived: the mapping's batching window runs from there.
        pending_since = 0.0
        while not self._stopped.is_set():
            self._note_handled(consumer, fetched_up_to, pending)
            if len(pending) < consumer.batch_size:
                # A fresh iterator each time, positioned after the last record read: moto replaces a
                # table's stream object when it rolls back a cancelled transaction, which would strand a
                # long-lived iterator on the old one.
                position: dict[str, str] = (
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": fetched_up_to}
                    if fetched_up_to
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                )
                iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)
                records = streams.get_records(
                    ShardIterator=iterator["ShardIterator"], Limit=consumer.batch_size
                ).get("Records", [])
                if records:
                    fetched_up_to = records[-1]["dynamodb"]["SequenceNumber"]
                wanted = [lambda_record(r) for r in records if self._wanted(r, consumer)]
                if wanted and not pending:
                    pending_since = time.monotonic()
                pending += wanted
            if not pending or self.publisher_paused.is_set():
                self._stopped.wait(0.2)
                continue
            window_left = pending_since + consumer.max_batching_window_seconds - time.monotonic()
            if len(pending) < consumer.batch_size and window_left > 0:
                self._stopped.wait(min(0.2, window_left))
                continue
            batch = pending[: consumer.batch_size]
            try:
                result = self._deliver(
                    Point(consumer.function, "dynamodbstreams", f"Deliver({consumer.table})"),
                    {"Records": batch},
                )
            except InvocationError:
                self._stopped.wait(1.0)  # the whole batch is retried
                continue
            failures = [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]
            if failures:
                first = min(failures, key=int)
                failed_at = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == first)
                pending = batch[failed_at:] + pending[len(batch) :]
                self._stopped.wait(1.0)
            else:
                pending = pending[len(batch) :]
            pending_since = time.monotonic()
        self._note_handled(consumer, fetched_up_to, pending)

    def _note_handled(
        self, consumer: StreamConsumer, fetched_up_to: str | None, pending: list[dict[str, Any]]
    ) -> None:
        if pending:
            self.stream_handled[consumer.name] = int(pending[0]["dynamodb"]["SequenceNumber"]) - 1
        elif fetched_up_to is not None:
            self.stream_handled[consumer.name] = int(fetched_up_to)

    def _deliver(self, point: Point, event: dict[str, Any]) -> Any:
        """Invoke the consumer; the fault plan may hand the same batch over twice (at-least-once
        delivery) or lose it (the batch is then retried as after a failure)."""
        fault = self._faults.check(point, DELIVERY_KINDS)
        function = self._pools[point.caller]
        if fault is not None and fault.kind == "duplicate":
            function.invoke(event)
        if fault is not None and fault.kind == "drop":
            raise InvocationError(point.caller, "Dropped", "delivery lost by the fault plan")
        if self.on_delivery is None:
            return function.invoke(event)
        started = time.monotonic()
        kinds = [_event_type(record) for record in event["Records"]]
        try:
            result = function.invoke(event)
        except InvocationError as error:
            self.on_delivery(point.caller, point.service, kinds, time.monotonic() - started, str(error))
            raise
        failures = len((result or {}).get("batchItemFailures", []))
        failed = f"{failures} of {len(kinds)} records" if failures else None
        self.on_delivery(point.caller, point.service, kinds, time.monotonic() - started, failed)
        return result

    @staticmethod
    def _wanted(record: dict[str, Any], consumer: StreamConsumer) -> bool:
        """The event source mapping's filter: new images of the consumer's entities."""
        entity = record.get("dynamodb", {}).get("NewImage", {}).get("entity", {}).get("S")
        return entity in consumer.entities

    def _poll_queue(self, subscription: Subscription) -> None:
        sqs = self._emulator.client("sqs")
        url = self.queue_urls[subscription.name]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        while not self._stopped.is_set():
            messages = self._receive(sqs, url, min(subscription.batch_size, 10), wait_seconds=1)
            if not messages:
                continue
            # The mapping's batching window: keep gathering until the batch is full or the window
            # that started with the first message is over.
            window_ends = time.monotonic() + subscription.max_batching_window_seconds
            while len(messages) < subscription.batch_size and not self._stopped.is_set():
                left = window_ends - time.monotonic()
                if left <= 0:
                    break
                wanted = min(subscription.batch_size - len(messages), 10)
                messages += self._receive(sqs, url, wanted, wait_seconds=max(1, min(int(left), 20)))
            event = {"Records": [sqs_record(m, arn) for m in messages]}
            try:
                result = self._deliver(
                    Point(subscription.function, "sqs", f"Deliver({subscription.name})"), event
                )
            except InvocationError:
                continue  # nothing deleted: every message comes back after the visibility timeout
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )

    @staticmethod
    def _receive(sqs: Any, url: str, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=count, WaitTimeSeconds=wait_seconds, AttributeNames=["All"]
        ).get("Messages", [])
        return messages

    def _drain_event_log(self) -> None:
        sqs = self._emulator.client("sqs")
        url = self.queue_urls[EVENT_LOG_QUEUE]
        while not self._stopped.is_set():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            for message in messages:
                self.event_log.appendleft(json.loads(message["Body"]))
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )

    def queue_depths(self) -> dict[str, int]:
        sqs = self._emulator.client("sqs")
        depths = {}
        for name, url in self.queue_urls.items():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths


def _event_type(record: dict[str, Any]) -> str:
    """The event type a delivered record carries (an outbox item's, or an EventBridge envelope's)."""
    if "dynamodb" in record:
        return str(record["dynamodb"].get("NewImage", {}).get("detail_type", {}).get("S", "record"))
    try:
        return str(json.loads(record.get("body") or "{}").get("detail-type", "message"))
    except ValueError:
        return "message"


def lambda_record(record: dict[str, Any]) -> dict[str, Any]:
    """A stream record as Lambda hands it over (boto3 parsed the creation time into a datetime)."""
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
    return record


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as Lambda's SQS event source mapping hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "eu-west-1",
    }
