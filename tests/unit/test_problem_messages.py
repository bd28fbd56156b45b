"""Error messages a client can act on: "send JSON" for a form post, where the JSON breaks, which
variant repeats a SKU, where the shop ships, and what a field must look like in words."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from cloudtill.api import create_app, handle
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.api import CheckoutIn
from cloudtill.checkout.pricing import shipping_options
from cloudtill.clock import TIMESTAMP_PATTERN
from cloudtill.errors import DuplicateSku, ValidationFailed
from cloudtill.problems import PATTERN_WORDS
from cloudtill.settings import ShopSettings

from tests.fakes import FixedClock, InMemoryProductRepository
from tests.unit.openapi_documents import API_FUNCTIONS, openapi_document, patterns


@pytest.fixture(scope="module")
def app() -> APIGatewayRestResolver:
    resolver = create_app(cors_origins=[])

    @resolver.post("/checkouts")
    def create(body: Annotated[CheckoutIn, Body()]) -> dict[str, Any]:
        return {"email": body.email}

    return resolver


def post(app: APIGatewayRestResolver, body: str, content_type: str | None) -> tuple[int, dict[str, Any]]:
    event = {
        "path": "/checkouts",
        "resource": "/checkouts",
        "httpMethod": "POST",
        "headers": {"Content-Type": content_type} if content_type else {},
        "body": body,
        "requestContext": {},
    }
    response = handle(app, event, None, 64_000)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain;charset=UTF-8"],
)
def test_a_body_that_is_not_json_is_told_to_send_json(app: APIGatewayRestResolver, content_type: str) -> None:
    # Given a form post (what `curl -d` or an HTML form sends)
    status, problem = post(app, "email=ann%40example.com&country=IE", content_type)
    # Then 415, a problem naming the body, saying to send JSON
    assert status == 415
    assert problem["errors"][0]["field"] == "body"
    assert "send JSON" in problem["errors"][0]["message"]
    assert "Content-Type: application/json" in problem["detail"]


def test_invalid_json_gives_line_column_and_position(app: APIGatewayRestResolver) -> None:
    # Given a body broken on its second line (a trailing comma before `}`)
    body = '{"email": "ann@example.com",\n  "country": "IE",}'
    status, problem = post(app, body, "application/json")
    # Then 400 saying where: line 2, column 19, character 47
    assert status == 400
    assert (problem["line"], problem["column"], problem["position"]) == (2, 19, 47)
    assert body[problem["position"]] == "}"
    assert "line 2, column 19" in problem["detail"]
    assert problem["errors"] == [
        {
            "field": "body",
            "message": "invalid JSON at line 2, column 19: Expecting property name enclosed in double quotes",
        }
    ]


def test_a_pattern_failure_is_explained_in_words(app: APIGatewayRestResolver) -> None:
    # Given a country that is not a two-letter code and a phone number with letters
    body = {
        "email": "ann@example.com",
        "lines": [{"sku": "A", "quantity": 1}],
        "shipping_address": {
            "name": "Ann",
            "line1": "1 Main St",
            "city": "Dublin",
            "postal_code": "D01",
            "country": "IRL",
        },
        "phone": "call me",
    }
    status, problem = post(app, json.dumps(body), "application/json")
    # Then each is named with what it must be, in words, and no regular expression is shown
    assert status == 422, problem
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert messages["shipping_address.country"] == "must be a two-letter ISO 3166-1 country code, such as IE"
    assert messages["phone"].startswith("must be 5 to 32 digits")
    assert "^" not in problem["detail"] and "[" not in problem["detail"].replace("lines[", "")


def test_every_pattern_a_client_can_fail_has_words() -> None:
    # Given every pattern in the request side of every function's OpenAPI document
    found: set[str] = set()
    for function in API_FUNCTIONS:
        document = openapi_document(function)
        found |= patterns(document.get("paths", {}))
        found |= patterns(document.get("components", {}).get("schemas", {}))
    found.discard(TIMESTAMP_PATTERN)  # answers only
    # Then each has its wording
    assert found, "no patterns found: the walk is broken"
    assert sorted(found - PATTERN_WORDS.keys()) == []


def test_a_repeated_sku_names_the_variant_that_repeats_it() -> None:
    service = CatalogService(InMemoryProductRepository(), FixedClock(), "EUR")
    body = ProductIn(
        name="Mug",
        category="mugs",
        variants=[{"sku": s, "name": s, "price": 1000} for s in ("A", "B", "C", "B")],  # type: ignore[misc]
    )
    with pytest.raises(DuplicateSku) as refused:
        service.create_product(body)
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("variants[3].sku", "B is already variants[1].sku")
    ]
    assert refused.value.detail.startswith("variants[3].sku: B is already variants[1].sku")


def test_a_sku_of_another_product_names_its_variant() -> None:
    service = CatalogService(InMemoryProductRepository(), FixedClock(), "EUR")
    service.create_product(
        ProductIn(name="Cup", category="mugs", variants=[{"sku": "X", "name": "X", "price": 1}])
    )  # type: ignore[list-item]
    body = ProductIn(
        name="Mug",
        category="mugs",
        variants=[{"sku": s, "name": s, "price": 1000} for s in ("A", "X")],  # type: ignore[misc]
    )
    with pytest.raises(DuplicateSku) as refused:
        service.create_product(body)
    assert [e.field for e in refused.value.errors] == ["variants[1].sku"]


def test_a_country_we_do_not_ship_to_lists_where_we_ship() -> None:
    with pytest.raises(ValidationFailed) as refused:
        shipping_options(ShopSettings(), "US")
    message = "we do not ship to 'US'; we ship to DE, FR, GB, IE, NL"
    assert [(e.field, e.message) for e in refused.value.errors] == [("country", message)]
    assert refused.value.extra["ships_to"] == ["DE", "FR", "GB", "IE", "NL"]
    assert message in refused.value.detail
