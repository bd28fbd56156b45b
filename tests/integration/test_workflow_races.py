"""The order lifecycle's waits when what they wait for happened first, run by moto's Step Functions
interpreter (the very ASL the stack deploys, as the local runtime runs it) on its own emulator.

AwaitPayment stores its task token with a conditional DynamoDB update. When the payments webhook was
quicker (it sets `payment_outcome` on the checkout in its transaction, before it looks for a token),
the condition fails and the machine must read the outcome and go on to confirm the order with it,
instead of waiting until the reservation expires. The order tasks are Lambda functions that do not
exist on this bare emulator, so the run ends in a compensation failure; what is asserted is the path
and the payment the confirmation was scheduled with.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3
from moto.server import ThreadedMotoServer

from infra.wiring import MAIN_TABLE, ORDER_LIFECYCLE, STATE_MACHINES
from localrt.workflows import TABLE_NAMES, local_definition

REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def emulator() -> Iterator[dict[str, Any]]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    urllib3.request("POST", f"{endpoint}/moto-api/config", body=json.dumps(config).encode(), timeout=10)
    kwargs = {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    dynamodb, sfn = boto3.client("dynamodb", **kwargs), boto3.client("stepfunctions", **kwargs)
    table = TABLE_NAMES[MAIN_TABLE.logical_name]
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    spec = next(s for s in STATE_MACHINES if s.name == ORDER_LIFECYCLE)
    machine = sfn.create_state_machine(
        name=spec.name, definition=local_definition(spec), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    try:
        yield {"port": port, "dynamodb": dynamodb, "sfn": sfn, "table": table, "machine": machine}
    finally:
        server.stop()


def _history(sfn: Any, execution: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution kept running (waiting on a token?)"
        time.sleep(0.2)
    return list(sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"])


def test_a_payment_that_landed_before_the_token_is_confirmed_at_once(
    emulator: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's interpreter reaches DynamoDB at localhost:$MOTO_PORT
    monkeypatch.setenv("MOTO_PORT", str(emulator["port"]))
    checkout_id = f"co_{uuid.uuid4().hex[:12]}"
    # Given a checkout the webhook already marked paid (as PaymentStore.commit does)
    emulator["dynamodb"].put_item(
        TableName=emulator["table"],
        Item={
            "PK": {"S": f"CHECKOUT#{checkout_id}"},
            "SK": {"S": "CHECKOUT"},
            "status": {"S": "awaiting_payment"},
            "payment_outcome": {
                "M": {
                    "outcome": {"S": "paid"},
                    "payment_intent_id": {"S": "pi_race"},
                    "amount": {"N": "4599"},
                }
            },
        },
    )
    # When its workflow starts (an hour before the reservation would expire)
    execution = emulator["sfn"].start_execution(
        stateMachineArn=emulator["machine"],
        name=checkout_id,
        input=json.dumps({"checkout_id": checkout_id, "payment_timeout_seconds": 3600}),
    )["executionArn"]
    events = _history(emulator["sfn"], execution)

    # Then it did not wait: the failed condition led to the outcome, and on to the confirmation
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert entered[:5] == [
        "AwaitPayment",
        "ReadPaymentOutcome",
        "PaidBeforeWaiting",
        "TakePaymentOutcome",
        "PaymentOutcome",
    ]
    assert "ConfirmOrder" in entered and "ExpireCheckout" not in entered
    confirm_input = json.loads(
        next(
            e["stateEnteredEventDetails"]["input"]
            for e in events
            if e.get("stateEnteredEventDetails", {}).get("name") == "ConfirmOrder"
        )
    )
    assert confirm_input["payment"] == {"outcome": "paid", "payment_intent_id": "pi_race", "amount": 4599}
    # and no token was left on the checkout for a webhook to resume
    item = emulator["dynamodb"].get_item(
        TableName=emulator["table"], Key={"PK": {"S": f"CHECKOUT#{checkout_id}"}, "SK": {"S": "CHECKOUT"}}
    )["Item"]
    assert "payment_task_token" not in item


def test_a_checkout_closed_before_the_token_expires_without_waiting(
    emulator: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_PORT", str(emulator["port"]))
    checkout_id = f"co_{uuid.uuid4().hex[:12]}"
    # Given a checkout the sweep expired before its workflow stored a token (no payment)
    emulator["dynamodb"].put_item(
        TableName=emulator["table"],
        Item={"PK": {"S": f"CHECKOUT#{checkout_id}"}, "SK": {"S": "CHECKOUT"}, "status": {"S": "expired"}},
    )
    execution = emulator["sfn"].start_execution(
        stateMachineArn=emulator["machine"],
        name=checkout_id,
        input=json.dumps({"checkout_id": checkout_id, "payment_timeout_seconds": 3600}),
    )["executionArn"]
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in _history(emulator["sfn"], execution)
        if "stateEnteredEventDetails" in e
    ]
    # Then it goes straight to the expiry compensation, never to a confirmation
    assert entered[:4] == ["AwaitPayment", "ReadPaymentOutcome", "PaidBeforeWaiting", "ExpireCheckout"]
    assert "ConfirmOrder" not in entered
