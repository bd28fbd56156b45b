"""Writes each function's unzipped deployment size (code + its layers) into docs/infrastructure.md.

Usage: .venv/bin/python scripts/asset_sizes.py   (builds the dependency layers first if needed)

Lambda's limit is 250 MB unzipped for a function and all its layers together; the table also
shows how much each function pays in cold-start weight for Stripe.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.function_factory import FUNCTIONS_DIR  # noqa: E402
from infra.layer_build import SHARED_LAYER, STAMP_NAME, ensure_function_code, ensure_layers  # noqa: E402
from infra.wiring import FUNCTIONS  # noqa: E402

DOC = REPO_ROOT / "docs" / "infrastructure.md"
START, END = "<!-- asset-sizes:start -->", "<!-- asset-sizes:end -->"
LAMBDA_UNZIPPED_LIMIT_MB = 250


def tree_size(root: Path) -> int:
    """Bytes of the files an asset holds: the built folder, byte code included."""
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and f.name != STAMP_NAME)


def size_table() -> str:
    layers = ensure_layers()
    code_dirs = ensure_function_code(FUNCTIONS_DIR)
    shared, deps, stripe = (
        tree_size(layers[SHARED_LAYER]),
        tree_size(layers["deps"]),
        tree_size(layers["stripe"]),
    )
    rows = [
        "| function | code | + shared layer | + deps layer | + stripe layer | total (MB) | of 250 MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for spec in FUNCTIONS:
        code = tree_size(code_dirs[spec.code_folder])
        stripe_size = stripe if "stripe" in spec.secrets else 0
        total = code + shared + deps + stripe_size
        share_of_limit = 100 * total / 1e6 / LAMBDA_UNZIPPED_LIMIT_MB
        rows.append(
            f"| {spec.name} | {code / 1e3:.1f} kB | {shared / 1e3:.0f} kB | {deps / 1e6:.1f} MB | "
            f"{stripe_size / 1e6:.1f} MB | {total / 1e6:.1f} | {share_of_limit:.0f} % |"
        )
    return "\n".join(rows)


def main() -> int:
    text = DOC.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the {START} ... {END} markers")
    table = size_table()
    DOC.write_text(
        re.sub(f"{re.escape(START)}.*?{re.escape(END)}", f"{START}\n{table}\n{END}", text, flags=re.S)
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
