"""Synthesizes the app once per session (both regions, cdk-nag on) and shares the templates."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.app import build_app, create_app
from infra.declaration import Declaration
from infra.function_factory import FUNCTIONS_DIR
from infra.layer_build import ensure_layers
from infra.stack import stack_name
from infra.wiring import FunctionSpec, Route, Schedule, Subscription
from tests.infra.deployable import regions_dir_for

REGIONS = ("eu-west-1", "us-east-1")
STAGE = "dev"
PROD_STAGE = "prod"


@dataclass
class Synthesis:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # region -> template
    error: Exception | None
    report: dict[str, Any] = field(default_factory=dict)

    def template_path(self, region: str) -> Path:
        return self.outdir / f"{stack_name(STAGE, region)}.template.json"


@pytest.fixture(scope="session")
def layer_dirs() -> dict[str, Path]:
    return ensure_layers()


def synthesize(
    outdir: Path,
    context: dict[str, str],
    layer_dirs: dict[str, Path],
    declaration: Declaration | None = None,
    functions_dir: Path = FUNCTIONS_DIR,
) -> Synthesis:
    app = create_app(context, outdir=str(outdir))
    regions_dir = regions_dir_for(context.get("stage", STAGE), outdir.parent / f"{outdir.name}-regions")
    stacks = build_app(
        app,
        layer_dirs=layer_dirs,
        declaration=declaration,
        functions_dir=functions_dir,
        regions_dir=regions_dir,
    )
    error: Exception | None = None
    try:
        app.synth()
    except Exception as exc:  # cdk-nag findings fail the synth; the report says which
        error = exc
    report_file = outdir / "validation-report.json"
    return Synthesis(
        outdir=outdir,
        templates={
            stack.region: json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
            for stack in stacks
        },
        error=error,
        report=json.loads(report_file.read_text()) if report_file.exists() else {},
    )


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory, layer_dirs: dict[str, Path]) -> Synthesis:
    """The real app, as `cdk synth -c stage=dev -c regions=eu-west-1,us-east-1` builds it."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    return synthesize(outdir, {"stage": STAGE, "regions": ",".join(REGIONS)}, layer_dirs)


@pytest.fixture(scope="session")
def prod_synthesis(tmp_path_factory: pytest.TempPathFactory, layer_dirs: dict[str, Path]) -> Synthesis:
    """`cdk synth -c stage=prod -c regions=eu-west-1,us-east-1`: what a shop deploys and upgrades
    (the region files with the shop's own addresses, tests/infra/deployable.py)."""
    outdir = tmp_path_factory.mktemp("prod-cdk.out")
    return synthesize(outdir, {"stage": PROD_STAGE, "regions": ",".join(REGIONS)}, layer_dirs)


