"""How close a synthesized stack is to AWS's limits: the figures the budget test asserts and prints.

Pure functions over the template JSON. Sizes that depend on deploy-time values (ARNs, generated
names) are estimated by resolving every intrinsic function to a string as long as the real value
would be (`resolve`): a 12-digit account, the stack's region, and the longest physical name
CloudFormation generates for the resource type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

Template = dict[str, Any]

# AWS's limit -> our budget (the headroom is room to grow before a deploy fails).
LIMITS: dict[str, tuple[int, int, str]] = {
    # figure: (AWS limit, budget, what)
    "resources": (500, 400, "resources in the stack"),
    "template_bytes": (1_000_000, 700_000, "template size (bytes, as cdk synth writes it; via S3)"),
    "role_policy_chars": (10_240, 8_000, "inline policy characters of the largest role"),
    "environment_bytes": (4_096, 3_072, "environment of the largest function (bytes, resolved)"),
    "api_resources": (300, 200, "API Gateway resources of the REST API (root included)"),
    "state_machine_chars": (1_048_576, 800_000, "definition of the largest state machine (resolved)"),
}

ACCOUNT = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
# CloudFormation's random suffix of a generated name (e.g. `-1A2B3C4D5E6F7`).
_SUFFIX = "-" + "X" * 13

# The property naming a resource, and the longest name CloudFormation generates when it is absent.
NAME_PROPERTY: dict[str, tuple[str, int]] = {
    "AWS::DynamoDB::Table": ("TableName", 255),
    "AWS::SQS::Queue": ("QueueName", 80),
    "AWS::Events::EventBus": ("Name", 256),
    "AWS::Events::Rule": ("Name", 64),
    "AWS::S3::Bucket": ("BucketName", 63),
    "AWS::Lambda::Function": ("FunctionName", 64),
    "AWS::SecretsManager::Secret": ("Name", 512),
    "AWS::SNS::Topic": ("TopicName", 256),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", 80),
    "AWS::IAM::Role": ("RoleName", 64),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", 128),
    "AWS::Logs::LogGroup": ("LogGroupName", 512),
    "AWS::Scheduler::Schedule": ("Name", 64),
    "AWS::Cognito::UserPool": ("UserPoolName", 128),
    "AWS::SES::ConfigurationSet": ("Name", 64),
    "AWS::ApiGateway::RestApi": ("Name", 128),
    "AWS::Lambda::LayerVersion": ("LayerName", 140),
}


@dataclass(frozen=True)
class Figure:
    name: str
    value: int
    where: str  # the role, function or API that has it ("" for stack-wide figures)

    @property
    def limit(self) -> int:
        return LIMITS[self.name][0]

    @property
    def budget(self) -> int:
        return LIMITS[self.name][1]

    @property
    def within_budget(self) -> bool:
        return self.value <= self.budget


class Resolver:
    """Resolves intrinsic functions of one stack's template to strings of realistic length."""

    def __init__(self, template: Template, *, stack_name: str, region: str) -> None:
        self._resources: dict[str, Any] = template.get("Resources", {})
        self._stack_name = stack_name
        self._region = region

    def resolve(self, value: Any) -> Any:
        """The value with every Ref / Fn::* replaced by an estimated string (lists, dicts kept)."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key.startswith("Fn::") or key == "Condition":
                return self._function(key, argument)
        return {key: self.resolve(inner) for key, inner in value.items()}

    def text(self, value: Any) -> str:
        resolved = self.resolve(value)
        return resolved if isinstance(resolved, str) else json.dumps(resolved, separators=(",", ":"))

    def _function(self, key: str, argument: Any) -> Any:
        if key == "Fn::Join":
            separator, parts = argument
            resolved = self.resolve(parts)
            return (
                separator.join(self.text(part) for part in resolved)
                if isinstance(resolved, list)
                else resolved
            )
        if key == "Fn::Sub":
            template, variables = (argument, {}) if isinstance(argument, str) else argument
            local = {name: self.text(inner) for name, inner in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in local:
                    return local[name]
                if "." in name:
                    logical_id, attribute = name.split(".", 1)
                    return self.get_att(logical_id, attribute)
                return self.ref(name)

            return re.sub(r"\$\{([^}!]+)\}", substitute, template)
        if key == "Fn::Select":
            index, items = argument
            resolved = self.resolve(items)
            return (
                resolved[int(index)]
                if isinstance(resolved, list) and len(resolved) > int(index)
                else "x" * 20
            )
        if key == "Fn::Split":
            separator, source = argument
            return self.text(source).split(separator)
        if key == "Fn::If":
            _, when_true, when_false = argument
            options = [self.text(when_true), self.text(when_false)]
            return max(options, key=len)  # the longer branch: an estimate must not undercount
        if key == "Fn::Base64":
            return self.text(argument)
        if key == "Fn::GetAZs":
            return [f"{self._region}a", f"{self._region}b", f"{self._region}c"]
        return "x" * 64  # Fn::ImportValue, Fn::FindInMap...: a generous placeholder

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::Region": self._region,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self._stack_name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{self._region}:{ACCOUNT}:stack/"
            f"{self._stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        resource_type = self._type(name)
        if resource_type == "AWS::SQS::Queue":
            return self.get_att(name, "QueueUrl")
        if resource_type in {
            "AWS::SecretsManager::Secret",
            "AWS::SNS::Topic",
            "AWS::StepFunctions::StateMachine",
            "AWS::Lambda::LayerVersion",
            "AWS::IAM::ManagedPolicy",
        }:
            return self.get_att(name, "Arn")
        if resource_type == "AWS::KMS::Key":
            return "0" * 8 + "-0000-0000-0000-" + "0" * 12
        if resource_type == "AWS::Cognito::UserPool":
            return f"{self._region}_XXXXXXXXX"
        if resource_type in NAME_PROPERTY:
            return self.physical_name(name)
        return "x" * 20  # ids (REST API, deployment, authorizer...) are 10-20 characters

    def physical_name(self, logical_id: str) -> str:
        resource = self._resources.get(logical_id, {})
        name_property, longest = NAME_PROPERTY.get(resource.get("Type", ""), ("", 64))
        given = resource.get("Properties", {}).get(name_property)
        if given is not None:
            return self.text(given)
        return f"{self._stack_name}-{logical_id}"[: longest - len(_SUFFIX)] + _SUFFIX

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self._type(logical_id)
        name = self.physical_name(logical_id)
        region, account, partition = self._region, ACCOUNT, PARTITION
        arn = f"arn:{partition}"
        if attribute == "Arn":
            if resource_type == "AWS::KMS::Key":
                return f"{arn}:kms:{region}:{account}:key/{self.ref(logical_id)}"
            if resource_type == "AWS::Cognito::UserPool":
                return f"{arn}:cognito-idp:{region}:{account}:userpool/{self.ref(logical_id)}"
            by_type = {
                "AWS::DynamoDB::Table": f"{arn}:dynamodb:{region}:{account}:table/{name}",
                "AWS::SQS::Queue": f"{arn}:sqs:{region}:{account}:{name}",
                "AWS::Events::EventBus": f"{arn}:events:{region}:{account}:event-bus/{name}",
                "AWS::Events::Rule": f"{arn}:events:{region}:{account}:rule/{name}",
                "AWS::S3::Bucket": f"{arn}:s3:::{name}",
                "AWS::Lambda::Function": f"{arn}:lambda:{region}:{account}:function:{name}",
                # Secrets Manager appends 6 random characters to the name.
                "AWS::SecretsManager::Secret": f"{arn}:secretsmanager:{region}:{account}:secret:{name}-"
                + "X" * 6,
                "AWS::SNS::Topic": f"{arn}:sns:{region}:{account}:{name}",
                "AWS::StepFunctions::StateMachine": f"{arn}:states:{region}:{account}:stateMachine:{name}",
                "AWS::IAM::Role": f"{arn}:iam::{account}:role/{name}",
                "AWS::IAM::ManagedPolicy": f"{arn}:iam::{account}:policy/{name}",
                "AWS::Logs::LogGroup": f"{arn}:logs:{region}:{account}:log-group:{name}:*",
                "AWS::Lambda::LayerVersion": f"{arn}:lambda:{region}:{account}:layer:{name}:999",
                "AWS::Scheduler::Schedule": f"{arn}:scheduler:{region}:{account}:schedule/default/{name}",
            }
            service = resource_type.split("::")[1].lower() if "::" in resource_type else "x"
            return by_type.get(resource_type, f"{arn}:{service}:{region}:{account}:{name}")
        if attribute == "StreamArn":
            return self.get_att(logical_id, "Arn") + "/stream/2026-12-31T23:59:59.999"
        if attribute == "QueueUrl":
            return f"https://sqs.{region}.{URL_SUFFIX}/{account}/{name}"
        if attribute in {"QueueName", "TopicName", "Name"}:
            return name
        return "x" * 64

    def _type(self, logical_id: str) -> str:
        return str(self._resources.get(logical_id, {}).get("Type", ""))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def role_policy_chars(template: Template, resolver: Resolver) -> dict[str, int]:
    """Role logical id -> characters of its inline policies, resolved, without whitespace (how IAM
    counts the 10,240-character aggregate)."""
    resources = template["Resources"]
    sizes = {
        logical_id: sum(
            len(_compact(resolver.resolve(p["PolicyDocument"]))) for p in r["Properties"].get("Policies", [])
        )
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::IAM::Role"
    }
    for policy in resources.values():
        if policy["Type"] != "AWS::IAM::Policy":
            continue
        size = len(_compact(resolver.resolve(policy["Properties"]["PolicyDocument"])))
        for role in policy["Properties"].get("Roles", []):
            if isinstance(role, dict) and "Ref" in role and role["Ref"] in sizes:
                sizes[role["Ref"]] += size
    return sizes


def environment_bytes(template: Template, resolver: Resolver) -> dict[str, int]:
    """Function logical id -> bytes of its environment variables, resolved, as a compact JSON map
    (at least what Lambda counts against its 4 KB)."""
    sizes = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        resolved = {name: resolver.text(value) for name, value in variables.items()}
        sizes[logical_id] = len(_compact(resolved).encode())
    return sizes


def api_resource_counts(template: Template) -> dict[str, int]:
    """REST API logical id -> its resources (the root resource counts)."""
    counts = {
        logical_id: 1
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::ApiGateway::RestApi"
    }
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Resource":
            rest_api = resource["Properties"]["RestApiId"]
            if isinstance(rest_api, dict) and rest_api.get("Ref") in counts:
                counts[rest_api["Ref"]] += 1
    return counts


def state_machine_chars(template: Template, resolver: Resolver) -> dict[str, int]:
    """State machine logical id -> characters of its definition with substitutions resolved."""
    sizes = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource["Properties"]
        definition = resolver.text(properties.get("DefinitionString", properties.get("Definition", "")))
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + name + "}", resolver.text(value))
        sizes[logical_id] = len(definition)
    return sizes


def _largest(sizes: dict[str, int], name: str, label: dict[str, str] | None = None) -> Figure:
    if not sizes:
        return Figure(name, 0, "")
    where, value = max(sizes.items(), key=lambda item: item[1])
    return Figure(name, value, (label or {}).get(where, where))


def figures(template: Template, *, stack_name: str, region: str) -> list[Figure]:
    """Every budgeted figure of one stack, in `LIMITS` order."""
    resolver = Resolver(template, stack_name=stack_name, region=region)
    function_names = {
        logical_id: str(
            r["Properties"]
            .get("Environment", {})
            .get("Variables", {})
            .get("POWERTOOLS_SERVICE_NAME", logical_id)
        )
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    return [
        Figure("resources", len(template["Resources"]), ""),
        Figure("template_bytes", len(json.dumps(template, indent=1).encode()), ""),
        _largest(role_policy_chars(template, resolver), "role_policy_chars"),
        _largest(environment_bytes(template, resolver), "environment_bytes", function_names),
        _largest(api_resource_counts(template), "api_resources"),
        _largest(state_machine_chars(template, resolver), "state_machine_chars"),
    ]
