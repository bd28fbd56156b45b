"""Synthesizes the app once per session (both regions, cdk-nag on) and shares the templates."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.app import build_app, create_app
from infra.layer_build import ensure_layers
from infra.stack import stack_name

REGIONS = ("eu-west-1", "us-east-1")
STAGE = "dev"


@dataclass
class Synthesis:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # region -> template
    error: Exception | None
    report: dict[str, Any] = field(default_factory=dict)

    def template_path(self, region: str) -> Path:
        return self.outdir / f"{stack_name(STAGE, region)}.template.json"


@pytest.fixture(scope="session")
def layer_dirs() -> dict[str, Path]:
    return ensure_layers()


def synthesize(outdir: Path, context: dict[str, str], layer_dirs: dict[str, Path]) -> Synthesis:
    app = create_app(context, outdir=str(outdir))
    stacks = build_app(app, layer_dirs=layer_dirs)
    error: Exception | None = None
    try:
        app.synth()
    except Exception as exc:  # cdk-nag findings fail the synth; the report says which
        error = exc
    report_file = outdir / "validation-report.json"
    return Synthesis(
        outdir=outdir,
        templates={
            stack.region: json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
            for stack in stacks
        },
        error=error,
        report=json.loads(report_file.read_text()) if report_file.exists() else {},
    )


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory, layer_dirs: dict[str, Path]) -> Synthesis:
    """The real app, as `cdk synth -c stage=dev -c regions=eu-west-1,us-east-1` builds it."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    return synthesize(outdir, {"stage": STAGE, "regions": ",".join(REGIONS)}, layer_dirs)


@pytest.fixture(scope="session")
def templates(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return synthesis.templates


@pytest.fixture(scope="session")
def eu_template(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["eu-west-1"]
