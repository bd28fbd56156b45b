"""After a SnapStart restore nothing of the snapshot's environment is reused: the hook registers
with the runtime's `snapshot_restore_py` and drops cached clients, sessions and secrets."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable

import boto3
import pytest


def test_the_hook_registers_under_snap_start_and_drops_cached_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the runtime's SnapStart module (present only on a SnapStart function)
    registered: list[Callable[[], None]] = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delitem(sys.modules, "cloudtill.snapstart", raising=False)
    snapstart = importlib.import_module("cloudtill.snapstart")
    from cloudtill import ddb

    assert registered == [snapstart.forget_snapshot_state]
    # And a client and a session created before the snapshot
    before = ddb.client()
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    from aws_lambda_powertools.utilities import parameters

    cleared: list[bool] = []
    monkeypatch.setattr(parameters, "clear_caches", lambda: cleared.append(True))
    # When the runtime restores the snapshot
    registered[0]()
    # Then the next use creates a new client in a new session, and secrets are read again
    assert boto3.DEFAULT_SESSION is not session
    assert ddb.client() is not before
    assert cleared == [True]


def test_without_snap_start_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside SnapStart
    monkeypatch.delitem(sys.modules, "cloudtill.snapstart", raising=False)
    snapstart = importlib.import_module("cloudtill.snapstart")
    assert snapstart.register_after_restore is None