@pytest.fixture(scope="session")
def templates(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return synthesis.templates


@pytest.fixture(scope="session")
def app_stacks(synthesis: Synthesis, prod_synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    """Stack name -> template of every stack of the real app (dev and prod, both regions)."""
    stacks = {}
    for stage, result in ((STAGE, synthesis), (PROD_STAGE, prod_synthesis)):
        assert result.error is None, result.error
        for region, template in result.templates.items():
            stacks[stack_name(stage, region)] = template
    return stacks


@pytest.fixture(scope="session")
def eu_template(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["eu-west-1"]


@pytest.fixture(scope="session")
def prod_eu_template(prod_synthesis: Synthesis) -> dict[str, Any]:
    """What only the prod stage settings build (the WAF web ACL, the dashboard) is checked here."""
    assert prod_synthesis.error is None, prod_synthesis.error
    return prod_synthesis.templates["eu-west-1"]


# --- the wiring as it is about to grow: proves what the current wiring cannot yet show ------------

# Both reach functions deployed for their trigger (a new queue and a new schedule function of the
# stock code).
PROBE_SUBSCRIPTION = Subscription(
    name="probe-stock-alerts",
    function="stock-alerts",
    detail_types=("StockLow", "ProductCreated"),
    batch_size=5,
)
PROBE_SCHEDULE = Schedule(
    "probe-nightly", "stock-nightly", "cron(0 2 * * ? *)", timezone="UTC", payload={"kind": "probe"}
)
PROBE_FUNCTIONS = (
    FunctionSpec(name="stock-alerts", domain="stock", description="probe", code="stock", trigger="queue"),
    FunctionSpec(name="stock-nightly", domain="stock", description="probe", code="stock", trigger="schedule"),
)
PAYMENTS = FunctionSpec(
    name="payments", domain="payments", description="Payments: Stripe webhook, refunds", secrets=("stripe",)
)
PAYMENTS_ROUTES = (
    Route("POST", "/webhooks/stripe", "payments", auth="webhook"),
    Route("POST", "/admin/orders/{order_id}/refunds", "payments", auth="admin"),
)


def extended_declaration() -> Declaration:
    """Today's wiring plus payments (Stripe) if not wired yet, one subscription, one schedule with
    its own time zone and payload, and checkout's Stripe secret flipped: whichever way the wiring
    has it, the two syntheses together show checkout with and without the Stripe secret."""
    wiring = Declaration.from_wiring()
    functions = tuple(
        dataclasses.replace(spec, secrets=() if "stripe" in spec.secrets else ("stripe",))
        if spec.name == "checkout"
        else spec
        for spec in wiring.functions
    )
    routes = wiring.routes
    if "payments" not in {spec.name for spec in functions}:
        functions += (PAYMENTS,)
        routes += PAYMENTS_ROUTES
    functions += PROBE_FUNCTIONS
    return dataclasses.replace(
        wiring,
        functions=functions,
        routes=routes,
        subscriptions=(*wiring.subscriptions, PROBE_SUBSCRIPTION),
        schedules=(*wiring.schedules, PROBE_SCHEDULE),
    )


def stub_functions_dir(root: Path, specs: tuple[FunctionSpec, ...]) -> Path:
    """Copies of the real function folders, with a stub handler where one does not exist yet."""
    for spec in specs:
        target = root / spec.code_folder
        if target.exists():
            continue  # shared by another spec, copied already
        if (FUNCTIONS_DIR / spec.code_folder).is_dir():
            shutil.copytree(
                FUNCTIONS_DIR / spec.code_folder, target, ignore=shutil.ignore_patterns("__pycache__")
            )
        target.mkdir(parents=True, exist_ok=True)
        if not (target / "handler.py").exists():
            (target / "handler.py").write_text(f"def {spec.handler}(event, context):\n    return None\n")
    return root


@dataclass
class Extended:
    declaration: Declaration
    synthesis: Synthesis

    @property
    def template(self) -> dict[str, Any]:
        return self.synthesis.templates["eu-west-1"]


@pytest.fixture(scope="session")
def extended(tmp_path_factory: pytest.TempPathFactory, layer_dirs: dict[str, Path]) -> Extended:
    """`extended_declaration()` synthesized for eu-west-1 with cdk-nag, like the real app."""
    declaration = extended_declaration()
    functions_dir = stub_functions_dir(tmp_path_factory.mktemp("functions"), declaration.functions)
    outdir = tmp_path_factory.mktemp("extended-cdk.out")
    synthesis = synthesize(
        outdir, {"stage": STAGE, "regions": "eu-west-1"}, layer_dirs, declaration, functions_dir
    )
    return Extended(declaration, synthesis)


# --- figures every CI run shows (tests/infra/test_budget.py), after the test summary --------------

BUDGET_REPORT: list[str] = []
# ... and what a deploy over the baseline (tests/infra/baseline/) would replace or remove.
UPGRADE_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if BUDGET_REPORT:
        terminalreporter.write_sep("-", "stack budgets (figure / budget / AWS limit)")
        for line in BUDGET_REPORT:
            terminalreporter.write_line(line)
    if UPGRADE_REPORT:
        terminalreporter.write_sep("-", "upgrade from the baseline: replaced or removed")
        for line in UPGRADE_REPORT:
            terminalreporter.write_line(line)


# --- a refactor gone wrong: the main table's construct renamed --------------------------------------


@dataclass
class Renamed:
    stack_name: str
    template: dict[str, Any]
    old_logical_id: str  # the main table's logical id in the real stack
    # The same rename with the old logical id pinned (`override_logical_id`), as the failure says.
    pinned_template: dict[str, Any]


@pytest.fixture(scope="session")
def renamed(
    tmp_path_factory: pytest.TempPathFactory, layer_dirs: dict[str, Path], eu_template: dict[str, Any]
) -> Renamed:
    """The dev eu-west-1 stack with the main table built as `OrdersTable` instead of `MainTable`
    (no cdk-nag, no validation: only logical IDs matter here)."""
    from aws_cdk import aws_dynamodb

    from infra.constructs import data
    from infra.wiring import MAIN_TABLE

    (old_logical_id,) = [
        logical_id
        for logical_id, resource in eu_template["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
        and resource["Properties"]["KeySchema"][0]["AttributeName"] == MAIN_TABLE.partition_key
    ]
    real_table = aws_dynamodb.Table

    def renamed_table(scope: Any, construct_id: str, **kwargs: Any) -> aws_dynamodb.Table:
        return real_table(scope, "OrdersTable" if construct_id == "MainTable" else construct_id, **kwargs)

    results = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDK_VALIDATION", "false")
        patch.setattr(data.dynamodb, "Table", renamed_table)
        for pin in (False, True):
            outdir = tmp_path_factory.mktemp("renamed-cdk.out")
            app = create_app({"stage": STAGE, "regions": "eu-west-1"}, outdir=str(outdir))
            (stack,) = build_app(app, with_nag=False, layer_dirs=layer_dirs)
            if pin:
                table = stack.data.main.node.default_child
                assert isinstance(table, aws_dynamodb.CfnTable)
                table.override_logical_id(old_logical_id)
            app.synth()
            results.append(json.loads((outdir / f"{stack.stack_name}.template.json").read_text()))
    return Renamed(stack.stack_name, results[0], old_logical_id, results[1])
