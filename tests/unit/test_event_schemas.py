"""Every event sample validates against its schema, and every schema has a sample (events/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

EVENTS = Path(__file__).resolve().parents[2] / "events"
SCHEMAS = sorted((EVENTS / "schemas").glob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def detail_validator(detail_type: str) -> Draft202012Validator:
    schema = load(EVENTS / "schemas" / f"{detail_type}.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=[p.stem for p in SCHEMAS])
def test_sample_envelope_matches_its_schema(schema_path: Path) -> None:
    sample_path = EVENTS / "samples" / schema_path.name
    assert sample_path.exists(), f"no sample for {schema_path.stem}"
    sample = load(sample_path)
    assert {"id", "detail_type", "source", "time", "detail"} <= sample.keys()
    assert sample["detail_type"] == schema_path.stem
    assert sample["detail"]["event_id"] == sample["id"]
    detail_validator(schema_path.stem).validate(sample["detail"])


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=[p.stem for p in SCHEMAS])
def test_schema_refuses_a_detail_missing_a_required_field(schema_path: Path) -> None:
    sample = load(EVENTS / "samples" / schema_path.name)
    validator = detail_validator(schema_path.stem)
    for field in validator.schema.get("required", []):
        broken = {k: v for k, v in sample["detail"].items() if k != field}
        assert not validator.is_valid(broken), field
