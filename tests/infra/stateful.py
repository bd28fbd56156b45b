"""The stateful resources of the real app's stacks and their logical IDs, committed in
`tests/infra/stateful_resources.json` so a refactor cannot silently change one.

CloudFormation recognises a resource by its logical ID: a construct that moves or is renamed gets a
new one, and a deploy then creates a new, empty resource and deletes (or, with RETAIN, orphans) the
old one with the shop's orders, reports, users or parked messages in it.

    .venv/bin/python -m tests.infra.stateful           # compare the list with a fresh synth
    .venv/bin/python -m tests.infra.stateful --write   # regenerate it (deliberate changes only)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.stateful import STATEFUL_TYPES

Template = dict[str, Any]

STATEFUL_LIST = Path(__file__).resolve().with_name("stateful_resources.json")
WRITE_COMMAND = ".venv/bin/python -m tests.infra.stateful --write"
# The stacks of the real app the list covers: (stage, region).
LISTED_STACKS = (("dev", "eu-west-1"), ("dev", "us-east-1"), ("prod", "eu-west-1"), ("prod", "us-east-1"))


def stateful_resources(template: Template) -> dict[str, str]:
    """Logical id -> type of every stateful resource of a template."""
    return {
        logical_id: resource["Type"]
        for logical_id, resource in sorted(template["Resources"].items())
        if resource["Type"] in STATEFUL_TYPES
    }


def load_list(path: Path = STATEFUL_LIST) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(path.read_text())["stacks"]
    return data


def list_document(stacks: Mapping[str, Template]) -> dict[str, Any]:
    return {
        "comment": f"Stateful resources per stack (logical id -> type). Regenerate: {WRITE_COMMAND}",
        "stacks": {name: stateful_resources(template) for name, template in sorted(stacks.items())},
    }


def differences(committed: Mapping[str, Mapping[str, str]], current: Mapping[str, Template]) -> list[str]:
    """What changed between the committed list and the current templates, one line each."""
    lines = []
    for name in sorted(set(committed) | set(current)):
        if name not in current:
            lines.append(f"{name}: stack no longer synthesized")
            continue
        if name not in committed:
            lines.append(f"{name}: stack not in the list")
            continue
        before, after = committed[name], stateful_resources(current[name])
        for logical_id in sorted(set(before) - set(after)):
            lines.append(f"{name}: {logical_id} ({before[logical_id]}) is gone")
        for logical_id in sorted(set(after) - set(before)):
            lines.append(f"{name}: {logical_id} ({after[logical_id]}) is new")
        for logical_id in sorted(set(before) & set(after)):
            if before[logical_id] != after[logical_id]:
                lines.append(f"{name}: {logical_id} changed type {before[logical_id]} -> {after[logical_id]}")
    return lines


def failure_message(lines: list[str]) -> str:
    return "\n".join(
        [
            "The stateful resources of the stacks changed:",
            *(f"  - {line}" for line in lines),
            "",
            "A stateful resource whose logical ID changes is a NEW resource to CloudFormation: the next",
            "deploy creates it empty and deletes (or, with RETAIN, orphans) the one holding the data.",
            "- A refactor moved or renamed a construct: keep the old logical ID, e.g.",
            "      table.node.default_child.override_logical_id('<old logical id>')",
            "- A new resource was added, or a replacement is deliberate and migrated (see",
            "  docs/infrastructure.md, 'Upgrades'): regenerate the list and commit it:",
            f"      {WRITE_COMMAND}",
        ]
    )


def synthesize_app(outdir: Path) -> dict[str, Template]:
    """Stack name -> template of every listed stack (no cdk-nag, no validation: IDs only)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("CDK_DEFAULT_ACCOUNT", "111111111111")
    os.environ["CDK_VALIDATION"] = "false"
    from infra.app import build_app, create_app
    from infra.layer_build import ensure_layers
    from tests.infra.deployable import regions_dir_for

    layers = ensure_layers()
    stacks: dict[str, Template] = {}
    for stage in sorted({stage for stage, _ in LISTED_STACKS}):
        regions = ",".join(region for s, region in LISTED_STACKS if s == stage)
        stage_out = outdir / stage
        app = create_app({"stage": stage, "regions": regions}, outdir=str(stage_out))
        regions_dir = regions_dir_for(stage, outdir / f"{stage}-regions")
        built = build_app(app, with_nag=False, layer_dirs=layers, regions_dir=regions_dir)
        app.synth()
        for stack in built:
            stacks[stack.stack_name] = json.loads(
                (stage_out / f"{stack.stack_name}.template.json").read_text()
            )
    return stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help=f"rewrite {STATEFUL_LIST.name}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as outdir:
        stacks = synthesize_app(Path(outdir))
    if args.write:
        STATEFUL_LIST.write_text(json.dumps(list_document(stacks), indent=2) + "\n")
        print(f"wrote {STATEFUL_LIST}")
        return 0
    lines = differences(load_list(), stacks)
    if lines:
        print(failure_message(lines))
        return 1
    print(f"{STATEFUL_LIST.name} matches the app")
    return 0


if __name__ == "__main__":
    sys.exit(main())
