"""The order lifecycle's Choice states, evaluated against every order status the rules know.

A waiting task resumes at once when what it waits for has happened already, so a Choice that sends a
status back to the same waiting task loops forever (thousands of paid state transitions; the bench
caught one for an order delivered before the machine saw it shipped). These tests walk the definition
itself, so they fail if any status would loop or be left without a way forward.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cloudtill.orders import rules

DEFINITION = json.loads(
    (Path(__file__).resolve().parents[2] / "infra" / "statemachines" / "order_lifecycle.asl.json").read_text()
)
STATES: dict[str, Any] = DEFINITION["States"]
ORDER_STATUSES = [
    rules.CONFIRMED,
    rules.PARTIALLY_SHIPPED,
    rules.SHIPPED,
    rules.DELIVERED,
    rules.COMPLETED,
    rules.CANCELLED,
]


def _value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def _matches(rule: dict[str, Any], document: dict[str, Any]) -> bool:
    if "Or" in rule:
        return any(_matches(r, document) for r in rule["Or"])
    if "And" in rule:
        return all(_matches(r, document) for r in rule["And"])
    if "Not" in rule:
        return not _matches(rule["Not"], document)
    value = _value(document, rule["Variable"])
    if "StringEquals" in rule:
        return bool(value == rule["StringEquals"])
    if "BooleanEquals" in rule:
        return bool(value is rule["BooleanEquals"])
    raise AssertionError(f"this evaluator does not know the rule {rule}")


def next_state(choice: str, document: dict[str, Any]) -> str:
    state = STATES[choice]
    for rule in state["Choices"]:
        if _matches(rule, document):
            return str(rule["Next"])
    return str(state["Default"])


def progress(status: str, cancel_requested: bool = False) -> dict[str, Any]:
    return {"progress": {"status": status, "fulfilments": 1, "cancel_requested": cancel_requested}}


@pytest.mark.parametrize("status", ORDER_STATUSES)
def test_fulfilment_progress_only_waits_again_while_something_is_left_to_ship(status: str) -> None:
    target = next_state("FulfilmentProgress", progress(status))
    if status in {rules.CONFIRMED, rules.PARTIALLY_SHIPPED}:
        assert target == "AwaitFulfilment"
    else:
        assert target != "AwaitFulfilment", f"{status} would resume AwaitFulfilment forever"


def test_an_order_delivered_before_the_machine_saw_it_shipped_completes() -> None:
    assert next_state("FulfilmentProgress", progress(rules.DELIVERED)) == "CompleteOrder"
    assert next_state("FulfilmentProgress", progress(rules.COMPLETED)) == "CompleteOrder"


def test_shipped_waits_for_delivery_and_a_cancel_request_cancels() -> None:
    assert next_state("FulfilmentProgress", progress(rules.SHIPPED)) == "AwaitDelivery"
    assert next_state("FulfilmentProgress", progress(rules.CONFIRMED, cancel_requested=True)) == "CancelOrder"


def test_a_status_the_machine_does_not_know_fails_instead_of_waiting() -> None:
    assert STATES[next_state("FulfilmentProgress", progress("teleported"))]["Type"] == "Fail"


@pytest.mark.parametrize("status", ORDER_STATUSES)
def test_delivery_progress_completes_delivered_orders_and_never_spins(status: str) -> None:
    target = next_state("DeliveryProgress", progress(status))
    if status in {rules.DELIVERED, rules.COMPLETED}:
        assert target == "CompleteOrder"
    elif status == rules.SHIPPED:
        # Only a resume by another admin write lands here; the wait's condition holds, so it waits.
        assert target == "AwaitDelivery"
    else:
        assert STATES[target]["Type"] == "Fail"


def test_waits_store_their_token_only_while_nothing_they_wait_for_has_happened() -> None:
    # A lost race (the condition fails) reads the order and decides from it, instead of waiting forever
    for wait, reader in (
        ("AwaitFulfilment", "ReadFulfilmentProgress"),
        ("AwaitDelivery", "ReadDeliveryProgress"),
    ):
        state = STATES[wait]
        assert state["Resource"].endswith("dynamodb:updateItem.waitForTaskToken")
        assert "ConditionExpression" in state["Parameters"]
        assert "#version = #version + :one" in state["Parameters"]["UpdateExpression"]
        raced = next(
            c for c in state["Catch"] if "DynamoDb.ConditionalCheckFailedException" in c["ErrorEquals"]
        )
        assert raced["Next"] == reader
        assert STATES[reader]["Parameters"]["ConsistentRead"] is True


class _CapturingClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {}


def test_the_state_machines_completion_writes_what_the_orders_adapter_writes() -> None:
    # CompleteOrder is a direct DynamoDB update in the ASL; it must stay the adapter's completion
    from cloudtill.orders.dynamo import DynamoOrderRepository

    client = _CapturingClient()
    at = "2026-11-23T10:00:00.000Z"
    DynamoOrderRepository("cloudtill-main", client).advance("o-1", rules.completion(at))
    (adapter,) = client.calls
    state = STATES["CompleteOrder"]
    assert state["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:updateItem"
    asl = state["Parameters"]
    for field in ("UpdateExpression", "ConditionExpression", "ExpressionAttributeNames"):
        assert asl[field] == adapter[field], field
    values = dict(asl["ExpressionAttributeValues"])
    # The time is the state's entry time in the ASL; everything else is literally the adapter's
    assert values.pop(":at") == {"S.$": "$$.State.EnteredTime"}
    entry = values.pop(":entry")
    assert entry["L"][0]["M"]["event"] == adapter["ExpressionAttributeValues"][":entry"]["L"][0]["M"]["event"]
    expected = {k: v for k, v in adapter["ExpressionAttributeValues"].items() if k not in {":at", ":entry"}}
    assert values == expected
    assert asl["Key"]["SK"] == adapter["Key"]["SK"]
    raced = next(c for c in state["Catch"] if "DynamoDb.ConditionalCheckFailedException" in c["ErrorEquals"])
    assert (
        next_state(STATES[raced["Next"]]["Next"], {"completion": {"status": "completed"}}) == "OrderCompleted"
    )
    assert STATES[next_state("CompletionOutcome", {"completion": {"status": "shipped"}})]["Type"] == "Fail"
