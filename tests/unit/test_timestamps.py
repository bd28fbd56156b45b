"""One timestamp format in every answer and event: RFC 3339 in UTC with milliseconds
(`2026-12-04T10:15:22.693Z`, `cloudtill.clock.iso`).

The OpenAPI document of every function (generated from its response models, in a fresh interpreter
as Lambda starts one) declares every timestamp with that pattern, and every model field that is a
timestamp turns whatever form it holds into it."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from cloudtill.clock import TIMESTAMP_PATTERN, iso
from cloudtill.promotions.rules import PromotionIn
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.unit.openapi_documents import API_FUNCTIONS, ROOT, openapi_document, patterns

MODEL_MODULES = (
    "cloudtill.catalog.api",
    "cloudtill.checkout.api",
    "cloudtill.orders.api",
    "cloudtill.privacy.api",
    "cloudtill.stock.api",
    "cloudtill.promotions.rules",
)
ONE_FORMAT = re.compile(TIMESTAMP_PATTERN)
# The same instant written as clients, Stripe, Python's isoformat() and older items write it.
MOMENT = datetime(2026, 12, 4, 10, 15, 22, 721275, tzinfo=UTC)
SAMPLES: tuple[object, ...] = (
    MOMENT,
    MOMENT.astimezone(timezone(timedelta(hours=1))),
    MOMENT.isoformat(),  # 2026-12-04T10:15:22.721275+00:00
    iso(MOMENT),  # 2026-12-04T10:15:22.721Z
    "2026-12-04T11:15:22.721275+01:00",
)


def _is_timestamp_name(name: str) -> bool:
    return name == "at" or name.endswith("_at")


def _timestamp_properties(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
        for name, prop in schema.get("properties", {}).items():
            if _is_timestamp_name(name) or "date-time" in json.dumps(prop):
                yield schema_name, name, prop


def _response_schema_names(document: dict[str, Any]) -> set[str]:
    """Schemas reachable from any response of any operation."""
    schemas = document.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    todo = [
        response
        for operations in document.get("paths", {}).values()
        for operation in operations.values()
        for response in operation.get("responses", {}).values()
    ]
    while todo:
        text = json.dumps(todo.pop())
        for ref in re.findall(r'"#/components/schemas/([^"]+)"', text):
            if ref not in seen:
                seen.add(ref)
                todo.append(schemas.get(ref, {}))
    return seen


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_every_answered_timestamp_is_declared_in_the_one_format(function: str) -> None:
    # Given the function's generated OpenAPI document
    document = openapi_document(function)
    answered = _response_schema_names(document)
    # Then every timestamp of a schema in an answer declares the one pattern
    wrong = [
        f"{schema}.{name}: {json.dumps(prop)}"
        for schema, name, prop in _timestamp_properties(document)
        if schema in answered and TIMESTAMP_PATTERN not in patterns(prop)
    ]
    assert wrong == []


def _models() -> Iterator[type[BaseModel]]:
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module_name:
                yield value


TIMESTAMP_FIELDS = sorted(
    {
        (model.__module__, model.__name__, name)
        for model in _models()
        for name in model.model_fields
        if _is_timestamp_name(name)
    }
)


def test_the_models_have_timestamp_fields_to_check() -> None:
    # Guards the walk itself: an empty list would pass everything below.
    assert len(TIMESTAMP_FIELDS) >= 12
    assert ("cloudtill.orders.api", "TimelineOut", "at") in TIMESTAMP_FIELDS


@pytest.mark.parametrize(("module", "model", "name"), TIMESTAMP_FIELDS)
def test_every_model_timestamp_serializes_in_the_one_format(module: str, model: str, name: str) -> None:
    # Given one timestamp field of a model and the same instant written five ways
    field = getattr(importlib.import_module(module), model).model_fields[name]
    annotation: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    # When each is validated and serialized as JSON
    answers = {json.loads(adapter.dump_json(adapter.validate_python(sample))) for sample in SAMPLES}
    # Then all five come out as one string in the one format
    assert answers == {"2026-12-04T10:15:22.721Z"}
    assert all(ONE_FORMAT.fullmatch(answer) for answer in answers)


def test_event_samples_use_the_one_format() -> None:
    wrong = []
    for sample in sorted((ROOT / "events" / "samples").glob("*.json")):
        text = sample.read_text()
        for name, value in re.findall(r'"([a-z_]*_at|time)": "([^"]*)"', text):
            if not ONE_FORMAT.fullmatch(value):
                wrong.append(f"{sample.name} {name}={value}")
    assert wrong == []


def test_early_years_keep_four_digits_and_unrepresentable_moments_are_refused() -> None:
    # A year before 1000 still has four digits (the pattern, and string order, depend on it)
    assert iso(datetime(288, 7, 21, 9, 26, 35, tzinfo=UTC)) == "0288-07-21T09:26:35.000Z"
    # A moment a client sends that has no UTC form is a validation error, never a 500 when answered
    with pytest.raises(ValidationError, match="year 1 to 9999"):
        PromotionIn.model_validate(
            {"code": "EARLY", "kind": "percentage", "value": 10, "starts_at": "0001-01-01T00:00:00+10:00"}
        )
