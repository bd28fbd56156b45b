"""Builds the Lambda layers and function code with byte code into build/ (skipped when up to date).

Usage: .venv/bin/python scripts/build_layers.py [--force]

Layers go to build/layers/<layer>/python, function folders to build/functions/<name>-<hash>. The
CDK app calls the same code on demand (infra.layer_build.ensure_layers, ensure_function_code), so
`cdk synth` also works on a fresh clone; this script exists so `make synth` shows the (slow) build
step on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.layer_build import FUNCTIONS_DIR, LAYERS_BUILD_DIR, ensure_function_code, ensure_layers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args()
    layers = ensure_layers(force=args.force)
    for layer, python_dir in layers.items():
        size = sum(f.stat().st_size for f in python_dir.rglob("*") if f.is_file())
        print(
            f"layer {layer}: {python_dir.relative_to(LAYERS_BUILD_DIR.parent.parent)} ({size / 1e6:.1f} MB)"
        )
    for name, code_dir in ensure_function_code(FUNCTIONS_DIR, force=args.force).items():
        print(f"function {name}: {code_dir.relative_to(LAYERS_BUILD_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
