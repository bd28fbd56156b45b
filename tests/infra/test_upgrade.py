"""Deploying today's stacks over a real earlier synth (tests/infra/baseline/) replaces or removes
no stateful resource; everything it would replace or remove is printed after the test summary."""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

import pytest

from tests.infra.conftest import UPGRADE_REPORT, Renamed
from tests.infra.stateful import load_list
from tests.infra.upgrade import Change, compare, extract, failure_message, load_baselines

BASELINES = load_baselines()


def test_there_is_a_baseline_of_every_listed_stack() -> None:
    assert set(BASELINES) == set(load_list())
    for name, baseline in BASELINES.items():
        assert re.fullmatch(r"[0-9a-f]{40}", baseline["commit"]), name
        # A real synth: the stateful resources of the list are in it, with their types.
        for logical_id, resource_type in load_list()[name].items():
            if logical_id in baseline["resources"]:
                assert baseline["resources"][logical_id]["Type"] == resource_type


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_upgrading_from_the_baseline_replaces_no_stateful_resource(
    name: str, app_stacks: dict[str, dict[str, Any]]
) -> None:
    baseline = BASELINES[name]
    changes = compare(name, baseline["resources"], app_stacks[name])
    counts = Counter(f"{c.kind} {c.resource_type}" for c in changes)
    UPGRADE_REPORT.append(
        f"{name} over {baseline['commit'][:12]}: "
        + (", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing")
    )
    # Each replacement in full; removals one by one only where few of a type go (28 per-method
    # permissions replaced by one per function need no list).
    UPGRADE_REPORT.extend(
        f"    {change.logical_id}: {change.kind}, {change.detail}"
        for change in changes
        if change.kind == "replaced" or counts[f"{change.kind} {change.resource_type}"] <= 3
    )
    stateful = [change for change in changes if change.stateful]
    assert not stateful, failure_message(stateful, baseline["commit"])


def test_the_check_fails_on_a_renamed_table_construct(renamed: Renamed) -> None:
    # Given the baseline of the dev stack and the same stack with its main table construct renamed
    baseline = BASELINES[renamed.stack_name]
    # When the upgrade is checked
    changes = compare(renamed.stack_name, baseline["resources"], renamed.template)
    stateful = [change for change in changes if change.stateful]
    # Then the main table is reported removed, and only it among the stateful resources
    assert stateful == [
        Change(
            renamed.stack_name,
            renamed.old_logical_id,
            "AWS::DynamoDB::Table",
            "removed",
            "logical ID no longer in the template",
        )
    ]
    message = failure_message(stateful, baseline["commit"])
    assert renamed.old_logical_id in message and "override_logical_id" in message
    # And pinning the old logical id, as the message says, makes the same rename safe
    pinned = compare(renamed.stack_name, baseline["resources"], renamed.pinned_template)
    assert [change for change in pinned if change.stateful] == []


def test_a_replacement_forcing_property_is_a_replacement(eu_template: dict[str, Any]) -> None:
    # Given the current template as the baseline and a copy with a table key, a queue name and a
    # function's memory changed
    baseline = extract(eu_template)
    changed = copy.deepcopy(eu_template)
    resources = changed["Resources"]
    table_id = next(k for k, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table")
    resources[table_id]["Properties"]["KeySchema"][0]["AttributeName"] = "pk2"
    resources[table_id]["Properties"]["AttributeDefinitions"].append(
        {"AttributeName": "pk2", "AttributeType": "S"}
    )
    queue_id = next(k for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue")
    resources[queue_id]["Properties"]["QueueName"] = "renamed-queue"
    function_id = next(k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function")
    resources[function_id]["Properties"]["MemorySize"] = 4096
    # When compared, then the table and the queue are replaced; the memory change is an update
    changes = {c.logical_id: c for c in compare("probe", baseline, changed)}
    assert set(changes) == {table_id, queue_id}
    assert changes[table_id].kind == "replaced" and "KeySchema" in changes[table_id].detail
    assert "AttributeDefinitions(key)" in changes[table_id].detail
    assert changes[queue_id].detail == "changed QueueName" and changes[queue_id].stateful
    # A changed type is a replacement too
    resources[queue_id]["Type"] = "AWS::SNS::Topic"
    changes = {c.logical_id: c for c in compare("probe", baseline, changed)}
    assert changes[queue_id].detail == "type is now AWS::SNS::Topic"
