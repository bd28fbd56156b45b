"""The order lifecycle as deployed: the very ASL file the local runtime runs, its tasks invoking the
wiring's functions and nothing else, logs without execution data, tracing, alarms; exactly the
functions that drive it (their specs' `workflows`) can, with exactly the actions their code calls."""

from __future__ import annotations

import ast
import copy
import json
import os
import re
from pathlib import Path
from typing import Any

from infra.declaration import REPOSITORY_ROOT
from infra.function_factory import FUNCTIONS_DIR
from infra.wiring import FUNCTIONS, ORDER_LIFECYCLE, STATE_MACHINES, TABLES
from localrt.workflows import TABLE_NAMES, function_arn, local_definition, served_state_machines
from tests.infra.conftest import STAGE
from tests.infra.template_checks import (
    actions_of,
    function_logical_id,
    function_names,
    function_role,
    references,
    render,
    resolved_definition,
    resources_of_type,
    role_statements,
    state_machine_resources,
    state_machines,
    table_logical_names,
    table_substitutions,
    task_functions,
)

# Every ASL file a state machine could be built from, with its placeholders unresolved.
ASL_FILES = {
    str(path.relative_to(REPOSITORY_ROOT)): path.read_text()
    for path in (REPOSITORY_ROOT / "infra" / "statemachines").glob("*.asl.json")
}
SPECS = {spec.name: spec for spec in STATE_MACHINES}


def _expected_arn(region: str, name: str) -> str:
    # As infra/app.py: a concrete account when CDK_DEFAULT_ACCOUNT is set (make sets it), else the token.
    account = os.environ.get("CDK_DEFAULT_ACCOUNT") or "${AWS::AccountId}"
    return f"arn:${{AWS::Partition}}:states:{region}:{account}:stateMachine:cloudtill-{STAGE}-{name}"


# --- wiring: deployed == served locally ---------------------------------------------------------


def test_every_region_deploys_exactly_the_local_state_machines(templates: dict[str, dict[str, Any]]) -> None:
    local = served_state_machines()
    assert (ORDER_LIFECYCLE, "infra/statemachines/order_lifecycle.asl.json") in local
    for region, template in templates.items():
        deployed = state_machines(template, STAGE, ASL_FILES)
        assert deployed == local, f"{region}: deployed {sorted(deployed, key=str)}, local {sorted(local)}"


def test_the_deployed_definition_resolves_to_what_the_local_runtime_runs(
    templates: dict[str, dict[str, Any]],
) -> None:
    for region, template in templates.items():
        for name, properties in state_machine_resources(template, STAGE).items():
            spec = SPECS[name]
            # Each placeholder is substituted with the ARN of the wiring's task function or the name
            # of the wiring's table
            assert task_functions(template, properties) == spec.tasks, region
            assert table_substitutions(template, properties, TABLES) == {
                access.placeholder: access.table for access in spec.tables
            }, region
            deployed = resolved_definition(
                template, properties, function_arn, TABLES, lambda table: TABLE_NAMES[table]
            )
            local = json.loads(local_definition(spec))
            assert set(deployed["States"]) == set(local["States"]), region
            assert deployed == local, region
            assert not re.findall(r"\$\{\w+\}", json.dumps(deployed)), "an unresolved placeholder"


def test_definition_drift_is_detected(eu_template: dict[str, Any]) -> None:
    # The reader is not vacuous: a deployed definition that lost a state is no longer the ASL file
    drifted = copy.deepcopy(eu_template)
    (properties,) = state_machine_resources(drifted, STAGE).values()
    definition = json.loads(properties["DefinitionString"])
    definition["States"].pop("CheckoutExpired")
    properties["DefinitionString"] = json.dumps(definition)
    assert state_machines(drifted, STAGE, ASL_FILES) != served_state_machines()


# --- the state machine itself -------------------------------------------------------------------


