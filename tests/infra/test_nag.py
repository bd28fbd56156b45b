"""cdk-nag (AWS Solutions pack) runs on every synth and finds nothing unacknowledged."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import aws_sqs as sqs

from infra.app import build_app, create_app
from tests.infra.conftest import Synthesis


def test_synth_has_zero_unacknowledged_findings(synthesis: Synthesis) -> None:
    violations = [
        f"{violation['ruleName']}: {[c['constructPath'] for c in violation['violatingConstructs']]}"
        for plugin in synthesis.report.get("pluginReports", [])
        for violation in plugin["violations"]
    ]
    assert violations == []
    assert synthesis.error is None, str(synthesis.error)


def test_the_app_runs_cdk_nag_and_fails_on_a_finding(tmp_path: Path, layer_dirs: dict[str, Path]) -> None:
    # Given the real app with one resource nobody acknowledged (a queue without DLQ and TLS policy)
    app = create_app({"stage": "dev", "regions": "eu-west-1"}, outdir=str(tmp_path))
    (stack,) = build_app(app, layer_dirs=layer_dirs)
    sqs.Queue(stack, "UnreviewedQueue")
    # When it is synthesized, then cdk-nag stops the synth and names the finding
    with pytest.raises(Exception, match=r"[Vv]alidation"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-SQS3" in report
    assert "UnreviewedQueue" in report
