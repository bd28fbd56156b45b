"""SnapStart as a stage setting: off by default; on, every function has a published version (deleted
when replaced, so old versions' snapshot caches stop billing) and a `live` alias, and everything
that invokes a function invokes that alias (SnapStart applies to published versions only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra import app as infra_app
from infra.function_factory import LIVE_ALIAS
from infra.region_settings import StageSettings, load_stage_settings
from tests.infra.conftest import STAGE, Synthesis, synthesize


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def snap_start_template(
    tmp_path_factory: pytest.TempPathFactory, layer_dirs: dict[str, Path]
) -> dict[str, Any]:
    def with_snap_start(stage: str) -> StageSettings:
        return load_stage_settings(stage).model_copy(update={"snap_start": True})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(infra_app, "load_stage_settings", with_snap_start)
        result = synthesize(
            tmp_path_factory.mktemp("snapstart-cdk.out"), {"stage": STAGE, "regions": "eu-west-1"}, layer_dirs
        )
    assert result.error is None, result.error  # cdk-nag and validation pass with SnapStart on
    return result.templates["eu-west-1"]


def test_snap_start_is_off_in_every_stage_by_default(synthesis: Synthesis) -> None:
    for stage in ("dev", "staging", "prod"):
        assert load_stage_settings(stage).snap_start is False
    template = synthesis.templates["eu-west-1"]
    assert not any(
        "SnapStart" in f["Properties"] for f in _of_type(template, "AWS::Lambda::Function").values()
    )
    assert not _of_type(template, "AWS::Lambda::Version") and not _of_type(template, "AWS::Lambda::Alias")


def test_snap_start_on_publishes_versions_behind_a_live_alias(snap_start_template: dict[str, Any]) -> None:
    functions = _of_type(snap_start_template, "AWS::Lambda::Function")
    ours = {k: f for k, f in functions.items() if f["Properties"].get("Runtime", "").startswith("python3.1")}
    ours = {k: f for k, f in ours.items() if "SnapStart" in f["Properties"]}
    assert len(ours) >= 9
    for function in ours.values():
        assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    versions = _of_type(snap_start_template, "AWS::Lambda::Version")
    assert {v["Properties"]["FunctionName"]["Ref"] for v in versions.values()} == set(ours)
    # A replaced version is deleted: its snapshot cache does not bill forever.
    assert all(v.get("DeletionPolicy") == "Delete" for v in versions.values())
    aliases = _of_type(snap_start_template, "AWS::Lambda::Alias")
    assert {a["Properties"]["Name"] for a in aliases.values()} == {LIVE_ALIAS}
    assert {a["Properties"]["FunctionName"]["Ref"] for a in aliases.values()} == set(ours)
    assert {a["Properties"]["FunctionVersion"]["Fn::GetAtt"][0] for a in aliases.values()} == set(versions)


def test_snap_start_on_every_invocation_goes_to_the_alias(snap_start_template: dict[str, Any]) -> None:
    template = snap_start_template
    aliases = set(_of_type(template, "AWS::Lambda::Alias"))
    ours = {a["Properties"]["FunctionName"]["Ref"] for a in _of_type(template, "AWS::Lambda::Alias").values()}

    def refs(value: Any) -> set[str]:
        text = json.dumps(value)
        return {name for name in aliases | ours if f'"{name}"' in text}

    for method in _of_type(template, "AWS::ApiGateway::Method").values():
        uri = method["Properties"].get("Integration", {}).get("Uri")
        if uri is not None and "lambda" in json.dumps(uri):
            assert refs(uri) and refs(uri) <= aliases, uri
    for mapping in _of_type(template, "AWS::Lambda::EventSourceMapping").values():
        assert refs(mapping["Properties"]["FunctionName"]) <= aliases, mapping
    for schedule in _of_type(template, "AWS::Scheduler::Schedule").values():
        assert refs(schedule["Properties"]["Target"]["Arn"]) <= aliases, schedule
    for machine in _of_type(template, "AWS::StepFunctions::StateMachine").values():
        substitutions = machine["Properties"].get("DefinitionSubstitutions", {})
        assert refs(substitutions) and refs(substitutions) <= aliases, substitutions
    for permission in _of_type(template, "AWS::Lambda::Permission").values():
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com":
            assert refs(permission["Properties"]["FunctionName"]) <= aliases, permission
