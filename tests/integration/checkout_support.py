"""Small helpers shared by the checkout integration tests (products, bodies, problems, outbox)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from jsonschema import Draft202012Validator

from tests.integration.stock_helpers import TABLE, dynamodb

if TYPE_CHECKING:
    from tests.integration.conftest import RunningBackend

PROBLEM = "application/problem+json"
EVENTS = Path(__file__).resolve().parents[2] / "events"


def make_skus(
    admin: httpx.Client, unique: str, names: tuple[str, ...] = ("A",), price: int = 1250
) -> list[str]:
    """A new product with one variant per name; returns its SKU codes."""
    body = {
        "name": f"Checkout test {unique}",
        "category": f"co-{unique}",
        "variants": [{"sku": f"CO-{unique}-{n}", "name": n, "price": price} for n in names],
    }
    response = admin.post("/admin/products", json=body)
    assert response.status_code == 201, response.text
    return [v["sku"] for v in response.json()["variants"]]


def checkout_body(*lines: tuple[str, int], **overrides: Any) -> dict[str, Any]:
    return {
        "email": "shopper@example.com",
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "shipping_address": {
            "name": "Sam Shopper",
            "line1": "1 Quay Street",
            "city": "Galway",
            "postal_code": "H91 AB12",
            "country": "IE",
        },
        **overrides,
    }


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


def assert_totals_add_up(checkout: dict[str, Any]) -> None:
    assert (
        checkout["subtotal"] - checkout["discount"] + checkout["shipping"] + checkout["tax"]
        == checkout["total"]
    ), checkout


def outbox_events(backend: RunningBackend, checkout_id: str) -> list[dict[str, Any]]:
    """Outbox envelopes written for a checkout (read straight from the emulated table)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    client = dynamodb(backend.aws_endpoint)
    scan: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "entity = :outbox AND detail.checkout_id = :id",
        "ExpressionAttributeValues": {":outbox": {"S": "outbox"}, ":id": {"S": checkout_id}},
    }
    events = []
    while True:
        page = client.scan(**scan)
        events += [{k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return events
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def assert_event_matches_schema(envelope: dict[str, Any]) -> None:
    schema = json.loads((EVENTS / "schemas" / f"{envelope['detail_type']}.json").read_text())
    detail = json.loads(json.dumps(envelope["detail"], default=int))  # Decimal -> int
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(detail)
    assert envelope["source"] == "cloudtill.checkout"
    assert detail["event_id"] == envelope["id"]
