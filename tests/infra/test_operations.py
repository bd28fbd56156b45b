"""Operations: business alarms (webhook signatures, checkout 5xx) reach the ops topic, the dashboard
shows what an operator needs, and the workflow hook alarms on failed/timed-out executions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from infra.constructs.operations import Operations
from infra.declaration import Declaration
from infra.region_settings import load_region_settings, load_stage_settings
from tests.infra.conftest import Extended
from tests.infra.template_checks import references, resources_of_type


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    }


def _topic(template: dict[str, Any]) -> str:
    # The ops topic (other topics exist, e.g. SES feedback -> notifications).
    (topic_id,) = [
        t for t in resources_of_type(template, "AWS::SNS::Topic") if t.startswith("OperationsOpsTopic")
    ]
    return topic_id


def test_rejected_webhook_signatures_alarm_on_the_payments_emf_metric(extended: Extended) -> None:
    template = extended.template
    alarm = _alarms(template)["cloudtill-dev-payments-WebhookSignatureRejected"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("cloudtill", "WebhookSignatureRejected")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "payments"}]
    assert list(references(alarm["AlarmActions"])) == [_topic(template)]


def test_the_webhook_alarm_exists_exactly_when_payments_is_deployed(eu_template: dict[str, Any]) -> None:
    deployed = "payments" in {spec.name for spec in Declaration.from_wiring().functions}
    alarms = [name for name in _alarms(eu_template) if "WebhookSignatureRejected" in name]
    assert alarms == (["cloudtill-dev-payments-WebhookSignatureRejected"] if deployed else [])


def test_checkout_5xx_alarm_sums_every_checkout_route(eu_template: dict[str, Any]) -> None:
    alarm = _alarms(eu_template)["cloudtill-dev-checkout-api-5xx"]
    assert list(references(alarm["AlarmActions"])) == [_topic(eu_template)]
    assert alarm["Threshold"] == 1
    watched = {
        (dims["Method"], dims["Resource"])
        for metric in alarm["Metrics"]
        if "MetricStat" in metric
        for dims in [{d["Name"]: d["Value"] for d in metric["MetricStat"]["Metric"]["Dimensions"]}]
        if metric["MetricStat"]["Metric"]["MetricName"] == "5XXError"
    }
    expected = {(r.method, r.path) for r in Declaration.from_wiring().routes if r.function == "checkout"}
    assert watched == expected


def test_dashboard_shows_orders_payments_checkout_errors_and_dlqs(prod_eu_template: dict[str, Any]) -> None:
    (dashboard,) = resources_of_type(prod_eu_template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for expected in (
        "OrderConfirmed",
        "PaymentFailed",
        "Checkout errors",
        "5XXError",
        "Dead-letter queue depth",
    ):
        assert expected in body, expected
    assert "ApproximateNumberOfMessagesVisible" in body  # the DLQ depth graph has the DLQs


@pytest.fixture
def _plain_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")


@pytest.mark.usefixtures("_plain_templates")
def test_watched_workflows_alarm_on_failures_and_timeouts_and_join_the_dashboard() -> None:
    # Given operations for a stack with one state machine handed to the hook
    stack = Stack(App(), "Probe")
    api = apigateway.RestApi(stack, "Api")
    api.root.add_method("GET")
    operations = Operations(
        stack,
        "Operations",
        stage=load_stage_settings("dev"),
        region=load_region_settings("eu-west-1"),
        functions={},
        rest_api=api,
    )
    machine = sfn.StateMachine(
        stack, "Orders", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Start"))
    )
    operations.watch_state_machine("order-lifecycle", machine)
    operations.build_dashboard()
    template = dict(Template.from_stack(stack).to_json())
    # Then failed, timed-out and aborted executions page the ops topic
    alarms = _alarms(template)
    for kind, metric in (("failed", "ExecutionsFailed"), ("timed-out", "ExecutionsTimedOut")):
        alarm = alarms[f"cloudtill-dev-order-lifecycle-{kind}"]
        assert alarm["MetricName"] == metric
        assert list(references(alarm["AlarmActions"])) == [_topic(template)]
    (dashboard,) = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    assert "ExecutionsFailed" in json.dumps(dashboard["Properties"]["DashboardBody"])


@pytest.mark.parametrize(
    ("service", "metric"),
    [("checkout-expiry", "CheckoutExpiryFailed"), ("order-sweeps", "PaidCheckoutSettleFailed")],
)
def test_sweep_failures_alarm_on_their_emf_metric(
    eu_template: dict[str, Any], service: str, metric: str
) -> None:
    # A sweep isolates each failing checkout and counts it: one failure in 5 minutes pages ops
    alarm = _alarms(eu_template)[f"cloudtill-dev-{service}-{metric}"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("cloudtill", metric)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]
    assert alarm["Threshold"] == 1
    assert list(references(alarm["AlarmActions"])) == [_topic(eu_template)]
