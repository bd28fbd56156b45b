"""Reading synthesized CloudFormation templates: routes, roles' statements, queues and alarms.

Pure functions over the template JSON, so the same checks run on the real stacks and on tiny
stacks built by a test to prove a check catches what it should.
"""

from __future__ import annotations

import json
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
    """Queues that receive failures: redrive targets, and the on-failure / dead-letter destinations
    of event source mappings, EventBridge rule targets and Scheduler schedules."""
    queues = resources_of_type(template, "AWS::SQS::Queue")
    failure_destinations: list[Any] = [
        queue.get("Properties", {}).get("RedrivePolicy") for queue in queues.values()
    ]
    failure_destinations += [
        mapping["Properties"].get("DestinationConfig")
        for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()
    ]
    failure_destinations += [
        target.get("DeadLetterConfig")
        for rule in resources_of_type(template, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
    ]
    failure_destinations += [
        schedule["Properties"]["Target"].get("DeadLetterConfig")
        for schedule in resources_of_type(template, "AWS::Scheduler::Schedule").values()
    ]
    return {ref for destination in failure_destinations for ref in references(destination) if ref in queues}


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


# --- subscriptions, stream consumers, schedules (as the local runtime reports them) -----------------

# (name, function, sorted detail types) / (table, function, sorted entities) / (name, function, expression)
Served = tuple[str, str, tuple[str, ...]]


def _single_ref(value: Any, among: dict[str, Any]) -> str:
    found = [ref for ref in references(value) if ref in among]
    assert len(found) == 1, f"expected one reference among {sorted(among)[:5]}..., got {found}"
    return found[0]


def event_source_functions(template: Template) -> dict[str, set[str]]:
    """Event source (queue or table logical id) -> names of the functions its mappings invoke."""
    names = function_names(template)
    sources: dict[str, set[str]] = {}
    for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values():
        properties = mapping["Properties"]
        function = names[_single_ref(properties["FunctionName"], names)]
        (source,) = references(properties["EventSourceArn"])
        sources.setdefault(source, set()).add(function)
    return sources


def subscriptions(template: Template, stage: str) -> set[Served]:
    """(name, function, detail types) of every bus rule whose SQS target feeds a function."""
    queues = resources_of_type(template, "AWS::SQS::Queue")
    consumers = event_source_functions(template)
    found = set()
    for rule in resources_of_type(template, "AWS::Events::Rule").values():
        properties = rule["Properties"]
        for target in properties.get("Targets", []):
            queue_id = _single_ref(target["Arn"], queues)
            for function in consumers.get(queue_id, set()):
                name = properties["Name"].removeprefix(f"cloudtill-{stage}-")
                detail_types = tuple(sorted(properties["EventPattern"]["detail-type"]))
                found.add((name, function, detail_types))
    return found


def table_logical_names(template: Template, tables: tuple[Any, ...]) -> dict[str, str]:
    """Table logical id -> the wiring's TableSpec.logical_name, matched by key schema."""
    by_keys = {(spec.partition_key, spec.sort_key): spec.logical_name for spec in tables}
    names = {}
    for logical_id, table in resources_of_type(template, "AWS::DynamoDB::Table").items():
        keys = {k["KeyType"]: k["AttributeName"] for k in table["Properties"]["KeySchema"]}
        names[logical_id] = by_keys[(keys["HASH"], keys.get("RANGE"))]
    return names


def stream_consumers(template: Template, tables: tuple[Any, ...]) -> set[Served]:
    """(table, function, entities) of every mapping on a table stream, entities from its filters."""
    table_names = table_logical_names(template, tables)
    names = function_names(template)
    found = set()
    for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values():
        properties = mapping["Properties"]
        (source,) = references(properties["EventSourceArn"])
        if source not in table_names:
            continue
        entities: set[str] = set()
        for criteria in properties.get("FilterCriteria", {}).get("Filters", []):
            entities |= set(json.loads(criteria["Pattern"])["dynamodb"]["NewImage"]["entity"]["S"])
        function = names[_single_ref(properties["FunctionName"], names)]
        found.add((table_names[source], function, tuple(sorted(entities))))
    return found


def schedules(template: Template) -> set[tuple[str, str, str]]:
    """(name, function, expression): the name is what the function receives in its input."""
    names = function_names(template)
    found = set()
    for schedule in resources_of_type(template, "AWS::Scheduler::Schedule").values():
        properties = schedule["Properties"]
        target = properties["Target"]
        function = names[_single_ref(target["Arn"], names)]
        found.add((json.loads(target["Input"])["schedule"], function, properties["ScheduleExpression"]))
    return found


# --- state machines (as the local runtime runs them) ------------------------------------------------


def render(value: Any) -> str:
    """A CloudFormation string value as text: `Ref`/`GetAtt` become `${Name}`, `Fn::Join` is joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        attribute = value["Fn::GetAtt"]
        return "${" + (".".join(attribute) if isinstance(attribute, list) else attribute) + "}"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    raise ValueError(f"cannot render {value!r}")


def state_machine_resources(template: Template, stage: str) -> dict[str, dict[str, Any]]:
    """Wiring name (StateMachineName without `cloudtill-<stage>-`) -> the state machine's properties."""
    return {
        machine["Properties"]["StateMachineName"].removeprefix(f"cloudtill-{stage}-"): machine["Properties"]
        for machine in resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    }


def task_functions(template: Template, properties: dict[str, Any]) -> dict[str, str]:
    """A state machine's function substitutions: placeholder -> the function name its ARN belongs to."""
    names = function_names(template)
    return {
        placeholder: names[_single_ref(value, names)]
        for placeholder, value in properties.get("DefinitionSubstitutions", {}).items()
        if any(ref in names for ref in references(value))
    }


def table_substitutions(
    template: Template, properties: dict[str, Any], tables: tuple[Any, ...]
) -> dict[str, str]:
    """A state machine's table substitutions: placeholder -> the wiring's TableSpec.logical_name."""
    table_names = table_logical_names(template, tables)
    return {
        placeholder: table_names[_single_ref(value, table_names)]
        for placeholder, value in properties.get("DefinitionSubstitutions", {}).items()
        if any(ref in table_names for ref in references(value))
    }


def resolved_definition(
    template: Template,
    properties: dict[str, Any],
    function_arn: Any,
    tables: tuple[Any, ...] = (),
    table_name: Any = None,
) -> Any:
    """The deployed ASL (DefinitionString) with `${Placeholder}` replaced as CloudFormation will, but
    by `function_arn(<function name>)` and `table_name(<table logical name>)`, so it compares with
    what the local runtime runs."""
    text = properties["DefinitionString"]
    assert isinstance(text, str), "the definition is not a literal string in the template"
    for placeholder, function in task_functions(template, properties).items():
        text = text.replace("${" + placeholder + "}", function_arn(function))
    if table_name is not None:
        for placeholder, table in table_substitutions(template, properties, tables).items():
            text = text.replace("${" + placeholder + "}", table_name(table))
    return json.loads(text)


def definition_file_of(properties: dict[str, Any], candidates: dict[str, str]) -> str | None:
    """Which ASL file (path -> text, placeholders unresolved) the DefinitionString is, if any."""
    deployed = json.loads(properties["DefinitionString"])
    matches = [path for path, text in candidates.items() if json.loads(text) == deployed]
    return matches[0] if len(matches) == 1 else None


def state_machines(template: Template, stage: str, candidates: dict[str, str]) -> set[tuple[str, str | None]]:
    """(name, definition file) of every state machine, the file found by content among `candidates`."""
    return {
        (name, definition_file_of(properties, candidates))
        for name, properties in state_machine_resources(template, stage).items()
    }
