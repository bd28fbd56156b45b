"""Builds the Lambda dependency layers from `requirements.lock` (no CDK import).

Two layers, both `manylinux2014_aarch64` wheels for the Lambda Python version:

- `deps`: every runtime dependency except what the Lambda runtime already ships (boto3 and
  its own dependencies) and except what only Stripe needs;
- `stripe`: the Stripe SDK and the packages only it needs (requests & co.), attached only to
  functions with `uses_stripe`, so every other function cold-starts without them.

The split is computed from the lock file's `# via` comments, so a new dependency lands in the
right layer without editing this module. A build is skipped when a stamp file says the lock,
the Python version and the platform are unchanged; builds go to a temporary folder and are
renamed into place, so an interrupted or concurrent build never leaves a half layer behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = REPO_ROOT / "requirements.lock"
LAYERS_BUILD_DIR = REPO_ROOT / "build" / "layers"

# One place for the Lambda Python version: the runtime in infra/function_factory.py and the
# wheels pip selects here must agree (pydantic-core is a compiled, version-specific wheel).
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_aarch64"

# The Lambda Python runtime ships boto3 and these dependencies of it; bundling them again
# only grows the layer (and would shadow the runtime's tested versions).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six"})
# Top-level requirements whose exclusive dependency closure goes to its own layer.
SEPARATE_LAYERS = {"stripe": "stripe"}
DEPS_LAYER = "deps"
STAMP_NAME = ".build-stamp.json"
# The `# via` name the lock uses for our own pyproject (a top-level requirement).
_PROJECT_MARKER = "(pyproject.toml)"


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    required_by: frozenset[str]  # normalized package names, or "" for a top-level requirement


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> dict[str, LockedPackage]:
    """Parses a `uv pip compile` lock: `name==version` lines followed by `# via` comments."""
    packages: dict[str, LockedPackage] = {}
    current: tuple[str, str] | None = None
    via: set[str] = set()

    def flush() -> None:
        if current is not None:
            packages[current[0]] = LockedPackage(current[0], current[1], frozenset(via))

    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        pinned = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if pinned:
            flush()
            current, via, in_via = (normalize(pinned.group(1)), pinned.group(2)), set(), False
            continue
        if current is None or not line.startswith("#"):
            continue
        comment = line.lstrip("#").strip()
        if comment.startswith("via"):
            in_via = True
            comment = comment[len("via") :].strip()
        if in_via and comment:
            via.add("" if comment.endswith(_PROJECT_MARKER) else normalize(comment.split()[0]))
    flush()
    return packages


def _roots(name: str, packages: dict[str, LockedPackage], seen: frozenset[str] = frozenset()) -> set[str]:
    """The top-level requirements that pull `name` in."""
    package = packages[name]
    roots: set[str] = set()
    for parent in package.required_by:
        if parent == "":
            roots.add(name)
        elif parent in packages and parent not in seen:
            roots |= _roots(parent, packages, seen | {name})
    return roots


def split_into_layers(packages: dict[str, LockedPackage]) -> dict[str, list[str]]:
    """Layer name -> sorted `name==version` requirements. Runtime-provided packages go nowhere."""
    layers: dict[str, list[str]] = {DEPS_LAYER: [], **{layer: [] for layer in SEPARATE_LAYERS.values()}}
    for name, package in sorted(packages.items()):
        if name in RUNTIME_PROVIDED:
            continue
        roots = _roots(name, packages)
        separate = {SEPARATE_LAYERS.get(root) for root in roots}
        # A package needed by a separate layer's root *and* by anything else belongs in deps.
        layer = separate.pop() if len(separate) == 1 and None not in separate else DEPS_LAYER
        layers[layer or DEPS_LAYER].append(f"{name}=={package.version}")
    return layers


def layer_python_dir(layer: str, build_dir: Path = LAYERS_BUILD_DIR) -> Path:
    """The `python/` folder of a built layer (what Lambda mounts under /opt/python)."""
    return build_dir / layer / "python"


def _stamp(requirements: list[str]) -> dict[str, object]:
    return {
        "requirements": requirements,
        "python_version": LAMBDA_PYTHON_VERSION,
        "platform": LAMBDA_PLATFORM,
        "builder": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }


def is_up_to_date(layer: str, requirements: list[str], build_dir: Path = LAYERS_BUILD_DIR) -> bool:
    stamp_file = build_dir / layer / STAMP_NAME
    if not stamp_file.is_file() or not layer_python_dir(layer, build_dir).is_dir():
        return False
    return bool(json.loads(stamp_file.read_text()) == _stamp(requirements))


def _pip_install(requirements: list[str], target: Path) -> None:
    requirements_file = target.parent / "requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--platform",
        LAMBDA_PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--implementation",
        "cp",
        # The lock is the complete closure; resolving again could pull in boto3 & co.
        "--no-deps",
        # Byte code compiled by the build machine's Python is useless on Lambda's Python.
        "--no-compile",
        "--target",
        str(target),
        "-r",
        str(requirements_file),
    ]
    subprocess.run(command, check=True)  # noqa: S603  (fixed argv: this Python's pip, lock pins)
    # Console scripts are not importable and only make the layer bigger.
    shutil.rmtree(target / "bin", ignore_errors=True)


def build_layer(
    layer: str, requirements: list[str], *, build_dir: Path = LAYERS_BUILD_DIR, force: bool = False
) -> bool:
    """Builds one layer unless up to date. Returns True when it built."""
    if not force and is_up_to_date(layer, requirements, build_dir):
        return False
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{layer}-", dir=build_dir))
    try:
        if requirements:
            _pip_install(requirements, staging / "python")
        else:
            (staging / "python").mkdir()
        (staging / "requirements.txt").unlink(missing_ok=True)
        (staging / STAMP_NAME).write_text(json.dumps(_stamp(requirements), indent=2) + "\n")
        final = build_dir / layer
        retired = build_dir / f".{layer}-retired-{os.getpid()}"
        if final.exists():
            final.rename(retired)
        staging.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def ensure_layers(
    *, lock_file: Path = LOCK_FILE, build_dir: Path = LAYERS_BUILD_DIR, force: bool = False
) -> dict[str, Path]:
    """Builds every layer that is missing or stale; returns layer name -> `python/` folder."""
    layers = split_into_layers(parse_lock(lock_file.read_text()))
    for layer, requirements in layers.items():
        build_layer(layer, requirements, build_dir=build_dir, force=force)
    return {layer: layer_python_dir(layer, build_dir) for layer in layers}
