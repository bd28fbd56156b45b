"""The README's examples run as written against the local backend, so they cannot go stale.

Every fenced block whose info string is `bash example` runs, in order, in ONE bash process (variables
set by a block are used by the next), with `API` and `ADMIN_TOKEN` set as the README tells the reader
to set them, and `set -euo pipefail`: a failing command (the examples use `curl --fail-with-body`)
fails the test, naming the block."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ADMIN_TOKEN, ROOT, RunningBackend

README = ROOT / "README.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = "::readme-block::"
# The routes a storefront POSTs to and the common admin ones: each has a runnable body example.
DOCUMENTED_POSTS = (
    "/checkouts",
    "/admin/products",
    "/admin/stock/$SKU/movements",
    "/admin/promotions",
    "/admin/orders/$ORDER_ID/fulfillments",
    "/admin/orders/$ORDER_ID/returns",
    "/admin/orders/$ORDER_ID/refunds",
)


def example_blocks(text: str) -> list[str]:
    return [body for info, body in FENCE.findall(text) if info.split() == ["bash", "example"]]


def test_the_readme_has_a_runnable_example_of_every_common_post() -> None:
    blocks = example_blocks(README.read_text())
    assert len(blocks) >= 5
    joined = "\n".join(blocks)
    assert [path for path in DOCUMENTED_POSTS if f'"$API{path}"' not in joined] == []


def test_the_readme_examples_run_against_the_local_backend(backend: RunningBackend, tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.fail("the README's examples use jq: `make test` installs it (Debian's jq package)")
    # Given the README's example blocks, one after the other in one shell
    blocks = example_blocks(README.read_text())
    script = "set -euo pipefail\n" + "".join(
        f"echo '{MARKER}{index}' >&2\n{body}\n" for index, body in enumerate(blocks)
    )
    (tmp_path / "readme.sh").write_text(script)
    # When they run with the values the README says to set
    done = subprocess.run(
        ["bash", str(tmp_path / "readme.sh")],
        env={**os.environ, "API": backend.base_url, "ADMIN_TOKEN": ADMIN_TOKEN},
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    # Then every block succeeds
    reached = re.findall(rf"{MARKER}(\d+)", done.stderr)
    failed_block = blocks[int(reached[-1])] if reached else ""
    assert done.returncode == 0, (
        f"README example block failed (exit {done.returncode}):\n{failed_block}\n"
        f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
    )
    # and the walk-through ended where the README says: an order, shipped, partly returned and
    # refunded (the return's refund and the 200 goodwill refund on the order's one ledger)
    print(done.stdout)
    assert re.search(r"^order \S+$", done.stdout, re.MULTILINE), done.stdout
    assert '"status": "shipped"' in done.stdout, done.stdout
    [returned] = re.findall(r'"refund_amount": (\d+)', done.stdout)
    assert f'"refunded_amount": {int(returned) + 200}' in done.stdout, done.stdout
    assert "we do not ship to 'US'" in done.stdout, done.stdout
