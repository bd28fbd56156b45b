"""What the stack's resources promise: functions, tables, API stage, WAF, error responses."""

from __future__ import annotations

import json
from typing import Any

from infra import layer_build
from infra.wiring import EMAIL_FEEDBACK_FUNCTION, FUNCTIONS, IDEMPOTENCY_TABLE, MAIN_TABLE
from tests.infra.template_checks import (
    function_logical_id,
    references,
    resources_of_type,
)


def _single(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = resources_of_type(template, resource_type).values()
    return resource["Properties"]


def test_functions_are_arm64_latest_python_traced_with_own_logs(eu_template: dict[str, Any]) -> None:
    functions = resources_of_type(eu_template, "AWS::Lambda::Function")
    for spec in FUNCTIONS:
        properties = functions[function_logical_id(eu_template, spec.name)]["Properties"]
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == f"python{layer_build.LAMBDA_PYTHON_VERSION}"
        assert properties["Handler"] == f"handler.{spec.trigger}_handler"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["MemorySize"] == spec.memory_mb
        assert properties["Timeout"] == spec.timeout_seconds
        assert len(properties["Layers"]) == (3 if "stripe" in spec.secrets else 2)
        log_group = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert eu_template["Resources"][log_group]["Properties"]["RetentionInDays"] == 14


def test_tables_follow_the_wiring_and_survive_the_stack(eu_template: dict[str, Any]) -> None:
    tables = resources_of_type(eu_template, "AWS::DynamoDB::Table")
    by_hash_key = {
        next(k["AttributeName"] for k in t["Properties"]["KeySchema"] if k["KeyType"] == "HASH"): t
        for t in tables.values()
    }
    main, idempotency = by_hash_key[MAIN_TABLE.partition_key], by_hash_key[IDEMPOTENCY_TABLE.partition_key]
    for table in (main, idempotency):
        properties = table["Properties"]
        assert table["DeletionPolicy"] == "Retain"
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["DeletionProtectionEnabled"] is True
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert properties["SSESpecification"]["SSEEnabled"] is True
    assert main["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert main["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert {i["IndexName"] for i in main["Properties"]["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2"}
    assert idempotency["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expiration"


def test_api_stage_is_throttled_logged_traced_and_behind_waf(
    eu_template: dict[str, Any], prod_eu_template: dict[str, Any]
) -> None:
    stage = _single(eu_template, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "dev"
    assert stage["TracingEnabled"] is True
    assert json.loads(stage["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    (method_setting,) = stage["MethodSettings"]
    assert method_setting["ThrottlingRateLimit"] == 50
    assert method_setting["ThrottlingBurstLimit"] == 100
    assert method_setting["LoggingLevel"] == "ERROR"

    # The web ACL is a stage setting: off in dev (about $8 a month for no shopper), on in prod.
    assert not resources_of_type(eu_template, "AWS::WAFv2::WebACL")
    assert not resources_of_type(eu_template, "AWS::WAFv2::WebACLAssociation")
    acl = _single(prod_eu_template, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["Name"] == (
        "AWSManagedRulesCommonRuleSet"
    )
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"] == 2000
    association = _single(prod_eu_template, "AWS::WAFv2::WebACLAssociation")
    assert "/stages/" in json.dumps(association["ResourceArn"])


def test_unknown_routes_answer_404_problem_json(eu_template: dict[str, Any]) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources_of_type(eu_template, "AWS::ApiGateway::GatewayResponse").values()
    }
    not_found = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert not_found["StatusCode"] == "404"
    assert (
        not_found["ResponseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    )
    assert '"status": 404' in not_found["ResponseTemplates"]["application/json"]
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "THROTTLED"):
        headers = responses[response_type]["ResponseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"


def test_cors_preflight_allows_the_regions_storefront_origins(templates: dict[str, dict[str, Any]]) -> None:
    eu, us = (json.dumps(templates[r]) for r in ("eu-west-1", "us-east-1"))
    assert "https://shop.example.com" in eu and "https://us.shop.example.com" not in eu
    assert "https://us.shop.example.com" in us


def test_admin_user_pool_requires_mfa_and_has_an_admin_group(eu_template: dict[str, Any]) -> None:
    pool = _single(eu_template, "AWS::Cognito::UserPool")
    assert pool["MfaConfiguration"] == "ON"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert _single(eu_template, "AWS::Cognito::UserPoolGroup")["GroupName"] == "admin"


def test_outputs_give_the_api_and_stripe_webhook_urls(eu_template: dict[str, Any]) -> None:
    outputs = {key: json.dumps(value["Value"]) for key, value in eu_template["Outputs"].items()}
    # Stable keys: README's deploy guide queries them by name
    assert {"ApiUrl", "StripeWebhookUrl", "AdminUserPoolId", "AdminUserPoolClientId"} <= set(outputs)
    assert "/webhooks/stripe" in outputs["StripeWebhookUrl"]


def test_every_function_alarms_on_errors_and_throttles_to_the_ops_topic(
    eu_template: dict[str, Any], prod_eu_template: dict[str, Any]
) -> None:
    # The ops topic (other topics exist, e.g. SES feedback -> notifications).
    (topic_id,) = [
        t for t in resources_of_type(eu_template, "AWS::SNS::Topic") if t.startswith("OperationsOpsTopic")
    ]
    assert "KmsMasterKeyId" in eu_template["Resources"][topic_id]["Properties"]
    watched: dict[str, set[str]] = {}
    for alarm in resources_of_type(eu_template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        assert [ref for ref in references(properties["AlarmActions"])] == [topic_id]
        for dimension in properties.get("Dimensions", []):
            if dimension["Name"] == "FunctionName":
                (function_id,) = references(dimension["Value"])
                watched.setdefault(function_id, set()).add(properties["MetricName"])
    for spec in FUNCTIONS:
        assert watched[function_logical_id(eu_template, spec.name)] == {"Errors", "Throttles"}, spec.name
    # The dashboard is a stage setting: off in dev (about $3 a month), on in prod.
    assert resources_of_type(prod_eu_template, "AWS::CloudWatch::Dashboard")
    assert not resources_of_type(eu_template, "AWS::CloudWatch::Dashboard")


def test_ses_publishes_sends_bounces_and_complaints_to_the_feedback_function(
    eu_template: dict[str, Any],
) -> None:
    # The Send event confirms a record whose sender died after SES accepted the message.
    destination = _single(eu_template, "AWS::SES::ConfigurationSetEventDestination")["EventDestination"]
    assert destination["Enabled"] is True
    assert sorted(destination["MatchingEventTypes"]) == ["bounce", "complaint", "send"]
    (topic_id,) = references(destination["SnsDestination"]["TopicARN"])
    feedback_function = function_logical_id(eu_template, EMAIL_FEEDBACK_FUNCTION)
    subscribed = [
        subscription["Properties"]
        for subscription in resources_of_type(eu_template, "AWS::SNS::Subscription").values()
        if list(references(subscription["Properties"]["TopicArn"])) == [topic_id]
    ]
    assert [(s["Protocol"], list(references(s["Endpoint"]))) for s in subscribed] == [
        ("lambda", [feedback_function])
    ]
