"""Reading synthesized CloudFormation templates: routes, roles' statements, queues and alarms.

Pure functions over the template JSON, so the same checks run on the real stacks and on tiny
stacks built by a test to prove a check catches what it should.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Template = dict[str, Any]

# (method, path, function, authorization type) as API Gateway will serve it.
ApiRoute = tuple[str, str, str, str]


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def references(value: Any) -> Iterator[str]:
    """Every logical id a value points at through Ref or Fn::GetAtt (at any depth)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield inner[0] if isinstance(inner, list) else inner.split(".")[0]
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def function_names(template: Template) -> dict[str, str]:
    """Lambda logical id -> cloudtill function name (its POWERTOOLS_SERVICE_NAME)."""
    names = {}
    for logical_id, function in resources_of_type(template, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in variables:
            names[logical_id] = variables["POWERTOOLS_SERVICE_NAME"]
    return names


def function_logical_id(template: Template, name: str) -> str:
    matches = [logical_id for logical_id, n in function_names(template).items() if n == name]
    assert len(matches) == 1, f"expected one function {name!r}, found {matches}"
    return matches[0]


def _path_of(template: Template, resource_ref: Any) -> str:
    """The path of an AWS::ApiGateway::Resource, following ParentId up to the API's root."""
    # The root resource is referenced as Fn::GetAtt [RestApi, RootResourceId].
    if isinstance(resource_ref, dict) and "Fn::GetAtt" in resource_ref:
        return ""
    properties = template["Resources"][resource_ref["Ref"]]["Properties"]
    return _path_of(template, properties["ParentId"]) + "/" + properties["PathPart"]


def api_methods(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(HTTP method, path, properties) of every API Gateway method, CORS preflight left out."""
    for method in resources_of_type(template, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        if properties["HttpMethod"] != "OPTIONS":
            yield properties["HttpMethod"], _path_of(template, properties["ResourceId"]) or "/", properties


def api_routes(template: Template) -> set[ApiRoute]:
    """(method, path, function, authorization type) of every route, from Resources and Methods."""
    names = function_names(template)
    routes = set()
    for http_method, path, properties in api_methods(template):
        integration = properties["Integration"]
        assert integration["Type"] == "AWS_PROXY", f"{http_method} {path} is not a Lambda proxy"
        targets = [names[ref] for ref in references(integration["Uri"]) if ref in names]
        assert len(targets) == 1, f"{http_method} {path} does not target exactly one function: {targets}"
        routes.add((http_method, path, targets[0], properties.get("AuthorizationType", "NONE")))
    return routes


def method_authorizers(template: Template) -> dict[tuple[str, str], str | None]:
    """(method, path) -> the authorizer's logical id (None when the method has none)."""
    return {
        (http_method, path): (properties["AuthorizerId"]["Ref"] if "AuthorizerId" in properties else None)
        for http_method, path, properties in api_methods(template)
    }


def cognito_authorizer_ids(template: Template) -> set[str]:
    """Authorizers backed by a Cognito user pool defined in this template."""
    user_pools = set(resources_of_type(template, "AWS::Cognito::UserPool"))
    return {
        logical_id
        for logical_id, authorizer in resources_of_type(template, "AWS::ApiGateway::Authorizer").items()
        if authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
        and set(references(authorizer["Properties"]["ProviderARNs"])) <= user_pools
        and set(references(authorizer["Properties"]["ProviderARNs"]))
    }


def role_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies and managed policies attached to a role."""
    statements: list[dict[str, Any]] = []
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in resources_of_type(template, policy_type).values():
            properties = policy["Properties"]
            if role_logical_id in set(references(properties.get("Roles", []))):
                statements.extend(properties["PolicyDocument"]["Statement"])
    role = template["Resources"][role_logical_id]["Properties"]
    for inline in role.get("Policies", []):
        statements.extend(inline["PolicyDocument"]["Statement"])
    return statements


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        actions |= {action} if isinstance(action, str) else set(action)
    return actions


def function_role(template: Template, function_logical_id: str) -> str:
    role_refs = list(references(template["Resources"][function_logical_id]["Properties"]["Role"]))
    assert len(role_refs) == 1
    return role_refs[0]


def queue_consumers_without_dlq(template: Template) -> list[str]:
    """SQS queues that feed a Lambda event source mapping but have no redrive policy (DLQ)."""
    queues = resources_of_type(template, "AWS::SQS::Queue")
    offenders = []
    for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values():
        for queue_id in references(mapping["Properties"].get("EventSourceArn")):
            if queue_id in queues and "RedrivePolicy" not in queues[queue_id].get("Properties", {}):
                offenders.append(queue_id)
    return sorted(offenders)


def dead_letter_queues(template: Template) -> set[str]:
    queues = resources_of_type(template, "AWS::SQS::Queue")
    dlqs: set[str] = set()
    for queue in queues.values():
        redrive = queue.get("Properties", {}).get("RedrivePolicy")
        if redrive:
            dlqs |= {ref for ref in references(redrive) if ref in queues}
    return dlqs


def dlqs_without_alarm(template: Template) -> list[str]:
    """Dead-letter queues no CloudWatch alarm watches (an alarm with the queue as a dimension)."""
    watched: set[str] = set()
    for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        dimensions = list(properties.get("Dimensions", []))
        for metric in properties.get("Metrics", []):
            dimensions += metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
        for dimension in dimensions:
            if dimension["Name"] == "QueueName":
                watched |= set(references(dimension["Value"]))
    return sorted(dead_letter_queues(template) - watched)
