"""What each subscription, stream consumer and schedule is made of in AWS (queues, DLQs, alarms,
rules, filters, retry policies), read from the synthesized templates."""

from __future__ import annotations

import json
from typing import Any

from infra.constructs.eventing import STREAM_MAX_RECORD_AGE, STREAM_RETRY_ATTEMPTS, VISIBILITY_TIMEOUT_FACTOR
from infra.constructs.queues import MAX_RECEIVES_BEFORE_DLQ
from infra.wiring import EVENT_SOURCE, STREAM_CONSUMERS, SUBSCRIPTIONS
from tests.infra.conftest import PROBE_SUBSCRIPTION, Extended
from tests.infra.template_checks import (
    dead_letter_queues,
    dlqs_without_alarm,
    function_logical_id,
    queue_consumers_without_dlq,
    references,
    resources_of_type,
)


def _queue_policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Queue logical id -> the statements of the queue policies attached to it."""
    policies: dict[str, list[dict[str, Any]]] = {}
    for policy in resources_of_type(template, "AWS::SQS::QueuePolicy").values():
        for queue_id in references(policy["Properties"]["Queues"]):
            policies.setdefault(queue_id, []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return policies


def _enforces_tls(statements: list[dict[str, Any]]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
    )


def test_subscription_is_rule_to_encrypted_queue_with_dlq_alarm_and_partial_failures(
    extended: Extended,
) -> None:
    template = extended.template
    resources = template["Resources"]
    queues = resources_of_type(template, "AWS::SQS::Queue")
    policies = _queue_policies(template)
    (rule_id,) = [
        logical_id
        for logical_id, rule in resources_of_type(template, "AWS::Events::Rule").items()
        if rule["Properties"]["Name"] == f"cloudtill-dev-{PROBE_SUBSCRIPTION.name}"
    ]
    rule = resources[rule_id]["Properties"]

    # The rule listens on the stack's own bus for cloudtill domain events of the declared types
    (bus_id,) = resources_of_type(template, "AWS::Events::EventBus")
    assert list(references(rule["EventBusName"])) == [bus_id]
    assert rule["EventPattern"] == {
        "source": [{"prefix": f"{EVENT_SOURCE}."}],
        "detail-type": sorted(PROBE_SUBSCRIPTION.detail_types),
    }
    # -> an SQS queue (failed deliveries to its DLQ), which the consumer reads with partial failures
    (target,) = rule["Targets"]
    (queue_id,) = references(target["Arn"])
    (dlq_id,) = references(target["DeadLetterConfig"]["Arn"])
    queue = queues[queue_id]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES_BEFORE_DLQ
    assert list(references(queue["RedrivePolicy"]["deadLetterTargetArn"])) == [dlq_id]
    spec = extended.declaration.function(PROBE_SUBSCRIPTION.function)
    assert queue["VisibilityTimeout"] == VISIBILITY_TIMEOUT_FACTOR * spec.timeout_seconds
    for logical_id in (queue_id, dlq_id):
        assert queues[logical_id]["Properties"]["SqsManagedSseEnabled"] is True
        assert _enforces_tls(policies[logical_id]), f"{logical_id} accepts plain HTTP"
    # EventBridge may send to the queue only for this rule
    (allow,) = [s for s in policies[queue_id] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert list(references(allow["Condition"]["ArnEquals"]["aws:SourceArn"])) == [rule_id]

    (mapping,) = [
        m["Properties"]
        for m in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()
        if list(references(m["Properties"]["EventSourceArn"])) == [queue_id]
    ]
    assert list(references(mapping["FunctionName"])) == [
        function_logical_id(template, PROBE_SUBSCRIPTION.function)
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == PROBE_SUBSCRIPTION.batch_size
    assert dlq_id not in dlqs_without_alarm(template)


def test_outbox_stream_mapping_filters_bisects_retries_and_parks_failures(
    eu_template: dict[str, Any],
) -> None:
    (table_id,) = [
        logical_id
        for logical_id, table in resources_of_type(eu_template, "AWS::DynamoDB::Table").items()
        if "StreamSpecification" in table["Properties"]
    ]
    (mapping,) = [
        m["Properties"]
        for m in resources_of_type(eu_template, "AWS::Lambda::EventSourceMapping").values()
        if list(references(m["Properties"]["EventSourceArn"])) == [table_id]
    ]
    assert list(references(mapping["FunctionName"])) == [function_logical_id(eu_template, "publisher")]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == STREAM_RETRY_ATTEMPTS
    assert mapping["MaximumRecordAgeInSeconds"] == STREAM_MAX_RECORD_AGE.to_seconds()
    (criteria,) = mapping["FilterCriteria"]["Filters"]
    assert json.loads(criteria["Pattern"]) == {"dynamodb": {"NewImage": {"entity": {"S": ["outbox"]}}}}
    (dlq_id,) = references(mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert dlq_id in dead_letter_queues(eu_template)


def test_schedule_retries_then_parks_in_a_dlq_with_a_role_for_one_function(
    eu_template: dict[str, Any],
) -> None:
    checkout = function_logical_id(eu_template, "checkout-expiry")
    (schedule,) = [
        s["Properties"]
        for s in resources_of_type(eu_template, "AWS::Scheduler::Schedule").values()
        if checkout in set(references(s["Properties"]["Target"]["Arn"]))
    ]
    target = schedule["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    (dlq_id,) = references(target["DeadLetterConfig"]["Arn"])
    (role_id,) = references(target["RoleArn"])
    role = eu_template["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }
    statements = [
        s
        for policy in resources_of_type(eu_template, "AWS::IAM::Policy").values()
        if role_id in set(references(policy["Properties"]["Roles"]))
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    reach = {(s["Action"], ref) for s in statements for ref in references(s["Resource"])}
    assert reach == {("lambda:InvokeFunction", checkout), ("sqs:SendMessage", dlq_id)}


def test_every_dlq_of_every_kind_has_an_alarm(
    templates: dict[str, dict[str, Any]], extended: Extended
) -> None:
    for template in (*templates.values(), extended.template):
        # stream on-failure, schedule and (extended) subscription DLQs are all found ...
        assert len(dead_letter_queues(template)) >= 2
        # ... and every one of them is watched; every consumer queue has a DLQ
        assert dlqs_without_alarm(template) == []
        assert queue_consumers_without_dlq(template) == []


def test_every_mapping_batches_as_the_wiring_declares(eu_template: dict[str, Any]) -> None:
    queues = resources_of_type(eu_template, "AWS::SQS::Queue")
    names = {logical_id: q["Properties"].get("QueueName", "") for logical_id, q in queues.items()}
    mappings = resources_of_type(eu_template, "AWS::Lambda::EventSourceMapping").values()
    by_source = {next(iter(references(m["Properties"]["EventSourceArn"]))): m["Properties"] for m in mappings}
    for subscription in SUBSCRIPTIONS:
        (queue_id,) = [i for i, n in names.items() if n.endswith(f"-{subscription.name}")]
        mapping = by_source[queue_id]
        assert mapping["BatchSize"] == subscription.batch_size
        assert mapping.get("MaximumBatchingWindowInSeconds", 0) == subscription.max_batching_window_seconds
        # A message gathered at the start of a window stays invisible until its batch is handled
        assert queues[queue_id]["Properties"]["VisibilityTimeout"] >= subscription.max_batching_window_seconds
    (consumer,) = STREAM_CONSUMERS
    (stream_mapping,) = [m for source, m in by_source.items() if source not in queues]
    assert stream_mapping["BatchSize"] == consumer.batch_size
    assert stream_mapping.get("MaximumBatchingWindowInSeconds", 0) == consumer.max_batching_window_seconds
    # The windows are real: under load the consumers get batches, not one event per invocation
    assert any(s.max_batching_window_seconds for s in SUBSCRIPTIONS)
    assert consumer.max_batching_window_seconds >= 1
