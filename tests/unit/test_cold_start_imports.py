"""What a handler's cold start must not load: modules only a rare path needs are imported on that
path (see bench/cold_start.py for the cost). A fresh interpreter per handler, as Lambda starts one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Never needed at import by any of these handlers (settings are plain pydantic models read from the
# environment: pydantic_settings costs ~45 ms to import).
NEVER = {"stripe", "jinja2", "babel", "aws_xray_sdk", "pydantic_settings"}
NOT_AT_IMPORT = {
    # Only a create with an Idempotency-Key uses Powertools idempotency; only the create route
    # validates an e-mail address (email_validator).
    "checkout": NEVER | {"aws_lambda_powertools.utilities.idempotency", "email_validator"},
    "catalog": NEVER | {"aws_lambda_powertools.utilities.idempotency"},
    "stock": NEVER | {"aws_lambda_powertools.utilities.idempotency"},
    "privacy": NEVER | {"aws_lambda_powertools.utilities.idempotency"},
    "publisher": NEVER
    | {"aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.event_handler"},
    "orders": NEVER,
    "payments": NEVER,
    # Every notifications invocation renders an e-mail: its templates (Jinja2, Babel) load at import.
    "notifications": NEVER - {"jinja2", "babel"},
    "reporting": NEVER,
}


@pytest.mark.parametrize("function", sorted(NOT_AT_IMPORT))
def test_cold_start_does_not_load_what_only_rare_paths_need(function: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions" / function), str(ROOT / "layers/cloudtill/python")]
        ),
        "TABLE_NAME": "t",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_METRICS_NAMESPACE": "cloudtill",
        "REPORTS_BUCKET": "reports",
    }
    probe = "import json, sys, handler; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert sorted(NOT_AT_IMPORT[function] & loaded) == []
