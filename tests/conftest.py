"""Every suite: when `TEST_PROGRESS_DIR` is set (`make test` sets it), the session keeps a small status
file there (`<suite>.json`: tests collected, done, failed, the one running), which
scripts/test_progress.py prints every 30 s while the suites run side by side with their own output held
back until each is done."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

_state: dict[str, Any] = {}


def suite_label(args: list[str]) -> str:
    """`tests/unit tests/infra` -> `unit+infra`."""
    names = [Path(a.split("::")[0]).name or a for a in args if not a.startswith("-")]
    return "+".join(dict.fromkeys(names)) or "tests"


def _write() -> None:
    folder = os.environ.get("TEST_PROGRESS_DIR")
    if not folder or not _state:
        return
    path = Path(folder) / f"{_state['suite']}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(_state))
    partial.replace(path)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("TEST_PROGRESS_DIR"):
        Path(os.environ["TEST_PROGRESS_DIR"]).mkdir(parents=True, exist_ok=True)
        _state.update(
            suite=suite_label(list(session.config.args)),
            started=time.time(),
            total=None,
            done=0,
            failed=0,
            running=None,
            running_since=None,
            finished=False,
            exitstatus=None,
        )
        _write()


def pytest_collection_finish(session: pytest.Session) -> None:
    if _state:
        _state["total"] = len(session.items)
        _write()


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _state:
        _state.update(running=nodeid, running_since=time.time())
        _write()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _state and report.failed:
        _state["failed"] += 1 if report.when == "call" or report.when == "setup" else 0


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _state:
        _state.update(done=_state["done"] + 1, running=None, running_since=None)
        _write()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _state:
        _state.update(finished=True, exitstatus=int(exitstatus), running=None, ended=time.time())
        _write()
