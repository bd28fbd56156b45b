"""Least privilege: each role holds what its domain needs; every queue consumer has a DLQ and
every DLQ an alarm (checked generically, proven on a tiny stack that breaks the rule)."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnResource, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from cloudtill.settings import ShopSettings

from infra.declaration import Declaration
from infra.environment import function_environment
from tests.infra.conftest import Extended
from tests.infra.template_checks import (
    actions_of,
    dlqs_without_alarm,
    function_logical_id,
    function_role,
    queue_consumers_without_dlq,
    references,
    resources_of_type,
    role_statements,
)


def _table_ids(template: dict[str, Any]) -> dict[str, str]:
    """'Main'/'Idempotency' -> the table's logical id (by its key schema)."""
    ids = {}
    for logical_id, table in resources_of_type(template, "AWS::DynamoDB::Table").items():
        hash_key = next(
            k["AttributeName"] for k in table["Properties"]["KeySchema"] if k["KeyType"] == "HASH"
        )
        ids["Main" if hash_key == "PK" else "Idempotency"] = logical_id
    return ids


DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    # Transactions need no action of their own: each item is authorized as Put/Update/ConditionCheck.
    "dynamodb:ConditionCheckItem",
}
STREAM_READS = {
    "dynamodb:ListStreams",
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
}
# Keys of other domains' items (cloudtill.keys): orders, checkouts, stock, the outbox, payments.
FOREIGN_KEYS = ("ORDER#o-1", "CHECKOUT#c-1", "SKU#TEE-M", "OUTBOX#e-1", "PAYMENT#pi_1", "PROMOTION#X")
# Item-level actions: each request carries its partition key(s) (BatchGetItem: at least one key), so
# `ForAllValues` over dynamodb:LeadingKeys never meets an empty set (which would make the condition true).
ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
}


