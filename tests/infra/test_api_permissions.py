"""API Gateway may invoke a function through one permission per function, scoped to the stage and
the function's own paths, instead of one permission per method."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from tests.infra.conftest import STAGE, Extended
from tests.infra.template_checks import api_routes, function_names, references, resources_of_type

API_PRINCIPAL = "apigateway.amazonaws.com"


def _source_arn_tail(source_arn: Any, rest_api_id: str) -> str:
    """What follows the API id in an execute-api ARN (`/<stage>/<method>/<path>`)."""
    assert isinstance(source_arn, dict) and "Fn::Join" in source_arn, source_arn
    separator, parts = source_arn["Fn::Join"]
    rendered = separator.join(
        "<API>" if part == {"Ref": rest_api_id} else (part if isinstance(part, str) else "<token>")
        for part in parts
    )
    assert "<API>" in rendered, f"{source_arn} does not name the stack's REST API"
    return rendered.split("<API>", 1)[1]


def api_permissions(template: dict[str, Any]) -> dict[str, list[str]]:
    """Function name -> the `/<stage>/<method>/<path>` patterns API Gateway may invoke it from."""
    (rest_api_id,) = resources_of_type(template, "AWS::ApiGateway::RestApi")
    names = function_names(template)
    patterns: dict[str, list[str]] = {}
    for permission in resources_of_type(template, "AWS::Lambda::Permission").values():
        properties = permission["Properties"]
        if properties["Principal"] != API_PRINCIPAL:
            continue
        assert properties["Action"] == "lambda:InvokeFunction"
        (function,) = [names[ref] for ref in references(properties["FunctionName"]) if ref in names]
        patterns.setdefault(function, []).append(_source_arn_tail(properties["SourceArn"], rest_api_id))
    return patterns


def _invocation(method: str, path: str) -> str:
    """The execute-api resource path of a real request to the route (path parameters filled)."""
    return f"/{STAGE}/{method}" + re.sub(r"\{[^}]+\}", "value", path)


def _check(template: dict[str, Any]) -> None:
    permissions = api_permissions(template)
    routes = api_routes(template)
    routed = {function for _, _, function, _ in routes}
    assert set(permissions) == routed
    for function, patterns in permissions.items():
        assert len(patterns) == 1, f"{function} has {len(patterns)} API permissions: {patterns}"
        (pattern,) = patterns
        assert pattern.startswith(f"/{STAGE}/"), f"{function}: {pattern} is not scoped to the stage"
        for method, path, target, _ in routes:
            served = fnmatchcase(_invocation(method, path), pattern)
            if target == function:
                assert served, f"{method} {path} cannot invoke {function} ({pattern})"


def test_one_stage_scoped_invoke_permission_per_routed_function(
    templates: dict[str, dict[str, Any]], extended: Extended
) -> None:
    for template in (*templates.values(), extended.template):
        _check(template)


def test_a_function_with_paths_under_one_prefix_is_scoped_to_that_prefix(eu_template: dict[str, Any]) -> None:
    permissions = api_permissions(eu_template)
    assert permissions["stock"] == [f"/{STAGE}/*/admin/stock/*"]
    assert permissions["reporting"] == [f"/{STAGE}/*/admin/*"]  # reports and marketing spend
    # catalog serves /products and /admin/products: only the stage bounds it.
    assert fnmatchcase(_invocation("GET", "/admin/stock/{sku}"), permissions["stock"][0])
    assert not fnmatchcase(_invocation("GET", "/orders/{order_id}"), permissions["stock"][0])
