"""The cloudtill CDK app: one self-contained stack per region (`python -m infra.app`).

    npx cdk synth -c stage=prod -c regions=eu-west-1,us-east-1

Context: `stage` (dev|staging|prod, settings in infra/stages/) and `regions` (comma separated,
settings in infra/regions/). cdk-nag's AWS Solutions pack runs on every synth; an
unacknowledged finding fails it. The dependency layers are built on demand (cached).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.declaration import Declaration
from infra.function_factory import FUNCTIONS_DIR
from infra.layer_build import ensure_layers
from infra.region_settings import (
    REGIONS_DIR,
    SettingsRefused,
    check_deployable,
    load_region_settings,
    load_stage_settings,
    parse_regions,
)
from infra.stack import CloudtillStack

DEFAULT_CONTEXT = {"stage": "dev", "regions": "eu-west-1"}


def build_app(
    app: App,
    *,
    with_nag: bool = True,
    layer_dirs: Mapping[str, Path] | None = None,
    declaration: Declaration | None = None,
    functions_dir: Path = FUNCTIONS_DIR,
    regions_dir: Path = REGIONS_DIR,
) -> list[CloudtillStack]:
    """Adds one stack per region in the app's context (and cdk-nag) to `app`.

    `declaration` defaults to `infra/wiring.py`; tests pass variants (e.g. a function using Stripe,
    one more subscription) built with `dataclasses.replace(Declaration.from_wiring(), ...)`, and
    `functions_dir` when a variant needs function folders that do not exist yet, `regions_dir` for
    region files kept elsewhere. A stage with `refuse_placeholder_settings` (prod) refuses region
    files that still hold the repository's example addresses.
    """
    stage = load_stage_settings(str(app.node.try_get_context("stage") or DEFAULT_CONTEXT["stage"]))
    regions = parse_regions(str(app.node.try_get_context("regions") or DEFAULT_CONTEXT["regions"]))
    region_settings = [load_region_settings(region, regions_dir) for region in regions]
    check_deployable(stage, region_settings, regions_dir)  # before building anything
    layers = dict(layer_dirs) if layer_dirs is not None else ensure_layers()
    # No credentials needed to synthesize: without CDK_DEFAULT_ACCOUNT the stacks are
    # account-agnostic (the account is resolved at deploy time).
    account = os.environ.get("CDK_DEFAULT_ACCOUNT") or None
    stacks = [
        CloudtillStack(
            app,
            stage=stage,
            region=region,
            layer_dirs=layers,
            account=account,
            declaration=declaration,
            functions_dir=functions_dir,
        )
        for region in region_settings
    ]
    if with_nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


def create_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> App:
    """An App for tests and scripts (the CDK CLI passes context and outdir via the environment)."""
    return App(context=dict(context or {}), outdir=outdir)


def main() -> None:
    app = App()
    try:
        build_app(app)
    except SettingsRefused as refused:
        # The reason alone, on stderr, not a traceback: it says which file and field to edit.
        sys.exit(str(refused))
    app.synth()


if __name__ == "__main__":
    main()
