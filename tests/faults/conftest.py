"""The fault suite's backend: ONE local runtime for every run (fresh SKUs and shopper per run), whose
checkouts expire after FAULTS_TTL_SECONDS so expiry and late payment fit in a run; and the matrix of
points x faults printed at the end of the session (and written to artifacts/faults-matrix.md)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.faults.matrix import MATRIX, TTL_SECONDS
from tests.faults.scenarios import Flow
from tests.integration.conftest import ADMIN_TOKEN, ROOT, RunningBackend, start_backend


@pytest.fixture(scope="session")
def fault_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    with start_backend(
        tmp_path_factory.mktemp("localrt-faults"),
        {"CHECKOUT_TTL_SECONDS": str(TTL_SECONDS)},
        extra_args=("--no-seed",),
    ) as running:
        yield running


@pytest.fixture(scope="session")
def flow(fault_backend: RunningBackend) -> Iterator[Flow]:
    with (
        httpx.Client(base_url=fault_backend.base_url, timeout=60) as api,
        httpx.Client(
            base_url=fault_backend.base_url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin,
    ):
        yield Flow(fault_backend, api, admin, TTL_SECONDS)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not MATRIX.runs:
        return
    text = MATRIX.markdown()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "faults-matrix.md").write_text(text)
    terminalreporter.write_sep("=", "fault injection: points x faults")
    terminalreporter.write_line(text)
