"""checkov, the IaC security scanner, on every synthesized stack: no failed check, and every skip is
one of the short list in infra/acknowledgements.py, on its resource, with a reason.

checkov lives in its own virtualenv (`.venv-checkov`, made by `make install` from
requirements-checkov.lock): its pins conflict with the project's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.acknowledgements import CHECKOV_SKIPS
from tests.infra.conftest import REGIONS, Synthesis

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def _scan(template: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make install` creates it from requirements-checkov.lock")
    completed = subprocess.run(
        [
            str(CHECKOV),
            "-f",
            str(template),
            "--framework",
            "cloudformation",
            "-o",
            "json",
            # Offline: no guideline or policy download from Prisma Cloud.
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # 0: all passed, 1: some failed; anything else is checkov itself failing.
    assert completed.returncode in (0, 1), completed.stderr[-4000:]
    report = json.loads(completed.stdout)
    # One report per framework; a single framework may still come as a one-element list.
    reports = report if isinstance(report, list) else [report]
    (cloudformation,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    return dict(cloudformation)


@pytest.fixture(scope="module")
def reports(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return {region: _scan(synthesis.template_path(region)) for region in REGIONS}


@pytest.mark.parametrize("region", REGIONS)
def test_checkov_finds_no_unacknowledged_failure(reports: dict[str, dict[str, Any]], region: str) -> None:
    report = reports[region]
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0
    failures = sorted(
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    )
    assert not failures, "checkov failed checks (fix them, or skip_checkov with a reason):\n" + "\n".join(
        failures
    )


@pytest.mark.parametrize("region", REGIONS)
def test_checkov_skips_are_the_listed_ones_with_reasons(
    reports: dict[str, dict[str, Any]], region: str
) -> None:
    skipped = reports[region]["results"]["skipped_checks"]
    for check in skipped:
        assert check["check_id"] in CHECKOV_SKIPS, check["check_id"]
        assert len(check["check_result"].get("suppress_comment", "")) >= 20, check
    # No stale entry in the list: each listed id is skipped somewhere
    assert {check["check_id"] for check in skipped} == set(CHECKOV_SKIPS)
