"""The upgrade check: what a deploy of today's stack over an earlier one would replace or remove.

Computed offline from two templates, like `cdk diff`: a resource is **removed** when its logical ID
is gone, **replaced** when its type changed or a property that forces replacement changed
(`REPLACEMENT_PROPERTIES`). The earlier side is a compact extract of a real earlier synth,
committed under `tests/infra/baseline/` (one file per stack) and written by

    .venv/bin/python -m tests.infra.upgrade --write-baseline <git ref>    # e.g. the last release tag

which checks the ref out in a temporary `git worktree`, synthesizes it there and keeps, per resource,
its type and the values of its replacement-forcing properties. Without options the module prints the
report of the current app against the committed baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.stateful import STATEFUL_TYPES

Template = dict[str, Any]
BASELINE_DIR = Path(__file__).resolve().parent / "baseline"
REPO_ROOT = Path(__file__).resolve().parents[2]
# DynamoDB: only the attribute definitions of the table's own key force a replacement (a GSI's
# attributes come and go with its index); `_properties` stores them under this name.
KEY_ATTRIBUTES = "AttributeDefinitions(key)"

# Properties whose change makes CloudFormation replace the resource ("Update requires:
# Replacement" in the CloudFormation resource reference). Kept small: the stateful types in full,
# plus the types this app has many of. Types not listed are only checked for removal/type change.
REPLACEMENT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::DynamoDB::Table": ("TableName", "KeySchema", KEY_ATTRIBUTES, "LocalSecondaryIndexes"),
    "AWS::S3::Bucket": ("BucketName",),
    # Conservative: Cognito now lets a pool be renamed; the rest cannot change on a pool.
    "AWS::Cognito::UserPool": (
        "UserPoolName",
        "AliasAttributes",
        "UsernameAttributes",
        "UsernameConfiguration",
        "Schema",
    ),
    "AWS::Cognito::UserPoolGroup": ("GroupName", "UserPoolId"),
    "AWS::Cognito::UserPoolClient": ("UserPoolId", "GenerateSecret"),
    "AWS::Events::EventBus": ("Name",),
    "AWS::Events::Rule": ("Name", "EventBusName"),
    "AWS::SQS::Queue": ("QueueName", "FifoQueue"),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::KMS::Key": ("KeySpec", "KeyUsage", "MultiRegion"),
    "AWS::SNS::Topic": ("TopicName", "FifoTopic"),
    "AWS::Lambda::Function": ("FunctionName", "PackageType"),
    "AWS::Lambda::Permission": ("Action", "FunctionName", "Principal", "SourceAccount", "SourceArn"),
    "AWS::IAM::Role": ("RoleName", "Path"),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", "StateMachineType"),
    "AWS::ApiGateway::Resource": ("ParentId", "PathPart", "RestApiId"),
    "AWS::Scheduler::Schedule": ("Name", "GroupName"),
    "AWS::SES::EmailIdentity": ("EmailIdentity",),
    "AWS::SES::ConfigurationSet": ("Name",),
}


@dataclass(frozen=True)
class Change:
    stack: str
    logical_id: str
    resource_type: str
    kind: str  # "removed" | "replaced"
    detail: str

    @property
    def stateful(self) -> bool:
        return self.resource_type in STATEFUL_TYPES

    def __str__(self) -> str:
        return f"{self.stack}: {self.logical_id} ({self.resource_type}) {self.kind}: {self.detail}"


def _properties(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The replacement-forcing properties a resource sets (absent ones are left out)."""
    properties = resource.get("Properties", {})
    kept = {}
    for name in REPLACEMENT_PROPERTIES.get(resource["Type"], ()):
        if name == KEY_ATTRIBUTES:
            keys = {key["AttributeName"] for key in properties.get("KeySchema", [])}
            value: Any = sorted(
                (a for a in properties.get("AttributeDefinitions", []) if a["AttributeName"] in keys),
                key=lambda a: a["AttributeName"],
            )
        else:
            value = properties.get(name)
        if value is not None:
            kept[name] = value
    return kept


def extract(template: Template) -> dict[str, dict[str, Any]]:
    """Logical id -> {"Type", "Properties": replacement-forcing ones}: all the check compares."""
    extracted: dict[str, dict[str, Any]] = {}
    for logical_id, resource in sorted(template["Resources"].items()):
        entry: dict[str, Any] = {"Type": resource["Type"]}
        properties = _properties(resource)
        if properties:
            entry["Properties"] = properties
        extracted[logical_id] = entry
    return extracted


def compare(stack: str, baseline: Mapping[str, Mapping[str, Any]], current: Template) -> list[Change]:
    """Every baseline resource the current template removes or replaces."""
    now = extract(current)
    changes = []
    for logical_id, before in baseline.items():
        resource_type = before["Type"]
        after = now.get(logical_id)
        if after is None:
            changes.append(
                Change(stack, logical_id, resource_type, "removed", "logical ID no longer in the template")
            )
            continue
        if after["Type"] != resource_type:
            changes.append(
                Change(stack, logical_id, resource_type, "replaced", f"type is now {after['Type']}")
            )
            continue
        old, new = before.get("Properties", {}), after.get("Properties", {})
        changed = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
        if changed:
            changes.append(
                Change(stack, logical_id, resource_type, "replaced", "changed " + ", ".join(changed))
            )
    return changes


