"""Catalog API through HTTP against the local backend (moto server + gateway + real handler)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PROBLEM = "application/problem+json"


def product_body(
    unique: str, *, category: str | None = None, skus: tuple[str, ...] = ("A",)
) -> dict[str, Any]:
    return {
        "name": f"Test product {unique}",
        "description": "A product made by a test.",
        "category": category or f"cat-{unique}",
        "variants": [{"sku": f"T-{unique}-{s}", "name": s, "price": 1250} for s in skus],
    }


def create(admin: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = admin.post("/admin/products", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def all_pages(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = api.get("/products", params=query)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


def test_demo_catalog_is_seeded_with_categories_and_variants(api: httpx.Client) -> None:
    products = all_pages(api, limit=100)
    demo = [p for p in products if p["category"] in {"t-shirts", "mugs", "notebooks", "bags"}]
    assert len(demo) >= 20
    assert len({p["category"] for p in demo}) >= 3
    assert any(len(p["variants"]) > 1 for p in demo)
    assert all(v["currency"] == "EUR" and isinstance(v["price"], int) for p in demo for v in p["variants"])


def test_create_then_get_returns_the_product(admin: httpx.Client, api: httpx.Client, unique: str) -> None:
    created = create(admin, product_body(unique, skus=("S", "M")))
    fetched = api.get(f"/products/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert created["version"] == 1
    assert [v["sku"] for v in created["variants"]] == [f"T-{unique}-S", f"T-{unique}-M"]


def test_paging_a_category_returns_every_product_exactly_once(
    admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    category = f"paging-{unique}"
    ids = {create(admin, product_body(f"{unique}{i}", category=category))["id"] for i in range(7)}
    for limit in (1, 3, 7, 100):
        seen = [p["id"] for p in all_pages(api, category=category, limit=limit)]
        assert sorted(seen) == sorted(ids), f"limit={limit}"


def test_archived_product_disappears_from_the_public_catalog(
    admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    category = f"archive-{unique}"
    kept = create(admin, product_body(f"{unique}k", category=category))
    gone = create(admin, product_body(f"{unique}g", category=category))

    assert admin.delete(f"/admin/products/{gone['id']}").status_code == 204

    assert [p["id"] for p in all_pages(api, category=category)] == [kept["id"]]
    assert gone["id"] not in {p["id"] for p in all_pages(api, limit=100)}
    assert_problem(api.get(f"/products/{gone['id']}"), 404)
    assert_problem(admin.delete(f"/admin/products/{gone['id']}"), 404)


def test_stale_version_is_refused_with_409_and_changes_nothing(
    admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    created = create(admin, product_body(unique))
    first = admin.put(
        f"/admin/products/{created['id']}", json={**product_body(unique), "name": "Renamed", "version": 1}
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2

    stale = admin.put(
        f"/admin/products/{created['id']}", json={**product_body(unique), "name": "Lost", "version": 1}
    )
    body = assert_problem(stale, 409, "version")
    assert body["current_version"] == 2
    assert api.get(f"/products/{created['id']}").json()["name"] == "Renamed"


def test_duplicate_sku_is_refused_with_409_and_nothing_is_written(
    admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    category = f"dup-{unique}"
    create(admin, product_body(unique, category=category, skus=("X",)))
    clash = product_body(unique, category=category, skus=("Y", "X"))
    assert_problem(admin.post("/admin/products", json=clash), 409, "variants[1].sku")
    # Neither the product nor its other SKU (Y) was written: Y is still free to claim.
    assert len(all_pages(api, category=category)) == 1
    create(admin, product_body(unique, category=f"{category}-2", skus=("Y",)))


def test_update_can_add_a_variant_but_not_steal_a_sku(admin: httpx.Client, unique: str) -> None:
    owner = create(admin, product_body(f"{unique}o", skus=("O",)))
    other = create(admin, product_body(unique, skus=("A",)))
    steal = {**product_body(unique, skus=("A",)), "version": 1}
    stolen = owner["variants"][0]
    steal["variants"].append({"sku": stolen["sku"], "name": stolen["name"], "price": stolen["price"]})
    assert_problem(admin.put(f"/admin/products/{other['id']}", json=steal), 409, "variants[1].sku")

    grow = {**product_body(unique, skus=("A", "B")), "version": 1}
    grown = admin.put(f"/admin/products/{other['id']}", json=grow)
    assert grown.status_code == 200, grown.text
    assert [v["sku"] for v in grown.json()["variants"]] == [f"T-{unique}-A", f"T-{unique}-B"]


@pytest.mark.parametrize(
    ("mutate", "status", "field"),
    [
        (lambda b: b["variants"][0].update(price=-1), 422, "variants[0].price"),
        (lambda b: b.pop("name"), 422, "name"),
        (lambda b: b["variants"][0].update(price="12.50"), 422, "variants[0].price"),
        (lambda b: b.update(category="Not A Slug!"), 422, "category"),
        (lambda b: b["variants"][0].update(currency="USD"), 422, "variants[0].currency"),
        (lambda b: b.update(variants=[]), 422, "variants"),
        (lambda b: b["variants"][0].update(sku="has/slash"), 422, "variants[0].sku"),
    ],
    ids=[
        "negative-price",
        "missing-name",
        "wrong-type",
        "bad-category",
        "other-currency",
        "no-variants",
        "bad-sku",
    ],
)
def test_bad_product_bodies_name_the_field_and_write_nothing(
    admin: httpx.Client, api: httpx.Client, unique: str, mutate: Any, status: int, field: str
) -> None:
    body = product_body(unique)
    mutate(body)
    assert_problem(admin.post("/admin/products", json=body), status, field)
    assert all(f"T-{unique}" not in v["sku"] for p in all_pages(api, limit=100) for v in p["variants"])


def test_malformed_json_is_400(admin: httpx.Client) -> None:
    response = admin.post(
        "/admin/products", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "body")


def test_oversized_body_is_413_naming_the_body(admin: httpx.Client, api: httpx.Client, unique: str) -> None:
    body = product_body(unique)
    body["description"] = "x" * (300 * 1024)
    assert_problem(admin.post("/admin/products", json=body), 413, "body")
    assert all_pages(api, category=body["category"]) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"category": "Bad_Cat"}, "category"),
    ],
)
def test_bad_query_parameters_name_the_field(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    assert_problem(api.get("/products", params=params), 422, field)


def test_a_cursor_not_issued_by_the_listing_is_400_naming_the_cursor(
    admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    # Given two categories of two products each, and a cursor of the first one's listing
    for category in ("shirts", "hats"):
        for n in range(2):
            create(admin, product_body(f"{unique}{category[0]}{n}", category=f"{category}-{unique}"))
    shirts = api.get("/products", params={"category": f"shirts-{unique}", "limit": 1}).json()["next_cursor"]
    everything = api.get("/products", params={"limit": 1}).json()["next_cursor"]
    assert shirts and everything
    # When it is used for another listing, or is not a cursor at all: 400 on `cursor`, not a 500
    for params in (
        {"category": f"hats-{unique}", "cursor": shirts},
        {"cursor": shirts},
        {"category": f"hats-{unique}", "cursor": everything},
        {"cursor": "garbage"},
        {"cursor": "eyJQSyI6IngifQ"},  # {"PK": "x"}
    ):
        assert_problem(api.get("/products", params=params), 400, "cursor")
    # And in its own listing it pages on
    rest = api.get("/products", params={"category": f"shirts-{unique}", "cursor": shirts})
    assert rest.status_code == 200 and len(rest.json()["items"]) == 1


def test_replacing_more_variants_than_one_update_holds_is_422_and_changes_nothing(
    admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    # Given a product of 50 variants
    product = create(admin, product_body(unique, skus=tuple(f"O{i}" for i in range(50))))
    # When all 50 are replaced by 50 others (50 removed + 50 added: more than one transaction holds)
    replace_all = {**product_body(unique, skus=tuple(f"N{i}" for i in range(50))), "version": 1}
    problem = assert_problem(admin.put(f"/admin/products/{product['id']}", json=replace_all), 422, "variants")
    assert "at most 98" in problem["detail"]
    # Then nothing changed: same version and variants, and the new SKUs do not exist
    assert api.get(f"/products/{product['id']}").json() == product
    assert admin.get(f"/admin/stock/T-{unique}-N0").status_code == 404
    # And the same change in two steps is fine
    first = {**product_body(unique, skus=tuple(f"N{i}" for i in range(25))), "version": 1}
    assert admin.put(f"/admin/products/{product['id']}", json=first).status_code == 200
    second = {**product_body(unique, skus=tuple(f"N{i}" for i in range(50))), "version": 2}
    done = admin.put(f"/admin/products/{product['id']}", json=second)
    assert done.status_code == 200, done.text
    assert [v["sku"] for v in done.json()["variants"]] == [f"T-{unique}-N{i}" for i in range(50)]


def test_unknown_product_and_unknown_route_are_404_json(api: httpx.Client) -> None:
    assert_problem(api.get("/products/prd_doesnotexist"), 404)
    assert_problem(api.get("/no/such/route"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/admin/products"), ("PUT", "/admin/products/p1"), ("DELETE", "/admin/products/p1")],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic abc"])
def test_admin_routes_need_the_admin_token(
    backend: Any, method: str, path: str, authorization: str | None, unique: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(base_url=backend.base_url, timeout=30) as client:
        response = client.request(method, path, json=product_body(unique), headers=headers)
    assert_problem(response, 401)


def test_openapi_document_is_generated_and_excludes_local_routes(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/products", "/products/{product_id}", "/admin/products"} <= set(document["paths"])
    assert not any(p.startswith("/_local") for p in document["paths"])
    assert document["paths"]["/admin/products"]["post"]["security"] == [{"adminBearer": []}]
    assert "ProductOut" in document["components"]["schemas"]
    assert api.get("/docs").status_code == 200
