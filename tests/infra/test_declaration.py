"""A broken wiring fails the synth with a message saying what to fix, before any resource exists:
missing function folders, dangling names, triggers reaching a function of another trigger, needs naming
nothing declared. A new domain needs no infra code: its functions' needs are on their specs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infra.app import build_app, create_app
from infra.declaration import REPOSITORY_ROOT, Declaration, WiringError
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
    WorkflowAccess,
)

LIFECYCLE_FILE = "infra/statemachines/order_lifecycle.asl.json"

WIRING = Declaration.from_wiring()


def _checkout_driving(access: WorkflowAccess) -> tuple[FunctionSpec, ...]:
    checkout = dataclasses.replace(WIRING.function("checkout"), workflows=(access,))
    return tuple(checkout if s.name == "checkout" else s for s in WIRING.functions)


@pytest.fixture(autouse=True)
def _plain_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")


def _build(declaration: Declaration, layer_dirs: dict[str, Path], **kwargs: object) -> None:
    app = create_app({"stage": "dev", "regions": "eu-west-1"})
    build_app(app, with_nag=False, layer_dirs=layer_dirs, declaration=declaration, **kwargs)  # type: ignore[arg-type]


def test_a_function_of_a_new_domain_needs_no_infra_code(layer_dirs: dict[str, Path]) -> None:
    # Given a function of a domain no construct knows (it reuses catalog's code folder)
    orphan = dataclasses.replace(WIRING.function("catalog"), name="catalog", domain="loyalty")
    declaration = dataclasses.replace(
        WIRING, functions=tuple(orphan if s.name == "catalog" else s for s in WIRING.functions)
    )
    # Then the stack builds, with the function in its domain's construct and its spec's grants
    app = create_app({"stage": "dev", "regions": "eu-west-1"})
    (stack,) = build_app(app, with_nag=False, layer_dirs=layer_dirs, declaration=declaration)
    assert stack.functions["catalog"].node.scope is stack.domains["loyalty"]


def test_a_function_without_its_folder_fails_the_synth(layer_dirs: dict[str, Path], tmp_path: Path) -> None:
    ghost = FunctionSpec(name="ghost", domain="catalog", description="not written yet")
    declaration = dataclasses.replace(WIRING, functions=(*WIRING.functions, ghost))
    with pytest.raises(FileNotFoundError, match=r"'ghost' is in infra/wiring\.py but .*functions/ghost"):
        _build(declaration, layer_dirs)


# Handler modules through which code reads the Stripe secret (its API key or webhook secrets).
STRIPE_CREDENTIALS = "cloudtill.payments.credentials"


def test_every_function_whose_code_reads_the_stripe_secret_declares_it() -> None:
    # payments, checkout and orders read it; a spec of their code without `secrets=("stripe",)` would
    # deploy a function that fails at its first Stripe call
    readers = {
        path.parent.name
        for path in (REPOSITORY_ROOT / "functions").glob("*/handler.py")
        if STRIPE_CREDENTIALS in path.read_text()
    }
    assert {"payments", "checkout", "orders"} <= readers
    for spec in WIRING.functions:
        assert ("stripe" in spec.secrets) == (spec.code_folder in readers), spec.name


def test_a_need_naming_nothing_declared_is_refused() -> None:
    payments = dataclasses.replace(WIRING.function("payments"), secrets=("stripe", "paypal"))
    declaration = dataclasses.replace(
        WIRING, functions=tuple(payments if s.name == "payments" else s for s in WIRING.functions)
    )
    with pytest.raises(WiringError, match=r"function 'payments' reads unknown secret 'paypal'"):
        declaration.validate()


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
            {"functions": _checkout_driving(WorkflowAccess("nope", ("states:StartExecution",)))},
            r"function 'checkout' drives unknown state machine 'nope'",
        ),
        (
            {"functions": _checkout_driving(WorkflowAccess(ORDER_LIFECYCLE, ("dynamodb:PutItem",)))},
            r"must list Step Functions \(states:\) actions",
        ),
        # One entry point per trigger: a schedule, a route or a task on a function of another trigger
        (
            {"schedules": (Schedule("n", "checkout", "rate(1 hour)"),)},
            r"schedule 'n' targets 'checkout', a 'api' function: it needs a 'schedule' function",
        ),
        (
            {"routes": (Route("GET", "/x", "publisher"),)},
            r"route GET /x targets 'publisher', a 'stream' function",
        ),
        (
            {"state_machines": (StateMachineSpec("m", LIFECYCLE_FILE, {"OrdersFunction": "orders"}),)},
            r"task \$\{OrdersFunction\} targets 'orders', a 'api' function: it needs a 'task' function",
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