# Each function's DynamoDB grants, written out once more by hand: changing what a function may do must
# change this table too, on purpose. action -> key prefixes, per resource ("Main", "Main/index/GSI1",
# "Idempotency"); `ANY` = no LeadingKeys condition.
ANY = "<any item>"
OUTBOX = "OUTBOX#*"
EXPECTED_TABLE_ACCESS: dict[str, dict[str, dict[str, set[str]]]] = {
    "catalog": {
        "Main": {
            "GetItem": {"PRODUCT#*"},
            "BatchGetItem": {"SKU#*"},
            "PutItem": {"PRODUCT#*", "SKU#*", "CATEGORY#*"},
            "UpdateItem": {"PRODUCT#*", "SKU#*"},
        },
        "Main/index/GSI1": {"Query": {"PRODUCTS"}},
        "Main/index/GSI2": {"Query": {"CATEGORY#*"}},
    },
    "checkout": {
        "Main": {
            "GetItem": {"CHECKOUT#*", "PROMO#*", "PAYMENT_INTENT#*"},
            "BatchGetItem": {"SKU#*"},
            "PutItem": {"CHECKOUT#*", "PROMO#*", OUTBOX, "PAYMENT_INTENT#*"},
            "UpdateItem": {"CHECKOUT#*", "PROMO#*", "SKU#*"},
        },
        "Main/index/GSI1": {"Query": {"RESERVATIONS#HELD"}},
        "Idempotency": {
            action: {"checkout.create#*"} for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
        },
    },
    "payments": {
        "Main": {
            "GetItem": {"PAYMENT_INTENT#*", "PAYMENT_EVENT#*", "PAYMENT_CHARGE#*", "CHECKOUT#*"},
            "BatchGetItem": {"PAYMENT_EVENT#*", "PAYMENT_INTENT#*"},
            "PutItem": {
                "PAYMENT_INTENT#*",
                "PAYMENT_EVENT#*",
                "PAYMENT_CHARGE#*",
                OUTBOX,
                "REFUND_CLAIM#late-CHECKOUT#*",
            },
            "UpdateItem": {"CHECKOUT#*"},
            "DeleteItem": {"REFUND_CLAIM#late-CHECKOUT#*"},
        },
    },
    "stock": {
        "Main": {
            "GetItem": {"SKU#*"},
            "Query": {"SKU#*"},
            "Scan": {ANY},
            "PutItem": {"SKU#*", OUTBOX},
            "UpdateItem": {"SKU#*"},
        },
        "Main/index/GSI2": {"Query": {"HELD#*"}},
    },
    "notifications": {
        "Main": {
            "GetItem": {"CHECKOUT#*", "ORDER#*", "NOTIFICATION#*", "SUPPRESSED#*"},
            "BatchGetItem": {"CHECKOUT#*", "ORDER#*", "NOTIFICATION#*", "SUPPRESSED#*"},
            "UpdateItem": {"NOTIFICATION#*", "SUPPRESSED#*"},
        },
    },
    "orders": {
        "Main": {
            "GetItem": {"ORDER#*", "CHECKOUT#*", "SKU#*", "PAYMENT_INTENT#*"},
            "Query": {"ORDER#*"},
            "BatchGetItem": {"CHECKOUT#*", "SKU#*"},
            "PutItem": {"ORDER#*", "SKU#*", "REFUND_CLAIM#*", OUTBOX},
            "UpdateItem": {"ORDER#*", "SKU#*", "CHECKOUT#*", "PROMO#*"},
            "DeleteItem": {"REFUND_CLAIM#*"},
        },
        "Main/index/GSI1": {"Query": {"ORDERS#*", "REFUNDS#REQUESTING", "CHECKOUTS#PAID"}},
    },
    # The shopper's order view (GET /orders/{order_id}, public): an order with its children and its
    # payment's status, read only.
    "order-view": {"Main": {"Query": {"ORDER#*"}, "GetItem": {"PAYMENT_INTENT#*"}}},
    "reporting": {
        "Main": {
            **{
                action: {"AGG#*", "CUSTOMER#*"}
                for action in ("GetItem", "Query", "UpdateItem", "ConditionCheckItem")
            },
            "PutItem": {"AGG#*", "CUSTOMER#*", OUTBOX},
        },
    },
    "privacy": {
        "Main": {
            "GetItem": {"SUPPRESSED#*", "ERASURE#*"},
            "UpdateItem": {"CHECKOUT#*", "ORDER#*", "NOTIFICATION#*"},
            "PutItem": {"ERASURE#*", OUTBOX},
        },
        "Main/index/GSI2": {"Query": {"EMAIL#*"}},
    },
    # Reads the main table's stream only (checked below); no item access.
    "publisher": {},
}
# Code serving several triggers is deployed once per trigger, each function with its code's grants.
for _function, _code in (
    ("checkout-expiry", "checkout"),
    ("notifications-feedback", "notifications"),
    ("order-tasks", "orders"),
    ("order-sweeps", "orders"),
    ("reporting-aggregates", "reporting"),
    ("reporting-nightly", "reporting"),
):
    EXPECTED_TABLE_ACCESS[_function] = EXPECTED_TABLE_ACCESS[_code]


def _resource_label(resource: Any, tables: dict[str, str]) -> str:
    """'Main', 'Main/index/GSI1', 'Idempotency' for a statement's resource (a table ARN or a Join)."""
    names = {logical_id: name for name, logical_id in tables.items()}
    (table,) = [names[ref] for ref in references(resource) if ref in names]
    if isinstance(resource, dict) and "Fn::Join" in resource:
        return table + "".join(part for part in resource["Fn::Join"][1] if isinstance(part, str))
    return table


