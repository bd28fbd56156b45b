"""The wiring test: each region deploys exactly what the local runtime serves: routes, event
subscriptions (rule -> queue -> function), stream consumers (with their filters) and schedules."""

from __future__ import annotations

import ast
import json
from typing import Any

from infra.function_factory import FUNCTIONS_DIR
from infra.region_settings import load_region_settings
from infra.wiring import FUNCTIONS, ROUTES, SCHEDULES, STREAM_CONSUMERS, SUBSCRIPTIONS, TABLES
from localrt.eventing import served_stream_consumers, served_subscriptions
from localrt.gateway import served_routes
from localrt.scheduler import served_schedules
from tests.infra.conftest import PROBE_SCHEDULE, PROBE_SUBSCRIPTION, STAGE, Extended
from tests.infra.template_checks import (
    api_routes,
    cognito_authorizer_ids,
    method_authorizers,
    resources_of_type,
    schedules,
    stream_consumers,
    subscriptions,
)

# How each wiring auth kind must appear on the API Gateway method.
EXPECTED_AUTHORIZATION = {"admin": "COGNITO_USER_POOLS", "public": "NONE", "webhook": "NONE"}


def test_every_region_serves_exactly_the_local_runtimes_routes(templates: dict[str, dict[str, Any]]) -> None:
    expected = {
        (method, path, function, EXPECTED_AUTHORIZATION[auth])
        for method, path, function, auth in served_routes()
    }
    assert expected, "the local runtime serves no routes"
    for region, template in templates.items():
        deployed = api_routes(template)
        assert deployed == expected, (
            f"{region}: only deployed {sorted(deployed - expected)}; only local {sorted(expected - deployed)}"
        )


def test_admin_routes_use_the_stacks_cognito_authorizer(templates: dict[str, dict[str, Any]]) -> None:
    admin_routes = {(m, p) for m, p, _, auth in served_routes() if auth == "admin"}
    assert admin_routes, "expected admin routes in the wiring"
    for template in templates.values():
        cognito_authorizers = cognito_authorizer_ids(template)
        assert len(cognito_authorizers) == 1
        authorizers = method_authorizers(template)
        for route in admin_routes:
            assert authorizers[route] in cognito_authorizers, f"{route} is not behind Cognito"
        for route, authorizer in authorizers.items():
            if route not in admin_routes:
                assert authorizer is None, f"{route} is not an admin route but has an authorizer"


def test_local_runtime_serves_the_wiring() -> None:
    # The comparison above is only meaningful if localrt builds from the same declaration.
    assert {(r.method, r.path, r.function, r.auth) for r in ROUTES} == served_routes()


def test_every_declared_function_has_its_triggers_entry_point() -> None:
    for spec in FUNCTIONS:
        handler_file = FUNCTIONS_DIR / spec.code_folder / "handler.py"
        assert handler_file.is_file(), f"{spec.name}: {handler_file} missing"
        module = ast.parse(handler_file.read_text())
        top_level = {
            node.name for node in module.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        } | {
            target.id
            for node in module.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert spec.handler in top_level, f"{handler_file} defines no {spec.handler} ({spec.name})"
        # One entry point per trigger: no handler picks its trigger by the event's shape.
        assert "lambda_handler" not in top_level, f"{handler_file} still has a shape-sniffing lambda_handler"


def _drift(region: str, deployed: set[Any], local: set[Any]) -> str:
    return f"{region}: only deployed {sorted(deployed - local)}; only local {sorted(local - deployed)}"


def test_every_region_deploys_exactly_the_local_subscriptions(templates: dict[str, dict[str, Any]]) -> None:
    # The wiring has no subscription yet: equality then means "none deployed"; see the probe below.
    for region, template in templates.items():
        deployed = subscriptions(template, STAGE)
        assert deployed == served_subscriptions(), _drift(region, deployed, served_subscriptions())


def test_every_region_deploys_exactly_the_local_stream_consumers(
    templates: dict[str, dict[str, Any]],
) -> None:
    local = served_stream_consumers()
    assert ("Main", "publisher", ("outbox",)) in local, "the outbox publisher is not wired"
    for region, template in templates.items():
        deployed = stream_consumers(template, TABLES)
        assert deployed == local, _drift(region, deployed, local)


def test_every_region_deploys_exactly_the_local_schedules(templates: dict[str, dict[str, Any]]) -> None:
    local = served_schedules()
    assert local, "the local runtime serves no schedules"
    for region, template in templates.items():
        deployed = schedules(template)
        assert deployed == local, _drift(region, deployed, local)


def test_schedules_run_in_the_regions_time_zone(templates: dict[str, dict[str, Any]]) -> None:
    for region, template in templates.items():
        zones = {
            s["Properties"]["ScheduleExpressionTimezone"]
            for s in resources_of_type(template, "AWS::Scheduler::Schedule").values()
        }
        expected = {schedule.timezone or load_region_settings(region).shop.timezone for schedule in SCHEDULES}
        assert zones == expected, region


def test_local_runtime_serves_the_event_wiring() -> None:
    # As for routes: the comparisons above only mean something if localrt reads the same lists.
    assert served_subscriptions() == {
        (s.name, s.function, tuple(sorted(s.detail_types))) for s in SUBSCRIPTIONS
    }
    assert served_stream_consumers() == {
        (c.table, c.function, tuple(sorted(c.entities))) for c in STREAM_CONSUMERS
    }
    assert served_schedules() == {(s.name, s.function, s.cron) for s in SCHEDULES}


def test_a_new_subscription_or_schedule_needs_no_infra_change(extended: Extended) -> None:
    # Given the wiring plus one subscription and one schedule (and nothing else changed)
    assert extended.synthesis.error is None, str(extended.synthesis.error)
    template = extended.template
    # Then the template reads back exactly what was declared, as the wiring test compares it
    declaration = extended.declaration
    assert subscriptions(template, STAGE) == {
        (s.name, s.function, tuple(sorted(s.detail_types))) for s in declaration.subscriptions
    }
    assert (PROBE_SUBSCRIPTION.name, "stock-alerts", ("ProductCreated", "StockLow")) in subscriptions(
        template, STAGE
    )
    assert schedules(template) == {(s.name, s.function, s.cron) for s in declaration.schedules}
    (probe,) = [
        s["Properties"]
        for s in resources_of_type(template, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Name"].endswith(PROBE_SCHEDULE.name)
    ]
    assert probe["ScheduleExpressionTimezone"] == "UTC"  # the wiring's own, not the region's
    assert json.loads(probe["Target"]["Input"]) == {
        "schedule": PROBE_SCHEDULE.name,
        "time": "<aws.scheduler.scheduled-time>",
        "kind": "probe",
    }


def test_drift_is_detected(extended: Extended, eu_template: dict[str, Any]) -> None:
    # The readers are not vacuous: a template with one more subscription/schedule differs from localrt.
    assert subscriptions(extended.template, STAGE) != served_subscriptions()
    assert schedules(extended.template) != served_schedules()
    assert schedules(eu_template) == served_schedules()
