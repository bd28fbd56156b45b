"""The HTTP problem mapping and the pre-routing refusals."""

from __future__ import annotations

import json

import pytest
from cloudtill import ddb
from cloudtill.api import caller_groups, handle
from cloudtill.errors import InvalidCursor
from cloudtill.problems import field_name


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("body", "lines", 0, "sku"), "lines[0].sku"),
        (("query", "limit"), "limit"),
        (("body",), "body"),
        (("path", "product_id"), "product_id"),
    ],
)
def test_field_names_are_those_the_client_sent(loc: tuple[object, ...], expected: str) -> None:
    assert field_name(loc) == expected


@pytest.mark.parametrize(
    ("claim", "groups"),
    [("admin", {"admin"}), ("[admin ops]", {"admin", "ops"}), ("ops,admin", {"ops", "admin"}), ("", set())],
)
def test_cognito_group_claim_shapes(claim: str, groups: set[str]) -> None:
    event = {"requestContext": {"authorizer": {"claims": {"cognito:groups": claim}}}}
    assert caller_groups(event) == groups


def test_oversized_body_is_refused_before_routing() -> None:
    # Given a body over the limit, When handled, Then 413 problem naming `body` (the app is never called)
    response = handle(
        app=None, event={"path": "/products", "body": "x" * 2048}, context=None, max_body_bytes=1024
    )  # type: ignore[arg-type]
    body = json.loads(response["body"])
    assert response["statusCode"] == 413
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert body["errors"] == [{"field": "body", "message": "at most 1024 bytes"}]


def test_admin_path_without_admin_group_is_refused() -> None:
    event = {
        "path": "/admin/products",
        "requestContext": {"authorizer": {"claims": {"cognito:groups": "ops"}}},
    }
    response = handle(app=None, event=event, context=None, max_body_bytes=1024)  # type: ignore[arg-type]
    assert response["statusCode"] == 401


PRODUCTS = ddb.CursorScope(
    equal={"GSI1PK": "PRODUCTS", "SK": "PRODUCT"}, prefix={"PK": "PRODUCT#", "GSI1SK": ""}
)


def _cursor(pk: str, gsi1pk: str) -> str | None:
    return ddb.encode_cursor(
        {"PK": {"S": pk}, "SK": {"S": pk.split("#")[0]}, "GSI1PK": {"S": gsi1pk}, "GSI1SK": {"S": "p"}}
    )


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "e30",
        ddb.encode_cursor({"PK": {"S": "x"}}),
        # the right attributes, outside the listing: another partition, another entity
        _cursor("PRODUCT#p", "ORDERS#confirmed"),
        _cursor("ORDER#o", "PRODUCTS"),
    ],
)
def test_cursors_we_did_not_issue_for_this_listing_are_a_400_on_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        ddb.decode_cursor(cursor, PRODUCTS)
    assert refused.value.status == 400 and refused.value.errors[0].field == "cursor"


def test_issued_cursor_round_trips() -> None:
    key = {
        "PK": {"S": "PRODUCT#p1"},
        "SK": {"S": "PRODUCT"},
        "GSI1PK": {"S": "PRODUCTS"},
        "GSI1SK": {"S": "p1"},
    }
    assert ddb.decode_cursor(ddb.encode_cursor(key), PRODUCTS) == key


def test_a_transient_dependency_error_is_a_503_with_retry_after() -> None:
    # Given a route whose DynamoDB call was throttled (an adapter raised TransientError)
    from cloudtill.api import create_app
    from cloudtill.errors import TransientError

    app = create_app(cors_origins=[])

    @app.get("/busy")
    def busy() -> dict[str, str]:
        raise TransientError("ProvisionedThroughputExceededException")

    event = {"httpMethod": "GET", "path": "/busy", "resource": "/busy", "headers": {}, "requestContext": {}}
    # When it is called, Then 503 problem+json with Retry-After, and no internals in the body
    response = handle(app, event, context=None, max_body_bytes=1024)  # type: ignore[arg-type]
    body = json.loads(response["body"])
    assert response["statusCode"] == 503
    headers = {
        **response.get("headers", {}),
        **{k: v[0] for k, v in response.get("multiValueHeaders", {}).items()},
    }
    assert headers["Content-Type"] == "application/problem+json"
    assert int(headers["Retry-After"]) >= 1
    assert body["status"] == 503
    assert "Throughput" not in body["detail"]