def test_standard_logged_without_execution_data_and_traced(templates: dict[str, dict[str, Any]]) -> None:
    for template in templates.values():
        for properties in state_machine_resources(template, STAGE).values():
            assert properties["StateMachineType"] == "STANDARD"
            assert properties["TracingConfiguration"] == {"Enabled": True}
            logging = properties["LoggingConfiguration"]
            # Inputs and outputs carry shoppers' addresses and e-mails: events only, never the data
            assert logging["Level"] == "ALL"
            assert logging["IncludeExecutionData"] is False
            (destination,) = logging["Destinations"]
            (log_group,) = references(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
            group = template["Resources"][log_group]["Properties"]
            assert group["LogGroupName"].startswith("/aws/vendedlogs/states/")
            assert group["RetentionInDays"] == 14


def test_the_state_machine_role_invokes_exactly_its_task_functions(
    templates: dict[str, dict[str, Any]],
) -> None:
    for region, template in templates.items():
        names = function_names(template)
        for name, properties in state_machine_resources(template, STAGE).items():
            (role,) = references(properties["RoleArn"])
            statements = role_statements(template, role)
            invoke = [s for s in statements if "lambda:InvokeFunction" in actions_of([s])]
            assert actions_of(invoke) == {"lambda:InvokeFunction"}, region
            invoked = {names[ref] for s in invoke for ref in references(s["Resource"])}
            assert invoked == set(SPECS[name].tasks.values()), region
            # Unqualified ARNs only (no `<arn>:*` versions/aliases), and no other Lambda or data access
            assert all(not isinstance(s["Resource"], list) for s in invoke)
            # Table access: exactly the wiring's actions, on exactly its table, under its key prefixes
            table_ids = {v: k for k, v in table_logical_names(template, TABLES).items()}
            data = [s for s in statements if {a.split(":")[0] for a in actions_of([s])} == {"dynamodb"}]
            expected = {
                (tuple(sorted(a.actions)), table_ids[a.table], tuple(sorted(a.key_prefixes)))
                for a in SPECS[name].tables
            }
            granted = {
                (
                    tuple(sorted(actions_of([s]))),
                    next(iter(references(s["Resource"]))),
                    tuple(sorted(s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])),
                )
                for s in data
            }
            assert granted == expected, region
            other = actions_of(statements) - {"lambda:InvokeFunction"} - actions_of(data)
            assert {a.split(":")[0] for a in other} <= {"logs", "xray"}, other


# --- clients: who may start / resume it ---------------------------------------------------------


