"""The API's edge as synthesized: the CORS preflight of every resource, the gateway responses a
browser can read, and the WAF rules (the Stripe webhook outside the per-IP rate rule). The local
gateway answers from the same definitions; these tests hold the stack to them."""

from __future__ import annotations

import json
from typing import Any

from cloudtill.cors import ALLOW_HEADERS, PREFLIGHT_MAX_AGE_SECONDS, allow_headers
from cloudtill.settings import ShopSettings

from infra.gateway_responses import (
    GATEWAY_RESPONSE_HEADERS,
    PROBLEM_RESPONSES,
    preflight_headers,
    preflight_methods,
    problem_template,
)
from infra.region_settings import load_region_settings
from infra.wiring import ROUTES
from localrt.gateway import _resource_paths
from tests.infra.conftest import PROD_STAGE, REGIONS
from tests.infra.template_checks import resources_of_type

Template = dict[str, Any]


def _resource_path(template: Template, resource_id: Any) -> str:
    if isinstance(resource_id, dict) and "Fn::GetAtt" in resource_id:
        return "/"
    properties = template["Resources"][resource_id["Ref"]]["Properties"]
    parent = _resource_path(template, properties["ParentId"])
    return parent.rstrip("/") + "/" + properties["PathPart"]


def _preflights(template: Template) -> dict[str, dict[str, Any]]:
    return {
        _resource_path(template, m["Properties"]["ResourceId"]): m["Properties"]
        for m in resources_of_type(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    }


def _origins(region: str) -> list[str]:
    shop: ShopSettings = load_region_settings(region).shop
    return shop.cors_origins


def test_every_resource_answers_the_preflight_the_local_gateway_answers(
    templates: dict[str, Template],
) -> None:
    for region in REGIONS:
        template, origins = templates[region], _origins(region)
        preflights = _preflights(template)
        # Every resource of the API (the same set the local gateway answers preflights on)
        assert set(preflights) == _resource_paths(ROUTES), region
        expected = {
            f"method.response.header.{name}": f"'{value}'"
            for name, value in preflight_headers(
                origins, None, preflight_methods(r.method for r in ROUTES)
            ).items()
        }
        for path, method in preflights.items():
            assert method["AuthorizationType"] == "NONE" and method["Integration"]["Type"] == "MOCK", path
            (answer,) = method["Integration"]["IntegrationResponses"]
            assert answer["StatusCode"] == "204"
            # The same headers, header for header, as localrt's preflight for an unlisted origin
            assert answer["ResponseParameters"] == expected, path
            # ...and the request's origin replaces the static one only when it is configured
            template_text = answer["ResponseTemplates"]["application/json"]
            for origin in origins[1:]:
                assert f'$origin == "{origin}"' in template_text, path


def test_the_preflight_allows_what_storefronts_send(eu_template: Template) -> None:
    method = _preflights(eu_template)["/checkouts"]
    (answer,) = method["Integration"]["IntegrationResponses"]
    parameters = answer["ResponseParameters"]
    allowed = parameters["method.response.header.Access-Control-Allow-Headers"].strip("'").split(",")
    assert set(ALLOW_HEADERS) <= set(allowed) and allowed == allow_headers()
    assert {"X-Checkout-Token", "Idempotency-Key", "X-Cart-Token"} <= set(allowed)
    assert parameters["method.response.header.Access-Control-Max-Age"] == f"'{PREFLIGHT_MAX_AGE_SECONDS}'"
    assert parameters["method.response.header.Vary"] == "'Origin'"
    methods = parameters["method.response.header.Access-Control-Allow-Methods"].strip("'").split(",")
    assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= set(methods)


def test_gateway_responses_are_problems_every_origin_can_read(eu_template: Template) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources_of_type(eu_template, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {p.response_type for p in PROBLEM_RESPONSES}
    for problem in PROBLEM_RESPONSES:
        synthesized = responses[problem.response_type]
        assert synthesized["ResponseParameters"] == {
            f"gatewayresponse.header.{name}": f"'{value}'" for name, value in GATEWAY_RESPONSE_HEADERS.items()
        }
        assert (
            synthesized["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
        )
        assert synthesized["ResponseTemplates"] == {"application/json": problem_template(problem)}
        assert synthesized.get("StatusCode") == (str(problem.status) if problem.status is not None else None)


def _web_acl_rules(template: Template) -> dict[str, dict[str, Any]]:
    (acl,) = resources_of_type(template, "AWS::WAFv2::WebACL").values()
    return {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}


def _byte_match(statement: dict[str, Any]) -> tuple[str, str, str]:
    match = statement["ByteMatchStatement"]
    (field,) = match["FieldToMatch"]
    return field, match["PositionalConstraint"], match["SearchString"]


def test_the_stripe_webhook_is_outside_the_per_ip_rate_rule(prod_eu_template: Template) -> None:
    # The web ACL is a stage setting, on in prod (dev: stage throttling only).
    rate = _web_acl_rules(prod_eu_template)["RateLimitPerIp"]["Statement"]["RateBasedStatement"]
    # Counted and limited: every request except a POST to the webhook path
    excluded = rate["ScopeDownStatement"]["NotStatement"]["Statement"]["AndStatement"]["Statements"]
    method, paths = excluded
    assert _byte_match(method) == ("Method", "EXACTLY", "POST")
    assert {_byte_match(s) for s in paths["OrStatement"]["Statements"]} == {
        ("UriPath", "EXACTLY", "/webhooks/stripe"),
        ("UriPath", "EXACTLY", f"/{PROD_STAGE}/webhooks/stripe"),
    }
    assert rate["AggregateKeyType"] == "IP"
    # The exemption is that route and no other
    webhook_routes = {(r.method, r.path) for r in ROUTES if r.auth == "webhook"}
    assert webhook_routes == {("POST", "/webhooks/stripe")}


def test_the_web_acl_blocks_known_bad_inputs(prod_eu_template: Template) -> None:
    rules = _web_acl_rules(prod_eu_template)
    known_bad = rules["AWSManagedRulesKnownBadInputsRuleSet"]
    assert known_bad["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
    assert known_bad["OverrideAction"] == {"None": {}}
    assert len({rule["Priority"] for rule in rules.values()}) == len(rules)
    assert json.dumps(known_bad).count("ExcludedRules") == 0
