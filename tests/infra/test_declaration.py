"""A broken wiring fails the synth with a message saying what to fix, before any resource exists:
unknown domains (no construct to grant permissions), missing function folders, dangling names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infra.app import build_app, create_app
from infra.constructs.registry import DOMAIN_CONSTRUCTS, UnknownDomainError
from infra.declaration import Declaration, WiringError
from infra.wiring import (
    ORDER_LIFECYCLE,
    FunctionSpec,
    ItemAccess,
    Route,
    Schedule,
    StateMachineSpec,
    StreamConsumer,
    Subscription,
    TableAccess,
)
from infra.workflow_clients import WorkflowClient

LIFECYCLE_FILE = "infra/statemachines/order_lifecycle.asl.json"

WIRING = Declaration.from_wiring()


@pytest.fixture(autouse=True)
def _plain_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")


def _build(declaration: Declaration, layer_dirs: dict[str, Path], **kwargs: object) -> None:
    app = create_app({"stage": "dev", "regions": "eu-west-1"})
    build_app(app, with_nag=False, layer_dirs=layer_dirs, declaration=declaration, **kwargs)  # type: ignore[arg-type]


def test_every_wired_domain_has_a_construct_granting_its_permissions() -> None:
    assert {spec.domain for spec in WIRING.functions} <= set(DOMAIN_CONSTRUCTS)


def test_a_function_of_a_domain_without_construct_fails_the_synth(layer_dirs: dict[str, Path]) -> None:
    # Given a new function whose domain nobody wrote grants for (it reuses catalog's code folder)
    orphan = dataclasses.replace(WIRING.function("catalog"), name="catalog", domain="loyalty")
    declaration = dataclasses.replace(
        WIRING, functions=tuple(orphan if s.name == "catalog" else s for s in WIRING.functions)
    )
    # Then building the stack stops and says which construct to add
    with pytest.raises(UnknownDomainError, match=r"infra/constructs/loyalty\.py"):
        _build(declaration, layer_dirs)


def test_a_function_without_its_folder_fails_the_synth(layer_dirs: dict[str, Path], tmp_path: Path) -> None:
    ghost = FunctionSpec(name="ghost", domain="catalog", description="not written yet")
    declaration = dataclasses.replace(WIRING, functions=(*WIRING.functions, ghost))
    with pytest.raises(FileNotFoundError, match=r"'ghost' is in infra/wiring\.py but .*functions/ghost"):
        _build(declaration, layer_dirs)


def test_payments_without_stripe_fails_the_synth(layer_dirs: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "payments").mkdir()
    (tmp_path / "payments" / "handler.py").write_text("def lambda_handler(event, context): ...\n")
    for spec in WIRING.functions:
        (tmp_path / spec.code_folder).mkdir(exist_ok=True)
    payments = FunctionSpec(name="payments", domain="payments", description="payments", uses_stripe=False)
    functions = (*[s for s in WIRING.functions if s.name != "payments"], payments)
    with pytest.raises(ValueError, match="uses_stripe=True"):
        _build(dataclasses.replace(WIRING, functions=functions), layer_dirs, functions_dir=tmp_path)


def test_the_wiring_is_consistent() -> None:
    assert WIRING.validate() is WIRING


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"routes": (Route("GET", "/x", "nobody"),)}, r"route GET /x targets unknown function 'nobody'"),
        (
            {"subscriptions": (Subscription("s", "nobody", ("X",)),)},
            r"subscription 's' targets unknown function",
        ),
        ({"subscriptions": (Subscription("s", "catalog", ()),)}, r"subscription 's' lists no detail types"),
        (
            {"subscriptions": (Subscription("s", "catalog", ("X",), batch_size=50),)},
            r"subscription 's': batch_size above 10 needs a batching window",
        ),
        (
            {"subscriptions": (Subscription("s", "catalog", ("X",), max_batching_window_seconds=301),)},
            r"subscription 's': batching window must be 0\.\.300 s",
        ),
        (
            {"stream_consumers": (StreamConsumer("c", "publisher", "Idempotency", ("outbox",)),)},
            r"table 'Idempotency' has no stream",
        ),
        (
            {"stream_consumers": (StreamConsumer("c", "publisher", "Nope", ("outbox",)),)},
            r"unknown table 'Nope'",
        ),
        ({"schedules": (Schedule("n", "checkout", "every minute"),)}, r"not a Scheduler expression"),
        (
            {
                "schedules": (
                    Schedule("n", "checkout", "rate(1 hour)"),
                    Schedule("n", "checkout", "rate(2 hours)"),
                )
            },
            r"schedule 'n' is declared 2 times",
        ),
        (
            {"schedules": (Schedule("n", "checkout", "rate(1 hour)", payload={"schedule": "x"}),)},
            r"'schedule' is reserved",
        ),
        (
            {"state_machines": (StateMachineSpec("m", LIFECYCLE_FILE, {"OrdersFunction": "nobody"}),)},
            r"state machine 'm' task \$\{OrdersFunction\} targets unknown function 'nobody'",
        ),
        (
            {"state_machines": (StateMachineSpec("m", LIFECYCLE_FILE, {}),)},
            r"\$\{OrdersFunction\} in infra/statemachines/order_lifecycle\.asl\.json is not in its tasks",
        ),
        (
            {
                "state_machines": (
                    StateMachineSpec("m", LIFECYCLE_FILE, {"OrdersFunction": "orders", "Typo": "orders"}),
                )
            },
            r"task 'Typo' is declared but .* never uses \$\{Typo\}",
        ),
        (
            {"state_machines": (StateMachineSpec("m", LIFECYCLE_FILE, {"OrdersFunction": "orders"}),)},
            r"\$\{MainTable\} in infra/statemachines/order_lifecycle\.asl\.json is not in its tasks or",
        ),
        (
            {
                "state_machines": (
                    StateMachineSpec(
                        "m",
                        LIFECYCLE_FILE,
                        {"OrdersFunction": "orders"},
                        (TableAccess("MainTable", "Nope", ("dynamodb:GetItem",), ("ORDER#*",)),),
                    ),
                )
            },
            r"table access 'MainTable' names unknown table 'Nope'",
        ),
        (
            {"state_machines": (StateMachineSpec("m", "infra/statemachines/nope.asl.json", {}),)},
            r"definition file infra/statemachines/nope\.asl\.json does not exist",
        ),
        (
            {"workflow_clients": (WorkflowClient("nope", "checkout", ("states:StartExecution",)),)},
            r"workflow client 'checkout' uses unknown state machine 'nope'",
        ),
        (
            {"workflow_clients": (WorkflowClient(ORDER_LIFECYCLE, "ghost", ("states:StartExecution",)),)},
            r"workflow client of 'order-lifecycle' targets unknown function 'ghost'",
        ),
        (
            {"workflow_clients": (WorkflowClient(ORDER_LIFECYCLE, "checkout", ("dynamodb:PutItem",)),)},
            r"must list Step Functions \(states:\) actions",
        ),
    ],
)
def test_inconsistent_wiring_is_refused_with_what_to_fix(change: dict[str, object], message: str) -> None:
    with pytest.raises(WiringError, match=message):
        dataclasses.replace(WIRING, **change).validate()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("access", "problem"),
    [
        # A write anywhere in the shared main table: every domain's items
        (ItemAccess("Main", ("dynamodb:PutItem",)), r"need key prefixes"),
        (ItemAccess("Main", ("dynamodb:GetItem", "dynamodb:Query")), r"need key prefixes"),
        (ItemAccess("Main", ("dynamodb:*",), ("ORDER#*",)), r"not an item-level DynamoDB action"),
        (ItemAccess("Main", ("dynamodb:BatchWriteItem",), ("ORDER#*",)), r"not an item-level"),
        # A Scan has no partition key: a LeadingKeys condition would not bound it
        (ItemAccess("Main", ("dynamodb:Scan",), ("SKU#*",)), r"Scan must be granted alone"),
        (ItemAccess("Main", ("dynamodb:Scan", "dynamodb:GetItem"), ("SKU#*",)), r"Scan must be granted"),
        (ItemAccess("Main", ("dynamodb:Query",), ("X#*",), index="GSI9"), r"has no index 'GSI9'"),
        (ItemAccess("Main", ("dynamodb:GetItem",), ("X#*",), index="GSI1"), r"index grant allows Query"),
        (ItemAccess("Orders", ("dynamodb:GetItem",), ("X#*",)), r"unknown table"),
    ],
)
def test_a_table_grant_that_is_not_least_privilege_fails_the_synth(access: ItemAccess, problem: str) -> None:
    catalog = dataclasses.replace(WIRING.function("catalog"), table_access=(access,))
    declaration = dataclasses.replace(
        WIRING, functions=tuple(catalog if s.name == "catalog" else s for s in WIRING.functions)
    )
    with pytest.raises(WiringError, match=rf"function 'catalog' table access .*{problem}"):
        declaration.validate()


def test_the_wirings_table_grants_are_least_privilege() -> None:
    assert WIRING.validate() is WIRING
