"""Byte code in the deployed artifacts: what CDK zips (the staged assets in cdk.out) holds a `.pyc`
for every module, compiled by the declared runtime's CPython, hash-based (a 1980 mtime in the zip
cannot invalidate it)."""

from __future__ import annotations

import py_compile
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import layer_build
from infra.function_factory import RUNTIME
from tests.infra.conftest import Synthesis

# pyc header flags: bit 0 = hash-based (0: timestamp-based), bit 1 = check the source hash at import.
HASH_BASED = 0b01


def shipped_assets(synthesis: Synthesis, template: dict[str, Any]) -> dict[str, Path]:
    """Logical id -> staged asset folder of every function and layer of a template."""
    assets = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            key = resource["Properties"]["Code"].get("S3Key")
        elif resource["Type"] == "AWS::Lambda::LayerVersion":
            key = resource["Properties"]["Content"]["S3Key"]
        else:
            continue
        if isinstance(key, str) and key.endswith(".zip"):  # custom-resource handlers are inline or CDK's
            assets[logical_id] = synthesis.outdir / f"asset.{key.removesuffix('.zip')}"
    return assets


def pyc_problems(root: Path, version: str) -> list[str]:
    """What is wrong with the byte code under `root` for CPython `version` (empty: nothing)."""
    tag = f"cpython-{version.replace('.', '')}"
    magic = layer_build.PYC_MAGIC[version]
    problems = []
    for source in root.rglob("*.py"):
        if "__pycache__" in source.parts:
            continue
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not pyc.is_file():
            problems.append(f"{source.relative_to(root)}: no {pyc.name}")
    for pyc in root.rglob("*.pyc"):
        found_magic, flags = layer_build.pyc_header(pyc)
        if f".{tag}." not in pyc.name or found_magic != magic:
            problems.append(f"{pyc.relative_to(root)}: magic {found_magic}, expected {magic} ({tag})")
        if not flags & HASH_BASED:
            problems.append(f"{pyc.relative_to(root)}: timestamp-based")
    return problems


def test_every_shipped_module_has_hash_based_byte_code_of_the_declared_runtime(synthesis: Synthesis) -> None:
    assert synthesis.error is None, synthesis.error
    version = layer_build.LAMBDA_PYTHON_VERSION
    for region, template in synthesis.templates.items():
        assets = shipped_assets(synthesis, template)
        assert len(assets) >= 4, f"{region}: expected function and layer assets, found {sorted(assets)}"
        for logical_id, folder in assets.items():
            assert folder.is_dir(), f"{region} {logical_id}: {folder} not staged"
            assert list(folder.rglob("*.py")), f"{region} {logical_id}: no Python in {folder}"
            problems = pyc_problems(folder, version)
            assert problems == [], f"{region} {logical_id}: {problems[:10]} ({len(problems)} in all)"


def test_declared_runtime_is_the_version_the_byte_code_was_compiled_by(synthesis: Synthesis) -> None:
    declared = f"python{layer_build.LAMBDA_PYTHON_VERSION}"
    assert declared == RUNTIME.name
    by_magic = {magic: version for version, magic in layer_build.PYC_MAGIC.items()}
    for template in synthesis.templates.values():
        assets = shipped_assets(synthesis, template)
        for logical_id, resource in template["Resources"].items():
            if logical_id not in assets:
                continue
            if resource["Type"] == "AWS::Lambda::Function":
                runtimes = [resource["Properties"]["Runtime"]]
            else:
                runtimes = resource["Properties"]["CompatibleRuntimes"]
            magics = {layer_build.pyc_header(p)[0] for p in assets[logical_id].rglob("*.pyc")}
            compiled_by = {f"python{by_magic.get(magic, '?')}" for magic in magics}
            assert compiled_by == {declared}, logical_id
            assert runtimes == [declared], logical_id


@pytest.mark.parametrize(
    ("mode", "ok"),
    [
        (py_compile.PycInvalidationMode.TIMESTAMP, False),
        (py_compile.PycInvalidationMode.CHECKED_HASH, True),
        (py_compile.PycInvalidationMode.UNCHECKED_HASH, True),
    ],
)
def test_the_check_rejects_timestamp_based_and_foreign_byte_code(
    tmp_path: Path, mode: py_compile.PycInvalidationMode, ok: bool
) -> None:
    # Given a module compiled by this (the build machine's) Python in `mode`
    (tmp_path / "mod.py").write_text("x = 1\n")
    py_compile.compile(str(tmp_path / "mod.py"), doraise=True, invalidation_mode=mode)
    native = f"{sys.version_info.major}.{sys.version_info.minor}"
    # Then it passes for this Python only if hash-based, and never for another version's runtime
    assert (pyc_problems(tmp_path, native) == []) is ok
    other = next(v for v in layer_build.PYC_MAGIC if v != native)
    assert pyc_problems(tmp_path, other) != []
