"""Integration suite: the whole local backend (`python -m localrt`, what `make run` starts) in a
subprocess on free loopback ports, driven over real HTTP. Its log is kept for the log-hygiene checks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "integration-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningBackend:
    base_url: str
    aws_endpoint: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def start_backend(
    workdir: Path, env_overrides: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()
) -> Iterator[RunningBackend]:
    """Start `python -m localrt` on free ports (log in `workdir`), wait until it serves, stop it after."""
    port, aws_port = free_port(), free_port()
    log_path = workdir / "backend.log"
    env = {
        **os.environ,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "PYTHONPATH": f"{ROOT / 'layers/cloudtill/python'}{os.pathsep}{ROOT}",
        "CHECKOUT_TTL_SECONDS": os.environ.get("CHECKOUT_TTL_SECONDS", "900"),
        **(env_overrides or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localrt",
                "--port",
                str(port),
                "--aws-port",
                str(aws_port),
                "--max-instances",
                "4",
                *extra_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningBackend(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{aws_port}", log_path, process)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"local backend exited:\n{running.log_text()[-4000:]}")
            if "Press Ctrl-C to stop." in running.log_text():
                break
            if time.monotonic() > deadline:
                pytest.fail(f"local backend did not start:\n{running.log_text()[-4000:]}")
            time.sleep(0.2)
        yield running
        # Every DynamoDB call the functions made is one their deployed role allows (localrt/table_access.py)
        counted = httpx.get(f"{running.base_url}/_local/aws-calls", timeout=30).json()
        if counted["table_access_violations"]:
            pytest.fail(
                "DynamoDB calls no table_access grant in infra/wiring.py allows (AccessDenied in AWS):\n"
                + "\n".join(str(v) for v in counted["table_access_violations"])
            )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    with start_backend(tmp_path_factory.mktemp("localrt")) as running:
        yield running


@pytest.fixture(scope="session")
def api(backend: RunningBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def admin(backend: RunningBackend) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=backend.base_url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        yield client


@pytest.fixture
def unique() -> str:
    """A short unique token for SKUs and categories, so tests never see each other's data."""
    return f"{time.time_ns() % 10**12:x}"
