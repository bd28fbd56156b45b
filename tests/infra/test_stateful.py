"""Stateful resources keep their logical IDs (the committed list) and prod keeps them on delete."""

from __future__ import annotations

from typing import Any

from infra.stack import stack_name
from infra.stateful import STATEFUL_TYPES
from tests.infra.conftest import PROD_STAGE, REGIONS, Renamed
from tests.infra.stateful import differences, failure_message, load_list, stateful_resources


def test_stateful_resources_keep_their_logical_ids(app_stacks: dict[str, dict[str, Any]]) -> None:
    lines = differences(load_list(), app_stacks)
    assert not lines, failure_message(lines)


def test_the_list_holds_the_tables_bucket_pool_bus_queues_secret_and_keys() -> None:
    listed = load_list()[stack_name(PROD_STAGE, REGIONS[0])]
    types = sorted(listed.values())
    assert types.count("AWS::DynamoDB::Table") == 2  # main + idempotency
    assert {"AWS::S3::Bucket", "AWS::Cognito::UserPool", "AWS::Events::EventBus"} <= set(types)
    assert {"AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::SQS::Queue"} <= set(types)


def test_a_renamed_table_construct_is_caught_with_what_to_do(renamed: Renamed) -> None:
    # Given the dev stack with the main table's construct renamed (MainTable -> OrdersTable)
    lines = differences(load_list(), {renamed.stack_name: renamed.template})
    # Then the old table is gone and a new one appears, and the message says how to keep the ID
    assert any(f"{renamed.old_logical_id} (AWS::DynamoDB::Table) is gone" in line for line in lines), lines
    assert any("is new" in line and "OrdersTable" in line for line in lines), lines
    message = failure_message(lines)
    assert "override_logical_id" in message and "python -m tests.infra.stateful --write" in message
    # And with the old logical id pinned the list holds again
    listed = {renamed.stack_name: load_list()[renamed.stack_name]}
    assert differences(listed, {renamed.stack_name: renamed.pinned_template}) == []


def test_prod_retains_every_stateful_resource(app_stacks: dict[str, dict[str, Any]]) -> None:
    for region in REGIONS:
        template = app_stacks[stack_name(PROD_STAGE, region)]
        resources = template["Resources"]
        not_retained = [
            f"{logical_id} ({resources[logical_id]['Type']})"
            for logical_id in stateful_resources(template)
            if resources[logical_id].get("DeletionPolicy") != "Retain"
            or resources[logical_id].get("UpdateReplacePolicy") != "Retain"
        ]
        assert not not_retained, f"{region}: not RETAIN in prod: {not_retained}"
        for resource in resources.values():
            if resource["Type"] == "AWS::DynamoDB::Table":
                assert resource["Properties"]["DeletionProtectionEnabled"] is True
            if resource["Type"] == "AWS::Cognito::UserPool":
                assert resource["Properties"]["DeletionProtection"] == "ACTIVE"
    assert set(STATEFUL_TYPES) >= {"AWS::DynamoDB::Table", "AWS::SQS::Queue"}
