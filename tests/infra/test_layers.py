"""The dependency layers: boto3 left to the runtime, Stripe on its own layer, builds cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import layer_build
from infra.layer_build import LOCK_FILE, ensure_layers, parse_lock, split_into_layers


def _names(requirements: list[str]) -> set[str]:
    return {requirement.split("==")[0] for requirement in requirements}


def test_lock_splits_into_deps_and_stripe_layers_without_runtime_packages() -> None:
    layers = split_into_layers(parse_lock(LOCK_FILE.read_text()))
    deps, stripe = _names(layers["deps"]), _names(layers["stripe"])
    assert {
        "aws-lambda-powertools",
        "pydantic",
        "pydantic-core",
        "pydantic-settings",
        "email-validator",
    } <= deps
    # Only Stripe needs requests & co.; idna is shared with email-validator, so it stays in deps.
    assert {"stripe", "requests", "urllib3", "certifi", "charset-normalizer"} == stripe
    assert "idna" in deps
    assert not (deps | stripe) & {"boto3", "botocore", "s3transfer", "jmespath"}


def test_split_follows_the_lock_not_a_hard_coded_list() -> None:
    lock = (
        "stripe==1.0\n    # via cloudtill (pyproject.toml)\n"
        "requests==2.0\n    # via stripe\n"
        "pydantic==2.0\n    # via cloudtill (pyproject.toml)\n"
        "typing-extensions==4.0\n    # via\n    #   pydantic\n    #   stripe\n"
        "boto3==1.0\n    # via cloudtill (pyproject.toml)\n"
    )
    layers = split_into_layers(parse_lock(lock))
    assert layers == {
        "deps": ["pydantic==2.0", "typing-extensions==4.0"],
        "stripe": ["requests==2.0", "stripe==1.0"],
    }


def test_built_layers_hold_aarch64_wheels_for_the_lambda_python(layer_dirs: dict[str, Path]) -> None:
    tag = f"cpython-{layer_build.LAMBDA_PYTHON_VERSION.replace('.', '')}-aarch64"
    core = list(layer_dirs["deps"].glob("pydantic_core/_pydantic_core.*.so"))
    assert core and tag in core[0].name
    assert (layer_dirs["stripe"] / "stripe").is_dir()
    assert not (layer_dirs["deps"] / "stripe").exists()
    assert not (layer_dirs["deps"] / "boto3").exists()
    # Byte code only from the runtime's CPython (tests/infra/test_bytecode.py checks every .pyc).
    tag = f"cpython-{layer_build.LAMBDA_PYTHON_VERSION.replace('.', '')}"
    assert {p.name.split(".")[-2] for p in layer_dirs["deps"].rglob("*.pyc")} == {tag}


@pytest.mark.timeout(120)
def test_a_fresh_build_dir_is_built_then_reused(tmp_path: Path) -> None:
    # Given a lock with one small wheel and an empty build folder
    lock = tmp_path / "requirements.lock"
    lock.write_text("annotated-types==0.8.0\n    # via cloudtill (pyproject.toml)\n")
    build_dir = tmp_path / "layers"
    shared = tmp_path / "shared"
    (shared / "cloudtill").mkdir(parents=True)
    (shared / "cloudtill" / "__init__.py").write_text("")
    # When the layers are ensured, then the package is installed into deps/python
    dirs = ensure_layers(lock_file=lock, build_dir=build_dir, shared_source=shared)
    assert (dirs["deps"] / "annotated_types").is_dir()
    assert (dirs["cloudtill"] / "cloudtill" / "__pycache__").is_dir()
    # And a second run with nothing changed does not build again
    stamp = build_dir / "deps" / layer_build.STAMP_NAME
    before = stamp.stat().st_mtime_ns
    assert layer_build.build_layer("deps", ["annotated-types==0.8.0"], build_dir=build_dir) is False
    ensure_layers(lock_file=lock, build_dir=build_dir, shared_source=shared)
    assert stamp.stat().st_mtime_ns == before
