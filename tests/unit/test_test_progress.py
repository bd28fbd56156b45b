"""`make test` progress: a suite keeps its status file (tests/conftest.py), and scripts/test_progress.py
prints a line for it while it runs (the running test and how long it has run) and when it finishes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_long_test_shows_up_in_the_progress_lines_and_the_end_is_reported(tmp_path: Path) -> None:
    suite = tmp_path / "slowsuite"
    suite.mkdir()
    (suite / "test_slow.py").write_text(
        "import time\n\ndef test_quick():\n    pass\n\ndef test_slow():\n    time.sleep(3)\n"
    )
    progress = tmp_path / "progress"
    env = {**os.environ, "TEST_PROGRESS_DIR": str(progress), "PYTHONPATH": str(ROOT)}
    monitor = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts/test_progress.py"),
            str(progress),
            "--every",
            "1",
            "--suites",
            "slowsuite",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(suite),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    out, _ = monitor.communicate(timeout=30)
    assert monitor.returncode == 0
    lines = out.splitlines()
    assert lines[0].startswith("[progress] running side by side: slowsuite"), out
    assert any("slowsuite: 1/2 tests, running" in ln and "test_slow" in ln for ln in lines), out
    assert lines[-1].startswith("[progress ") and "slowsuite: finished, passed, 2/2 tests" in lines[-1], out
