"""Each API function's generated OpenAPI document, made in a fresh interpreter as Lambda starts one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
API_FUNCTIONS = ("catalog", "checkout", "orders", "privacy", "reporting", "stock", "payments")


def openapi_document(function: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions" / function), str(ROOT / "layers/cloudtill/python")]
        ),
        "TABLE_NAME": "t",
        "REPORTS_BUCKET": "b",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_METRICS_NAMESPACE": "cloudtill",
    }
    probe = "import handler; print(handler.app.get_openapi_json_schema())"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    return dict(json.loads(out.stdout[out.stdout.index("{") :]))


def patterns(schema: Any) -> set[str]:
    """Every `pattern` in a schema, nested ones (`anyOf`, `items`, properties) included."""
    if isinstance(schema, dict):
        found = {schema["pattern"]} if isinstance(schema.get("pattern"), str) else set()
        return found.union(*(patterns(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(patterns(value) for value in schema))
    return set()