def _item_grants(template: dict[str, Any], function: str) -> dict[str, dict[str, set[str]]]:
    """resource label -> DynamoDB action (short name) -> LeadingKeys prefixes (`ANY`: unconditioned),
    stream reads left out (see the publisher test)."""
    tables = _table_ids(template)
    role = function_role(template, function_logical_id(template, function))
    grants: dict[str, dict[str, set[str]]] = {}
    for statement in role_statements(template, role):
        actions = {a for a in actions_of([statement]) if a.startswith("dynamodb:")} - STREAM_READS
        if not actions:
            continue
        assert statement["Effect"] == "Allow"
        condition = statement.get("Condition")
        if condition is None:
            prefixes = {ANY}
        else:
            # The only condition this stack uses on tables: every partition key matches a prefix.
            assert set(condition) == {"ForAllValues:StringLike"}, condition
            assert set(condition["ForAllValues:StringLike"]) == {"dynamodb:LeadingKeys"}, condition
            prefixes = set(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            label = _resource_label(resource, tables)
            for action in actions:
                grants.setdefault(label, {}).setdefault(action.removeprefix("dynamodb:"), set()).update(
                    prefixes
                )
    return grants


def test_every_function_holds_exactly_its_table_access(
    eu_template: dict[str, Any], extended: Extended
) -> None:
    # Every function of the wiring is in the table above, and nothing else is
    assert set(EXPECTED_TABLE_ACCESS) == {spec.name for spec in Declaration.from_wiring().functions}
    for template in (eu_template, extended.template):
        for function, expected in EXPECTED_TABLE_ACCESS.items():
            assert _item_grants(template, function) == expected, function


def test_table_grants_are_built_from_the_wiring(eu_template: dict[str, Any]) -> None:
    # What CDK granted is what each spec's `table_access` declares (localrt checks calls against it)
    for spec in Declaration.from_wiring().functions:
        declared: dict[str, dict[str, set[str]]] = {}
        for access in spec.table_access:
            label = access.table + (f"/index/{access.index}" if access.index else "")
            for action in access.actions:
                declared.setdefault(label, {}).setdefault(action.removeprefix("dynamodb:"), set()).update(
                    access.key_prefixes or {ANY}
                )
        assert _item_grants(eu_template, spec.name) == declared, spec.name


def test_no_role_may_write_the_main_table_unbounded(eu_template: dict[str, Any], extended: Extended) -> None:
    # Every role of the stack (functions, state machine, custom resources): no dynamodb:*, no batch
    # writes, and every write or keyed read of the main table bounded by partition-key prefixes.
    for template in (eu_template, extended.template):
        main = _table_ids(template)["Main"]
        for role in resources_of_type(template, "AWS::IAM::Role"):
            for statement in role_statements(template, role):
                actions = {a for a in actions_of([statement]) if a.startswith("dynamodb:")}
                assert "dynamodb:*" not in actions and "*" not in actions_of([statement]), role
                assert "dynamodb:BatchWriteItem" not in actions, role
                resources = statement.get("Resource")
                if main not in set(references(resources)) or not actions - STREAM_READS:
                    continue
                if "dynamodb:Scan" in actions:
                    # A Scan names no key: its statement holds nothing else (the condition would be void)
                    assert actions == {"dynamodb:Scan"} and "Condition" not in statement, role
                    continue
                assert actions <= ITEM_ACTIONS | {"dynamodb:Query", "dynamodb:ConditionCheckItem"}, role
                assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"], role


def test_only_stock_may_scan_the_main_table(eu_template: dict[str, Any]) -> None:
    scanners = {
        function
        for function in EXPECTED_TABLE_ACCESS
        if "Scan" in _item_grants(eu_template, function).get("Main", {})
    }
    assert scanners == {"stock"}


# What a public function may write of orders, payments and refund claims (keys of cloudtill.keys and
# cloudtill.orders.dynamo), and why.
PROTECTED_KEYS = (
    "ORDER#o-1",
    "PAYMENT_INTENT#pi_1",
    "PAYMENT_EVENT#evt_1",
    "PAYMENT_CHARGE#ch_1",
    "REFUND_CLAIM#cancel-ORDER#o-1",
    "REFUND_CLAIM#return_1-ORDER#o-1",
    "REFUND_CLAIM#late-CHECKOUT#c-1",
)
PUBLIC_WRITES_ALLOWED: dict[str, set[tuple[str, str]]] = {
    "catalog": set(),
    # The PaymentIntent's record is created where the intent is, before its client secret leaves.
    "checkout": {("PutItem", "PAYMENT_INTENT#pi_1")},
    # The Stripe webhook records payment facts, and refunds a payment that came after its checkout
    # closed: that claim lives on the checkout (`late-CHECKOUT#...`), never on an order.
    "payments": {
        ("PutItem", "PAYMENT_INTENT#pi_1"),
        ("PutItem", "PAYMENT_EVENT#evt_1"),
        ("PutItem", "PAYMENT_CHARGE#ch_1"),
        ("PutItem", "REFUND_CLAIM#late-CHECKOUT#c-1"),
        ("DeleteItem", "REFUND_CLAIM#late-CHECKOUT#c-1"),
    },
    # The orders function's code, deployed with a read-only role for the public route.
    "order-view": set(),
}
WRITE_ACTIONS = {a.removeprefix("dynamodb:") for a in DYNAMODB_WRITES}


def _public_functions() -> set[str]:
    """Functions behind at least one route without the admin authorizer (public or Stripe's webhook)."""
    return {route.function for route in Declaration.from_wiring().routes if route.auth != "admin"}


def test_the_public_functions_are_the_ones_the_routes_expose() -> None:
    assert _public_functions() == set(PUBLIC_WRITES_ALLOWED)


@pytest.mark.parametrize("function", sorted(PUBLIC_WRITES_ALLOWED))
def test_no_public_function_can_write_orders_payments_or_refund_claims(
    eu_template: dict[str, Any], extended: Extended, function: str
) -> None:
    for template in (eu_template, extended.template):
        main = _item_grants(template, function).get("Main", {})
        writable = {
            (action, key)
            for action, patterns in main.items()
            if action in WRITE_ACTIONS
            for key in PROTECTED_KEYS
            if any(p == ANY or fnmatchcase(key, p) for p in patterns)
        }
        assert writable == PUBLIC_WRITES_ALLOWED.get(function, set()), function


def _grants(template: dict[str, Any], function: str) -> tuple[set[str], dict[str, set[str]]]:
    """(actions, action prefix -> referenced logical ids) of the function's role."""
    statements = role_statements(template, function_role(template, function_logical_id(template, function)))
    resources: dict[str, set[str]] = {}
    for statement in statements:
        for action in actions_of([statement]):
            resources.setdefault(action.split(":")[0], set()).update(references(statement["Resource"]))
    return actions_of(statements), resources


def _secret_ids(template: dict[str, Any]) -> set[str]:
    return set(resources_of_type(template, "AWS::SecretsManager::Secret"))


@pytest.mark.parametrize("function", ["catalog", "stock"])
def test_catalog_and_stock_touch_neither_the_stripe_secret_nor_the_idempotency_table(
    extended: Extended, function: str
) -> None:
    # Even in a stack that has the Stripe secret (payments, checkout using Stripe)
    template = extended.template
    assert _secret_ids(template), "the extended stack should have the Stripe secret"
    actions, resources = _grants(template, function)
    tables = _table_ids(template)
    assert not [a for a in actions if a.startswith("secretsmanager:")]
    assert resources["dynamodb"] == {tables["Main"]}


def test_checkout_uses_both_tables_and_the_secret_only_when_it_calls_stripe(
    eu_template: dict[str, Any], extended: Extended
) -> None:
    # The extended wiring flips checkout's Stripe secret, so one of the two has it each way
    cases = [
        (eu_template, Declaration.from_wiring().function("checkout")),
        (extended.template, extended.declaration.function("checkout")),
    ]
    assert {"stripe" in spec.secrets for _, spec in cases} == {True, False}
    for template, spec in cases:
        _, resources = _grants(template, "checkout")
        tables = _table_ids(template)
        assert resources["dynamodb"] == {tables["Main"], tables["Idempotency"]}
        assert resources.get("secretsmanager", set()) == (
            _secret_ids(template) if "stripe" in spec.secrets else set()
        )


def test_payments_uses_the_main_table_and_the_stripe_secret(extended: Extended) -> None:
    actions, resources = _grants(extended.template, "payments")
    tables = _table_ids(extended.template)
    assert resources["dynamodb"] == {tables["Main"]}
    assert resources["secretsmanager"] == _secret_ids(extended.template)
    assert {a for a in actions if a.startswith("secretsmanager:")} <= {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }


def test_publisher_puts_events_on_the_stacks_bus_and_only_reads_the_stream(
    eu_template: dict[str, Any],
) -> None:
    actions, resources = _grants(eu_template, "publisher")
    (bus_id,) = resources_of_type(eu_template, "AWS::Events::EventBus")
    assert {a for a in actions if a.startswith("events:")} == {"events:PutEvents"}
    assert resources["events"] == {bus_id}
    assert {a for a in actions if a.startswith("dynamodb:")} <= STREAM_READS
    # The stream reads are on the main table's stream (GetAtt StreamArn), ListStreams needs "*"
    assert resources["dynamodb"] == {_table_ids(eu_template)["Main"]}
    assert not [a for a in actions if a.startswith("secretsmanager:")]


def test_only_stripe_functions_get_the_stripe_layer_and_secret(
    eu_template: dict[str, Any], extended: Extended
) -> None:
    for template, declaration in (
        (eu_template, Declaration.from_wiring()),
        (extended.template, extended.declaration),
    ):
        functions = resources_of_type(template, "AWS::Lambda::Function")
        for spec in declaration.functions:
            logical_id = function_logical_id(template, spec.name)
            properties = functions[logical_id]["Properties"]
            actions, _ = _grants(template, spec.name)
            stripe = "stripe" in spec.secrets
            assert len(properties["Layers"]) == (3 if stripe else 2), spec.name
            assert ("STRIPE_SECRET_ARN" in properties["Environment"]["Variables"]) == stripe, spec.name
            assert ("secretsmanager:GetSecretValue" in actions) == stripe, spec.name
        assert len(_secret_ids(template)) == (
            1 if any("stripe" in s.secrets for s in declaration.functions) else 0
        )


def test_functions_without_stripe_can_never_reach_the_stripe_secret(eu_template: dict[str, Any]) -> None:
    # The real stack has the secret (checkout, payments and orders call Stripe); catalog & co. must not see it
    (secret,) = _secret_ids(eu_template)
    for spec in Declaration.from_wiring().functions:
        if "stripe" in spec.secrets:
            continue
        statements = role_statements(
            eu_template, function_role(eu_template, function_logical_id(eu_template, spec.name))
        )
        assert not [a for a in actions_of(statements) if a.startswith("secretsmanager:")], spec.name
        assert secret not in {ref for s in statements for ref in references(s.get("Resource"))}, spec.name


def test_notifications_cannot_write_order_checkout_or_stock_data(eu_template: dict[str, Any]) -> None:
    role = function_role(eu_template, function_logical_id(eu_template, "notifications"))
    table_statements = [
        s
        for s in role_statements(eu_template, role)
        if s["Effect"] == "Allow" and any(a.startswith("dynamodb:") for a in actions_of([s]))
    ]
    assert table_statements, "notifications reads and writes its own records"
    writes = 0
    for statement in table_statements:
        actions = actions_of([statement])
        # Only item-level actions, each limited to partition keys by prefix
        assert actions <= ITEM_ACTIONS, actions
        patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        if actions & DYNAMODB_WRITES:
            writes += 1
            allowed = [key for key in FOREIGN_KEYS if any(fnmatchcase(key, p) for p in patterns)]
            assert allowed == [], f"notifications may write {allowed} ({patterns})"
    assert writes, "expected the notification-record writes to be granted"


def _reports_bucket(template: dict[str, Any]) -> str:
    (bucket,) = resources_of_type(template, "AWS::S3::Bucket")
    return bucket


def _s3_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = function_role(template, function_logical_id(template, function))
    return [s for s in role_statements(template, role) if any(a.startswith("s3:") for a in actions_of([s]))]


def test_notifications_may_only_read_report_files_to_sign_links(eu_template: dict[str, Any]) -> None:
    # ReportReady e-mails carry a link notifications signs: S3 honours it only if the signer may GetObject
    bucket = _reports_bucket(eu_template)
    [statement] = _s3_statements(eu_template, "notifications")
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    # Read only: no put, no delete, no list
    assert actions_of([statement]) == {"s3:GetObject"}
    # ... of objects under reports/ in the reports bucket, nothing else (not the bucket, not `*`)
    assert statement["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/reports/*"]]}
    # The bucket's name reaches the function (the same variable localrt sets: infra.environment)
    function = eu_template["Resources"][function_logical_id(eu_template, "notifications")]
    assert function["Properties"]["Environment"]["Variables"]["REPORTS_BUCKET"] == {"Ref": bucket}


