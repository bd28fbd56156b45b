"""The wiring test: the deployed API serves exactly the routes the local runtime serves."""

from __future__ import annotations

import ast
from typing import Any

from infra.function_factory import FUNCTIONS_DIR
from infra.wiring import FUNCTIONS, ROUTES
from localrt.gateway import served_routes
from tests.infra.template_checks import api_routes, cognito_authorizer_ids, method_authorizers

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


def test_every_declared_function_has_a_lambda_handler() -> None:
    for spec in FUNCTIONS:
        handler_file = FUNCTIONS_DIR / spec.name / "handler.py"
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
        assert "lambda_handler" in top_level, f"{handler_file} defines no lambda_handler"