def load_baselines(directory: Path = BASELINE_DIR) -> dict[str, dict[str, Any]]:
    """Stack name -> the committed baseline document ({"ref", "commit", "resources"})."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def failure_message(changes: list[Change], commit: str) -> str:
    return "\n".join(
        [
            f"Deploying this version over {commit[:12]} would replace or remove stateful resources:",
            *(f"  - {change}" for change in changes),
            "",
            "CloudFormation would create new, empty resources and delete (or orphan) the ones holding",
            "the shop's data. Keep the logical ID (override_logical_id) and the replacement-forcing",
            "properties as they were, or migrate deliberately (docs/infrastructure.md, 'Upgrades') and",
            "then move the baseline: .venv/bin/python -m tests.infra.upgrade --write-baseline <ref>",
        ]
    )


# --- the baseline: a real earlier synth -------------------------------------------------------------

_SYNTH_SCRIPT = """
import json, os, sys
from pathlib import Path
from infra.app import build_app, create_app
outdir, stage, regions, layers = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
app = create_app({"stage": stage, "regions": regions}, outdir=outdir)
options = {"with_nag": False, "layer_dirs": {k: Path(v) for k, v in layers.items()}}
try:  # a ref whose prod synth refuses placeholder addresses: synthesize it as a shop deploys it
    from tests.infra.deployable import regions_dir_for
    options["regions_dir"] = regions_dir_for(stage, Path(outdir + "-regions"))
except ImportError:
    pass
stacks = build_app(app, **options)
app.synth()
print(json.dumps([s.stack_name for s in stacks]))
"""


def synthesize_ref(ref: str, stages: Mapping[str, str]) -> tuple[str, dict[str, Template]]:
    """(commit, stack name -> template) of `ref`, synthesized in a temporary worktree with this
    checkout's dependency layers (their content changes asset hashes, never logical IDs)."""
    from infra.layer_build import ensure_layers

    commit = subprocess.run(
        ["git", "rev-parse", f"{ref}^{{commit}}"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    layers = {name: str(path) for name, path in ensure_layers().items()}
    templates: dict[str, Template] = {}
    with tempfile.TemporaryDirectory() as scratch:
        worktree = Path(scratch) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), commit], cwd=REPO_ROOT, check=True
        )
        try:
            env = {
                **os.environ,
                "PYTHONPATH": f"{worktree / 'layers/cloudtill/python'}:{worktree}",
                "CDK_VALIDATION": "false",
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                "CDK_DEFAULT_ACCOUNT": os.environ.get("CDK_DEFAULT_ACCOUNT", "111111111111"),
            }
            for stage, regions in stages.items():
                outdir = Path(scratch) / f"out-{stage}"
                result = subprocess.run(
                    [sys.executable, "-c", _SYNTH_SCRIPT, str(outdir), stage, regions, json.dumps(layers)],
                    cwd=worktree,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                for name in json.loads(result.stdout.strip().splitlines()[-1]):
                    templates[name] = json.loads((outdir / f"{name}.template.json").read_text())
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO_ROOT, check=True)
    return commit, templates


def write_baseline(ref: str, stages: Mapping[str, str], directory: Path = BASELINE_DIR) -> list[Path]:
    commit, templates = synthesize_ref(ref, stages)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.json"):
        old.unlink()
    written = []
    for name, template in sorted(templates.items()):
        path = directory / f"{name}.json"
        header = {"ref": ref, "commit": commit, "stack": name}
        # One resource per line: reviewable diffs when the baseline moves.
        lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in extract(template).items()]
        head = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in header.items())
        path.write_text("{" + head + ', "resources": {\n' + ",\n".join(lines) + "\n}}\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--write-baseline", metavar="REF", help="synthesize REF and commit it as the baseline"
    )
    parser.add_argument("--stages", default="dev,prod", help="stages of the baseline (default dev,prod)")
    parser.add_argument("--regions", default="eu-west-1,us-east-1", help="regions of the baseline")
    args = parser.parse_args(argv)
    stages = {stage: args.regions for stage in args.stages.split(",")}
    if args.write_baseline:
        for path in write_baseline(args.write_baseline, stages):
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    from tests.infra.stateful import synthesize_app

    with tempfile.TemporaryDirectory() as outdir:
        current = synthesize_app(Path(outdir))
    status = 0
    for name, baseline in load_baselines().items():
        changes = compare(name, baseline["resources"], current[name])
        print(f"{name} (baseline {baseline['commit'][:12]}): {len(changes)} replaced or removed")
        for change in changes:
            print(f"  {'STATEFUL ' if change.stateful else ''}{change}")
        status |= any(change.stateful for change in changes)
    return status


if __name__ == "__main__":
    sys.exit(main())