def test_only_reporting_and_notifications_reach_the_reports_bucket(eu_template: dict[str, Any]) -> None:
    bucket = _reports_bucket(eu_template)
    functions = resources_of_type(eu_template, "AWS::Lambda::Function")
    for spec in Declaration.from_wiring().functions:
        logical_id = function_logical_id(eu_template, spec.name)
        statements = _s3_statements(eu_template, spec.name)
        variables = functions[logical_id]["Properties"]["Environment"]["Variables"]
        reaches = any(access.bucket == "reports" for access in spec.buckets)
        # Only reporting's and notifications' functions declare the bucket, and exactly those reach it
        assert not reaches or spec.domain in ("reporting", "notifications"), spec.name
        if reaches:
            assert statements and "REPORTS_BUCKET" in variables, spec.name
            assert {ref for s in statements for ref in references(s["Resource"])} == {bucket}, spec.name
        else:
            assert statements == [] and "REPORTS_BUCKET" not in variables, spec.name
        # localrt builds environments with the same function: the same functions learn the bucket there
        local = function_environment(
            spec,
            stage="local",
            shop=ShopSettings(),
            table_name="t",
            idempotency_table_name="i",
            event_bus_name="b",
            bucket_names={"reports": "cloudtill-reports"},
        )
        assert ("REPORTS_BUCKET" in local) == reaches, spec.name


