"""The local fault plan (localrt/faults.py): which call a fault hits, how often, and how points are named."""

from __future__ import annotations

import pytest

from localrt.aws_calls import function_app_id, function_of, process_of
from localrt.faults import (
    CALL_KINDS,
    DELIVERY_KINDS,
    Fault,
    FaultPlan,
    Point,
    caller_of,
    fault_from_json,
    injected_error,
    operation_of,
    stripe_operation,
)

POINT = Point("orders", "dynamodb", "TransactWriteItems[ORDER+OUTBOX]")


def test_a_fault_hits_the_nth_matching_call_once() -> None:
    # Given a fault on the 2nd call of a point
    plan = FaultPlan()
    plan.arm(Fault(POINT, "error", nth=2))
    # When the point is called four times (and another point in between)
    hits = [plan.check(POINT, CALL_KINDS) is not None for _ in range(2)]
    assert plan.check(Point("orders", "dynamodb", "GetItem[ORDER]"), CALL_KINDS) is None
    hits += [plan.check(POINT, CALL_KINDS) is not None for _ in range(2)]
    # Then only the 2nd call is faulted, and the plan says so
    assert hits == [False, True, False, False]
    assert [(f.point, f.kind) for f in plan.fired] == [(POINT, "error")]
    assert plan.observed[POINT] == 4


def test_times_zero_faults_every_call_and_kinds_filter() -> None:
    plan = FaultPlan()
    plan.arm(Fault(POINT, "duplicate", times=0))
    # A delivery fault does not apply to an API call of the same name
    assert plan.check(POINT, CALL_KINDS) is None
    assert all(plan.check(POINT, DELIVERY_KINDS) is not None for _ in range(3))


def test_clear_disarms_and_forgets_what_fired_but_keeps_the_points() -> None:
    plan = FaultPlan()
    plan.arm(Fault(POINT, "error"))
    assert plan.check(POINT, CALL_KINDS) is not None
    plan.clear()
    assert plan.check(POINT, CALL_KINDS) is None
    assert plan.state() == {"armed": [], "fired": []}
    assert plan.points() == [{**POINT.__dict__, "count": 2}]


def test_a_fault_armed_first_is_matched_before_earlier_ones() -> None:
    plan = FaultPlan()
    plan.arm(Fault(POINT, "duplicate"))
    plan.arm(Fault(POINT, "drop"), first=True)
    fault = plan.check(POINT, DELIVERY_KINDS)
    assert fault is not None and fault.kind == "drop"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"kind": "error"}, "point"),
        ({"point": {"caller": "orders", "service": "dynamodb"}, "kind": "error"}, "point"),
        ({"point": {"caller": "a", "service": "b", "operation": "c"}, "kind": "explode"}, "kind"),
        ({"point": {"caller": "a", "service": "b", "operation": "c"}, "kind": "error", "nth": 0}, "nth"),
        ({"point": {"caller": "a", "service": "b", "operation": "c"}, "kind": "error", "times": -1}, "times"),
        ({"point": {"caller": "a", "service": "b", "operation": "c"}, "kind": "error", "first": 1}, "first"),
    ],
)
def test_a_bad_fault_names_its_field(body: object, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        fault_from_json(body)


def test_a_fault_from_json() -> None:
    body = {"point": {"caller": "a", "service": "b", "operation": "c"}, "kind": "crash_after", "nth": 3}
    fault, first = fault_from_json(body)
    assert (fault.point, fault.kind, fault.nth, fault.times, first) == (
        Point("a", "b", "c"),
        "crash_after",
        3,
        1,
        False,
    )


def test_callers_are_told_apart_by_user_agent_and_credentials() -> None:
    app_id = function_app_id("orders").replace("{pid}", "4242")
    user_agent = f"Boto3/1.44.5 md/Botocore#1.44.5 app/{app_id} cfg/retry-mode#legacy"
    assert (function_of(user_agent), process_of(user_agent)) == ("orders", 4242)
    assert caller_of(user_agent, "") == ("orders", 4242)
    states = "AWS4-HMAC-SHA256 Credential=ak/20261204/eu-west-1/dynamodb/aws4_request, SignedHeaders=host"
    assert caller_of("Boto3/1.44.5", states) == ("states", None)
    assert caller_of("Boto3/1.44.5", "AWS4-HMAC-SHA256 Credential=testing/...") == ("runtime", None)


def test_dynamodb_points_name_the_kinds_of_item_a_call_touches() -> None:
    transaction = {
        "TransactItems": [
            {"Update": {"Key": {"PK": {"S": "SKU#A"}, "SK": {"S": "SKU"}}}},
            {"Put": {"Item": {"PK": {"S": "OUTBOX#1"}, "SK": {"S": "EVENT"}}}},
            {"Put": {"Item": {"PK": {"S": "ORDER#o1"}, "SK": {"S": "ORDER"}}}},
        ]
    }
    assert operation_of("dynamodb", "TransactWriteItems", "/", transaction) == (
        "TransactWriteItems[ORDER+OUTBOX+SKU]"
    )
    get = {"Key": {"PK": {"S": "CHECKOUT#c1"}, "SK": {"S": "CHECKOUT"}}}
    assert operation_of("dynamodb", "GetItem", "/", get) == "GetItem[CHECKOUT]"
    query = {
        "IndexName": "GSI2",
        "KeyConditionExpression": "GSI2PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "HELD#A"}},
    }
    assert operation_of("dynamodb", "Query", "/", query) == "Query[HELD+GSI2]"
    batch = {"RequestItems": {"t": {"Keys": [{"PK": {"S": "SKU#A"}, "SK": {"S": "SKU"}}]}}}
    assert operation_of("dynamodb", "BatchGetItem", "/", batch) == "BatchGetItem[SKU]"


def test_a_state_machine_lambda_task_is_named_by_function_and_task() -> None:
    path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Aorders/invocations"
    assert operation_of("lambda", "Invoke", path, {"task": "confirm_order"}) == "Invoke(orders.confirm_order)"
    assert operation_of("events", "PutEvents", "/", {}) == "PutEvents"


def test_stripe_points_replace_object_ids() -> None:
    assert (
        stripe_operation("POST", "/v1/payment_intents/pi_3QxAbC12/cancel")
        == "POST /v1/payment_intents/{id}/cancel"
    )
    assert stripe_operation("POST", "/v1/refunds?x=1") == "POST /v1/refunds"
    assert stripe_operation("GET", "/v1/payment_intents") == "GET /v1/payment_intents"


def test_the_injected_errors_are_the_retryable_ones_in_each_protocol() -> None:
    import json

    status, headers, body = injected_error(
        "dynamodb", "TransactWriteItems", {"TransactItems": [{}, {}]}
    ).response()
    answer = json.loads(body)
    assert (status, answer["__type"]) == (400, "TransactionCanceledException")
    assert [r["Code"] for r in answer["CancellationReasons"]] == ["TransactionConflict", "None"]
    assert headers["x-amzn-RequestId"]  # Step Functions' error causes quote it
    assert injected_error("dynamodb", "UpdateItem", {}).code == "ThrottlingException"
    assert injected_error("lambda", "Invoke", {}).status == 429
    assert injected_error("sesv2", "SendEmail", {}).code == "TooManyRequestsException"
    status, headers, body = injected_error("s3", "PutObject", {}).response()
    assert (status, headers["Content-Type"]) == (503, "application/xml") and "<Code>SlowDown</Code>" in body