def _states_actions(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    """states:* action -> the rendered resources a role may call it on."""
    granted: dict[str, set[str]] = {}
    for statement in role_statements(template, role):
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions_of([statement]):
            if action.startswith("states:"):
                granted.setdefault(action, set()).update(render(r) for r in resources)
    return granted


def test_only_the_declared_clients_call_step_functions_with_exactly_their_actions(
    templates: dict[str, dict[str, Any]],
) -> None:
    clients = {spec.name: spec.workflows[0] for spec in FUNCTIONS if spec.workflows}
    assert {f for f, c in clients.items() if "states:StartExecution" in c.actions} == {
        "checkout",
        "checkout-expiry",
    }
    assert {f for f, c in clients.items() if "states:SendTaskSuccess" in c.actions} == {
        "orders",
        "order-tasks",
        "order-sweeps",
        "payments",
    }
    for region, template in templates.items():
        role_of = {
            function_role(template, logical_id): name for logical_id, name in function_names(template).items()
        }
        for role in resources_of_type(template, "AWS::IAM::Role"):
            granted = _states_actions(template, role)
            function = role_of.get(role)
            client = clients.get(function) if function else None
            if client is None:
                # Schedules, API Gateway, the state machine itself and every other function: none
                assert granted == {}, f"{region}: {role} ({function}) may call {sorted(granted)}"
                continue
            arn = _expected_arn(region, client.state_machine)
            assert granted == {action: {arn} for action in client.actions}, f"{region}: {function}"


def test_exactly_the_clients_know_the_state_machine_arn_and_it_is_the_deployed_one(
    templates: dict[str, dict[str, Any]],
) -> None:
    clients = {spec.name: spec.state_machine for spec in FUNCTIONS if spec.state_machine}
    for region, template in templates.items():
        deployed_names = {p["StateMachineName"] for p in state_machine_resources(template, STAGE).values()}
        functions = resources_of_type(template, "AWS::Lambda::Function")
        for logical_id, name in function_names(template).items():
            variables = functions[logical_id]["Properties"]["Environment"]["Variables"]
            if name not in clients:
                assert "STATE_MACHINE_ARN" not in variables, f"{region}: {name}"
                continue
            arn = render(variables["STATE_MACHINE_ARN"])
            assert arn == _expected_arn(region, clients[name]), f"{region}: {name}"
            assert arn.rsplit(":", 1)[1] in deployed_names


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
    return modules


# The modules through which a handler gets the Step Functions adapter.
WORKFLOW_MODULES = {"cloudtill.workflow", "cloudtill.order_workflow.factory"}


def test_the_client_list_matches_the_code() -> None:
    # Every handler that builds the Step Functions adapter is a declared client, and only those
    users = {
        path.parent.name
        for path in FUNCTIONS_DIR.glob("*/handler.py")
        if _imported_modules(path) & WORKFLOW_MODULES
    }
    # (every function deployed from such code)
    assert users == {spec.code_folder for spec in FUNCTIONS if spec.workflows}
    # The actions granted are exactly the Step Functions calls the adapter makes
    adapter = REPOSITORY_ROOT / "layers" / "cloudtill" / "python" / "cloudtill" / "workflow.py"
    calls = {
        node.func.attr
        for node in ast.walk(ast.parse(adapter.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Attribute)
        and node.func.value.func.attr == "_sfn"
    }
    assert calls, "no Step Functions calls found in cloudtill/workflow.py: has the adapter moved?"
    iam_actions = {"states:" + "".join(part.capitalize() for part in call.split("_")) for call in calls}
    assert iam_actions == {a for spec in FUNCTIONS for c in spec.workflows for a in c.actions}


# --- operations ---------------------------------------------------------------------------------


def test_failed_timed_out_and_aborted_executions_page_the_ops_topic(
    eu_template: dict[str, Any], prod_eu_template: dict[str, Any]
) -> None:
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources_of_type(eu_template, "AWS::CloudWatch::Alarm").values()
    }
    (machine,) = resources_of_type(eu_template, "AWS::StepFunctions::StateMachine")
    (topic,) = [t for t in resources_of_type(eu_template, "AWS::SNS::Topic") if t.startswith("OperationsOps")]
    for kind, metric in (
        ("failed", "ExecutionsFailed"),
        ("timed-out", "ExecutionsTimedOut"),
        ("aborted", "ExecutionsAborted"),
    ):
        alarm = alarms[f"cloudtill-{STAGE}-{ORDER_LIFECYCLE}-{kind}"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", metric)
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "StateMachineArn"
        assert list(references(dimension["Value"])) == [machine]
        assert list(references(alarm["AlarmActions"])) == [topic]
    # The dashboard is a stage setting (on in prod).
    (dashboard,) = resources_of_type(prod_eu_template, "AWS::CloudWatch::Dashboard").values()
    (prod_machine,) = resources_of_type(prod_eu_template, "AWS::StepFunctions::StateMachine")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "ExecutionsFailed" in body and prod_machine in body


def test_orders_is_a_task_and_a_client_without_a_circular_dependency(eu_template: dict[str, Any]) -> None:
    # The order tasks' function's environment and role name the state machine by ARN text, not by
    # reference (it is both a task of the state machine and a client)
    orders = function_logical_id(eu_template, "order-tasks")
    (machine,) = resources_of_type(eu_template, "AWS::StepFunctions::StateMachine")
    role = function_role(eu_template, orders)
    function = eu_template["Resources"][orders]
    assert machine not in set(references(function["Properties"]))
    assert all(machine not in set(references(s)) for s in role_statements(eu_template, role))