def test_function_roles_carry_no_aws_managed_policies(eu_template: dict[str, Any]) -> None:
    for logical_id in resources_of_type(eu_template, "AWS::Lambda::Function"):
        role = eu_template["Resources"][function_role(eu_template, logical_id)]
        assert "ManagedPolicyArns" not in role["Properties"], logical_id


def test_no_role_gets_wildcard_actions(eu_template: dict[str, Any], extended: Extended) -> None:
    for template in (eu_template, extended.template):
        for logical_id in resources_of_type(template, "AWS::IAM::Role"):
            for action in actions_of(role_statements(template, logical_id)):
                assert not action.endswith(":*") and action != "*", f"{logical_id}: {action}"


def test_every_queue_consumer_has_a_dlq_and_every_dlq_an_alarm(
    templates: dict[str, dict[str, Any]], extended: Extended
) -> None:
    for template in (*templates.values(), extended.template):
        assert queue_consumers_without_dlq(template) == []
        assert dlqs_without_alarm(template) == []


@pytest.fixture(autouse=True)
def _plain_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    # The probe stacks need a plain template, not CloudFormation validation (3 s each).
    monkeypatch.setenv("CDK_VALIDATION", "false")


def _consumer_stack() -> tuple[Stack, lambda_.Function]:
    stack = Stack(App(), "Probe")
    consumer = lambda_.Function(
        stack,
        "Consumer",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return None"),
    )
    return stack, consumer


