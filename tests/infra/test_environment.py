"""`function_environment` is pure, complete, and exactly what `cloudtill.settings.Settings` reads."""

from __future__ import annotations

import dataclasses

import pytest
from cloudtill.settings import Settings

from infra.environment import function_environment
from infra.region_settings import load_region_settings
from infra.wiring import FUNCTIONS, ORDER_LIFECYCLE

SHOP = load_region_settings("us-east-1").shop
CATALOG = next(spec for spec in FUNCTIONS if spec.name == "catalog")
CHECKOUT = next(spec for spec in FUNCTIONS if spec.name == "checkout")


def _environment(**overrides: object) -> dict[str, str]:
    arguments: dict[str, object] = {
        "stage": "dev",
        "shop": SHOP,
        "table_name": "main-table",
        "idempotency_table_name": "idempotency-table",
        "event_bus_name": "cloudtill-dev",
        **overrides,
    }
    spec = arguments.pop("spec", CATALOG)
    return function_environment(spec, **arguments)  # type: ignore[arg-type]


def test_environment_names_the_service_its_resources_and_shop() -> None:
    environment = _environment()
    assert environment["POWERTOOLS_SERVICE_NAME"] == "catalog"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "cloudtill"
    assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert environment["TABLE_NAME"] == "main-table"
    assert environment["IDEMPOTENCY_TABLE_NAME"] == "idempotency-table"
    assert environment["EVENT_BUS_NAME"] == "cloudtill-dev"
    assert environment["STAGE"] == "dev"
    assert all(isinstance(value, str) for value in environment.values())


def test_functions_settings_parse_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function started with exactly the stack's environment
    for name, value in _environment().items():
        monkeypatch.setenv(name, value)
    # When it reads its settings at cold start, then it sees the region's shop and resources
    settings = Settings()  # type: ignore[call-arg]
    assert settings.shop_settings == SHOP
    assert settings.shop_settings.currency == "USD"
    assert (settings.table_name, settings.idempotency_table_name) == ("main-table", "idempotency-table")
    assert settings.event_bus_name == "cloudtill-dev"
    assert settings.stage == "dev"


def test_only_stripe_functions_learn_where_the_stripe_secret_is() -> None:
    secret = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:cloudtill/dev/stripe"
    payments = dataclasses.replace(CATALOG, name="payments", secrets=("stripe",))
    assert _environment(spec=payments, secret_arns={"stripe": secret})["STRIPE_SECRET_ARN"] == secret
    assert "STRIPE_SECRET_ARN" not in _environment(secret_arns={"stripe": secret})


def test_same_inputs_same_environment() -> None:
    assert _environment() == _environment()


def test_the_state_machine_arn_reaches_the_settings_of_a_workflow_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a workflow client (a spec with `workflows`) started with the stack's environment
    arn = "arn:aws:states:eu-west-1:111111111111:stateMachine:cloudtill-dev-order-lifecycle"
    environment = _environment(spec=CHECKOUT, state_machine_arns={ORDER_LIFECYCLE: arn})
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # Then cloudtill.workflow's adapter is built with that ARN; without it the variable is absent
    assert Settings().state_machine_arn == arn  # type: ignore[call-arg]
    assert "STATE_MACHINE_ARN" not in _environment()
    # ... and a function that drives no workflow never learns it
    assert "STATE_MACHINE_ARN" not in _environment(state_machine_arns={ORDER_LIFECYCLE: arn})


def test_a_regions_per_sku_checkout_maximum_reaches_its_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit on units of a SKU per checkout is a region's shop setting (default 10)
    assert SHOP.max_quantity_per_sku == 10
    shop = SHOP.model_copy(update={"max_quantity_per_sku": 4})
    for name, value in _environment(shop=shop).items():
        monkeypatch.setenv(name, value)
    assert Settings().shop_settings.max_quantity_per_sku == 4  # type: ignore[call-arg]
