"""DynamoDB round trips of one order's lifecycle, as the local runtime counts them per function
(`GET /_local/aws-calls`, by the function's User-Agent). Waits read DynamoDB directly (not through the
functions) so only the steps themselves are counted. Bounds, not exact numbers: a step may get
cheaper, never more expensive without this test saying so (docs/orders.md, docs/payments.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from infra.wiring import FUNCTIONS
from tests.integration.conftest import RunningBackend
from tests.integration.orders_support import create_checkout, pay, stocked_sku, wait_for
from tests.integration.stock_helpers import TABLE, dynamodb

ORDERS_CODE = tuple(spec.name for spec in FUNCTIONS if spec.code_folder == "orders")


def dynamodb_calls(backend: RunningBackend) -> dict[str, int]:
    """DynamoDB calls so far of the orders and payments functions."""
    response = httpx.get(f"{backend.base_url}/_local/aws-calls", timeout=30)
    response.raise_for_status()
    counted = response.json()
    by_function = counted["aws_calls_by_function"]
    # "orders": every function deployed from the orders code (API, lifecycle tasks, sweeps).
    code_of = {"orders": ORDERS_CODE, "payments": ("payments",)}
    calls = {
        name: sum(sum(by_function.get(f, {}).get("dynamodb", {}).values()) for f in functions)
        for name, functions in code_of.items()
    }
    # Schedules (the 5-minute stuck-refund sweep) also run the orders code; not the order's doing.
    scheduled = counted.get("scheduled_invocations", {})
    calls["orders_scheduled"] = sum(int(scheduled.get(f, 0)) for f in ORDERS_CODE)
    calls["orders_invocations"] = (
        sum(int(counted["invocations"].get(f, 0)) for f in ORDERS_CODE) - calls["orders_scheduled"]
    )
    return calls


def settle(backend: RunningBackend, quiet_seconds: float = 2.0, timeout: float = 60) -> None:
    """Until nothing is invoked any more and the queues are empty (the asynchronous tail is done)."""
    deadline = time.monotonic() + timeout
    last, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        depths = httpx.get(f"{backend.base_url}/_local/queues", timeout=30).json()
        invocations = httpx.get(f"{backend.base_url}/_local/aws-calls", timeout=30).json()["invocations"]
        # A dead-lettered message is nobody's work: another test may have left one there.
        busy = any(depth for name, depth in depths.items() if not name.endswith("-dlq"))
        if invocations != last or busy:
            last, quiet_since = invocations, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return
        time.sleep(0.25)


def item(backend: RunningBackend, pk: str, sk: str) -> dict[str, Any]:
    found = dynamodb(backend.aws_endpoint).get_item(
        TableName=TABLE, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True
    )
    return dict(found.get("Item", {}))


def step(backend: RunningBackend, action: Callable[[], None]) -> dict[str, int]:
    before = dynamodb_calls(backend)
    action()
    settle(backend)
    after = dynamodb_calls(backend)
    return {name: after[name] - before[name] for name in after}


def test_one_orders_lifecycle_stays_within_its_round_trip_budget(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    sku = stocked_sku(backend, admin, unique, 10)
    settle(backend)
    checkout: dict[str, Any] = {}

    def start() -> None:
        checkout.update(create_checkout(api, (sku, 1)))
        wait_for(
            lambda: item(backend, f"CHECKOUT#{checkout['id']}", "CHECKOUT"),
            lambda i: "payment_task_token" in i,
            "AwaitPayment stored its token",
        )

    def pay_and_confirm() -> None:
        pay(api, checkout)
        wait_for(
            lambda: item(backend, f"CHECKOUT#{checkout['id']}", "CHECKOUT"),
            lambda i: "order_id" in i,
            "order confirmed",
        )

    steps = {"checkout": step(backend, start), "pay+confirm": step(backend, pay_and_confirm)}
    order_id = item(backend, f"CHECKOUT#{checkout['id']}", "CHECKOUT")["order_id"]["S"]
    order_key = (f"ORDER#{order_id}", "ORDER")

    def fulfil() -> None:
        shipped = admin.post(
            f"/admin/orders/{order_id}/fulfillments", json={"carrier": "an_post", "tracking_number": "B1"}
        )
        assert shipped.status_code == 201, shipped.text

    def deliver() -> None:
        # The 5-minute sweep may fire during any step; fire it here on purpose, so its run is always
        # seen being told apart from what the order costs
        swept = api.post("/_local/schedules/settle-stuck-refunds/run", json={})
        assert swept.status_code == 200, swept.text
        delivered = admin.post(f"/admin/orders/{order_id}/delivered")
        assert delivered.status_code == 200, delivered.text
        wait_for(lambda: item(backend, *order_key), lambda i: i["status"]["S"] == "completed", "completed")

    steps["fulfil"] = step(backend, fulfil)
    steps["deliver"] = step(backend, deliver)

    # The waits and the completion are the state machine's own DynamoDB calls: no orders Lambda
    # runs at checkout at all.
    budget = {"checkout": 0, "pay+confirm": 3, "fulfil": 3, "deliver": 4}
    # A sweep that fired during a step read the pending-refund index once (nothing is stuck here)
    swept = {name: s["orders_scheduled"] for name, s in steps.items()}
    assert {name: s["orders"] - swept[name] for name, s in steps.items()} == {
        name: min(s["orders"] - swept[name], budget[name]) for name, s in steps.items()
    }, steps
    assert sum(s["orders"] - swept[name] for name, s in steps.items()) <= 9, steps
    assert swept["deliver"] >= 1, steps
    # The orders function runs for the confirmation and the two admin routes only (7 before)
    assert {name: s["orders_invocations"] for name, s in steps.items()} == {
        "checkout": 0,
        "pay+confirm": 1,
        "fulfil": 1,
        "deliver": 1,
    }, steps
    assert steps["pay+confirm"]["payments"] <= 3, steps
    assert sum(s["payments"] for s in steps.values()) <= 3, steps
