"""Local state kept in a folder (`make run`: `.local/`, git-ignored) so a restart finds what it left.

What is kept, taken together when the backend stops (Ctrl-C), so the pieces agree with each other:
- `moto.pickle`: moto's DynamoDB tables (with their streams), SQS queues and their messages, S3 objects
  (the reports) and SES (sent e-mails, verified identities);
- `stripe.pickle`: the Stripe sandbox's store (localstripe writes it when it stops);
- `state.json`: how far each stream consumer got (records it had not handled are delivered after the
  restart, handled ones are not replayed), and the workflow executions still running at the stop;
- `admin-token`: the local admin token, reused at every start.

The bus, rules, state machines and schedules are configuration: they are created from the wiring at
every start. An execution that was running at the stop is started again under its name with its input:
the order lifecycle re-reads the checkout and order at each wait, so it continues where the data is.
A backend that is killed (not stopped) restarts from the last clean stop.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID

from localrt.emulator import REGION, dynamodb_lock

# The moto services whose data is kept (the others are configuration, created at each start).
KEPT_SERVICES = {"dynamodb": REGION, "sqs": REGION, "s3": "aws", "ses": REGION}
FORMAT = 1


def new_admin_token() -> str:
    """A random token that never starts with `-` (it would read as an option on a command line)."""
    return "local_" + secrets.token_urlsafe(24)


class _Pickler(pickle.Pickler):
    """moto's SQS queues hold locks; a restored queue gets new ones."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if type(obj) is type(threading.RLock()):
            return threading.RLock, ()
        if type(obj) is type(threading.Lock()):
            return threading.Lock, ()
        return NotImplemented


@dataclass
class SavedState:
    stream_positions: dict[str, int] = field(default_factory=dict)
    executions: list[dict[str, str]] = field(default_factory=list)


class LocalState:
    def __init__(self, folder: Path, fresh: bool = False) -> None:
        self.folder = folder
        if fresh and folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._moto = folder / "moto.pickle"
        self._state = folder / "state.json"
        self.stripe_file = folder / "stripe.pickle"
        self._token = folder / "admin-token"

    @property
    def has_data(self) -> bool:
        return self._moto.exists() and self._state.exists()

    def admin_token(self) -> str:
        if self._token.exists():
            token = self._token.read_text().strip()
            if token and not token.startswith("-"):
                return token
        token = new_admin_token()
        self._token.write_text(token + "\n")
        self._token.chmod(0o600)
        return token

    def _versions(self) -> dict[str, str]:
        return {"format": str(FORMAT), "moto": version("moto"), "localstripe": version("localstripe")}

    def load(self) -> SavedState | None:
        """Put the kept moto data back (call right after moto started). None: nothing (usable) kept."""
        if not self.has_data:
            # A Stripe store without the AWS side (a killed run) would not match: drop it too.
            self.stripe_file.unlink(missing_ok=True)
            return None
        meta = json.loads(self._state.read_text())
        if meta.get("versions") != self._versions():
            print(
                f"local state in {self.folder} was written by other versions "
                f"({meta.get('versions')}); starting empty",
                flush=True,
            )
            self.stripe_file.unlink(missing_ok=True)
            return None
        kept: dict[str, dict[str, Any]] = pickle.loads(self._moto.read_bytes())  # noqa: S301 - our own file
        with dynamodb_lock:
            for service, state in kept.items():
                backend = get_backend(service)[DEFAULT_ACCOUNT_ID][KEPT_SERVICES[service]]  # type: ignore[call-overload]
                backend.__dict__.clear()
                backend.__dict__.update(state)
        return SavedState(
            stream_positions={k: int(v) for k, v in meta.get("stream_positions", {}).items()},
            executions=list(meta.get("executions", [])),
        )

    def save(self, saved: SavedState) -> None:
        """Write moto's kept data and `saved` (call with nothing writing: gateway and pollers stopped)."""
        buffer = io.BytesIO()
        with dynamodb_lock:
            kept = {
                service: get_backend(service)[DEFAULT_ACCOUNT_ID][region].__dict__  # type: ignore[call-overload]
                for service, region in KEPT_SERVICES.items()
            }
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(kept)
        meta = {
            "versions": self._versions(),
            "stream_positions": saved.stream_positions,
            "executions": saved.executions,
        }
        _write(self._moto, buffer.getvalue())
        _write(self._state, json.dumps(meta, indent=1).encode())


def _write(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def trim_streams(table_names: list[str], positions: dict[str, int]) -> None:
    """Drop the stream records every consumer handled before the stop (they are not delivered again);
    sequence numbers keep counting from where they were."""
    backend = get_backend("dynamodb")[DEFAULT_ACCOUNT_ID][REGION]
    with dynamodb_lock:
        for name in table_names:
            table = backend.tables.get(name)
            shard = getattr(table, "stream_shard", None)
            handled = positions.get(name)
            if shard is None or handled is None:
                continue
            count = max(0, min(len(shard.items), handled - shard.starting_sequence_number + 1))
            del shard.items[:count]
            shard.starting_sequence_number += count
