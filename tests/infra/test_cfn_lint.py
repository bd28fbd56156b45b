"""cfn-lint finds no errors in any synthesized template (W3005 warnings are CDK's and ignored)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import REGIONS, Synthesis


def test_cfn_lint_reports_no_errors(synthesis: Synthesis) -> None:
    paths = [str(synthesis.template_path(region)) for region in REGIONS]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--non-zero-exit-code",
            "error",
            "--format",
            "parseable",
            *paths,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