def _logical_id(stack: Stack, queue: sqs.Queue) -> str:
    resource = queue.node.default_child
    assert isinstance(resource, CfnResource)
    return stack.get_logical_id(resource)


def test_the_dlq_check_flags_a_consumer_queue_without_dlq() -> None:
    # Given a function consuming a queue that has no dead-letter queue
    stack, consumer = _consumer_stack()
    queue = sqs.Queue(stack, "Orders")
    consumer.add_event_source(event_sources.SqsEventSource(queue))
    # Then the check names that queue
    assert queue_consumers_without_dlq(dict(Template.from_stack(stack).to_json())) == [
        _logical_id(stack, queue)
    ]


@pytest.mark.parametrize("with_alarm", [False, True])
def test_the_alarm_check_flags_a_dlq_only_while_nobody_watches_it(with_alarm: bool) -> None:
    # Given a consumer queue with a DLQ, with or without an alarm on the DLQ's depth
    stack, consumer = _consumer_stack()
    dlq = sqs.Queue(stack, "OrdersDlq")
    queue = sqs.Queue(stack, "Orders", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3))
    consumer.add_event_source(event_sources.SqsEventSource(queue))
    if with_alarm:
        dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1)).create_alarm(
            stack,
            "OrdersDlqAlarm",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
    template = dict(Template.from_stack(stack).to_json())
    # Then the DLQ check passes, and the alarm check flags the DLQ exactly when it is unwatched
    assert queue_consumers_without_dlq(template) == []
    assert dlqs_without_alarm(template) == ([] if with_alarm else [_logical_id(stack, dlq)])


def _keys_the_code_builds() -> list[str]:
    """A partition key of every kind of item and index entry, built by the code that writes them."""
    from datetime import UTC, datetime

    from cloudtill import keys
    from cloudtill.outbox import DomainEvent, outbox_item
    from cloudtill.payments.records import RefundClaim
    from cloudtill.payments.refund_claims import PENDING_REFUNDS, pending_refund_key
    from cloudtill.privacy.dynamo import erasure_marker

    late = RefundClaim(keys.checkout("c-1"), "late", "pi_1", 100)
    cancel = RefundClaim(keys.order("o-1"), "cancel", "pi_1", 100)
    event = DomainEvent("OrderConfirmed", "orders", {}, datetime.now(UTC))
    return [
        keys.product("p-1")[0],
        keys.ACTIVE_PRODUCTS,
        keys.category("hats")[0],
        keys.category_index("hats"),
        keys.sku("TEE-M")[0],
        keys.stock_movement("TEE-M", "2026-12-01", "m-1")[0],
        keys.checkout("c-1")[0],
        keys.HELD_RESERVATIONS,
        keys.PAID_CHECKOUTS,
        keys.held_by_sku_partition("TEE-M"),
        keys.customer_index("h", "2026-12-01", "ORDER")[0],
        keys.promotion("SAVE10")[0],
        keys.payment_event("evt_1")[0],
        keys.payment_intent("pi_1")[0],
        keys.payment_charge("ch_1")[0],
        keys.order("o-1")[0],
        keys.orders_by_status("confirmed"),
        keys.day_aggregates("2026-12-01"),
        keys.customer_first_order("h")[0],
        keys.notification("evt_1", "r")[0],
        keys.suppression("h")[0],
        pending_refund_key(late)[0],
        pending_refund_key(cancel)[0],
        PENDING_REFUNDS,
        erasure_marker("h")[0],
        str(outbox_item(event)["PK"]),
    ]


def test_every_declared_prefix_matches_a_key_the_code_builds() -> None:
    # A typo in a prefix (PROMOTION# for PROMO#) would deny the function in AWS, not locally
    built = _keys_the_code_builds()
    declaration = Declaration.from_wiring()
    prefixes = {
        (spec.name, prefix)
        for spec in declaration.functions
        for access in spec.table_access
        if access.table == "Main"
        for prefix in access.key_prefixes
    } | {
        (machine.name, prefix)
        for machine in declaration.state_machines
        for access in machine.tables
        for prefix in access.key_prefixes
    }
    unmatched = {(owner, p) for owner, p in prefixes if not any(fnmatchcase(key, p) for key in built)}
    assert unmatched == set()


def test_the_idempotency_grant_matches_the_checkouts_records() -> None:
    # Read from the handler's source: importing it needs the function's environment.
    source = (Path(__file__).resolve().parents[2] / "functions/checkout/handler.py").read_text()
    (prefix,) = re.findall(r'^IDEMPOTENCY_KEY_PREFIX = "([^"]+)"', source, flags=re.MULTILINE)
    [access] = [
        a for a in Declaration.from_wiring().function("checkout").table_access if a.table == "Idempotency"
    ]
    # Powertools keys its records `<key_prefix>#<hash of the Idempotency-Key>`
    assert access.key_prefixes == (f"{prefix}#*",)
