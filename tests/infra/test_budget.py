"""Every synthesized stack stays within a budget under each AWS limit a growing stack hits first.

The figures are printed after the test summary of every run (`stack budgets`) and recorded as
JUnit properties, so a growing cost shows in CI before it becomes a failed deploy. Budgets and
limits: `tests/infra/limits.py` (LIMITS); what to do when one is crossed: docs/infrastructure.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.stack import stack_name
from tests.infra.conftest import BUDGET_REPORT, PROD_STAGE, REGIONS, STAGE, Extended
from tests.infra.limits import LIMITS, Figure, figures

STACKS = [
    *((stack_name(stage, region), region) for stage in (STAGE, PROD_STAGE) for region in REGIONS),
    ("extended", "eu-west-1"),
]


@pytest.fixture(scope="session")
def budgeted(app_stacks: dict[str, dict[str, Any]], extended: Extended) -> dict[str, dict[str, Any]]:
    return {**app_stacks, "extended": extended.template}


@pytest.mark.parametrize(("label", "region"), STACKS, ids=[label for label, _ in STACKS])
def test_stack_stays_within_its_budgets(
    label: str,
    region: str,
    budgeted: dict[str, dict[str, Any]],
    record_property: Callable[[str, object], None],
) -> None:
    name = stack_name(STAGE, region) if label == "extended" else label
    results = figures(budgeted[label], stack_name=name, region=region)
    for figure in results:
        record_property(figure.name, figure.value)
        BUDGET_REPORT.append(_line(label, figure))
    over = [f for f in results if not f.within_budget]
    assert not over, "over budget (see docs/infrastructure.md, 'Limits'): " + "; ".join(
        _line(label, f) for f in over
    )


def _line(label: str, figure: Figure) -> str:
    where = f" ({figure.where})" if figure.where else ""
    return (
        f"{label:<26} {figure.name:<20} {figure.value:>9,} / {figure.budget:>9,} / {figure.limit:>9,}"
        f"  {LIMITS[figure.name][2]}{where}"
    )


def test_the_budget_catches_a_stack_over_it() -> None:
    # Given a stack of 401 queues, a role with a long policy and a function with a large environment
    resources: dict[str, Any] = {
        f"Queue{i}": {"Type": "AWS::SQS::Queue", "Properties": {}} for i in range(398)
    }
    resources["Role"] = {"Type": "AWS::IAM::Role", "Properties": {}}
    resources["Policy"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sqs:SendMessage",
                        "Resource": {"Fn::GetAtt": [f"Queue{i}", "Arn"]},
                    }
                    for i in range(100)
                ]
            },
        },
    }
    resources["Function"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Environment": {"Variables": {f"QUEUE_{i}": {"Ref": f"Queue{i}"} for i in range(40)}},
        },
    }
    # When its figures are taken, the resolved ARNs and queue URLs count at their deployed length
    results = {
        f.name: f
        for f in figures({"Resources": resources}, stack_name="cloudtill-prod-eu-west-1", region="eu-west-1")
    }
    # Then resources, the role's policy and the environment are over budget, the rest within
    assert results["resources"].value == 401 and not results["resources"].within_budget
    assert results["role_policy_chars"].value > 8_000 and results["role_policy_chars"].where == "Role"
    assert results["environment_bytes"].value > 3_072 and results["environment_bytes"].where == "Function"
    assert results["template_bytes"].within_budget and results["api_resources"].value == 0
