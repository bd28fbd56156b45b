"""Contract of `cloudtill.catalog.ports.ProductRepository`: SKU claims, versions, archive, paging."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cloudtill import keys
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.ports import ProductRepository
from cloudtill.catalog.records import ProductRecord, VariantRecord
from cloudtill.errors import Conflict, DuplicateSku, InvalidCursor, NotFound, VersionConflict

from tests.contracts.conftest import Backend
from tests.fakes import InMemoryProductRepository

AT = "2026-11-23T12:00:00Z"


@pytest.fixture
def repo(backend: Backend) -> ProductRepository:
    if backend.fake:
        return InMemoryProductRepository()
    return DynamoProductRepository(backend.table, backend.client)


def product(product_id: str, *skus: str, category: str = "tea", version: int = 1) -> ProductRecord:
    return ProductRecord(
        id=product_id,
        name=f"Product {product_id}",
        description="",
        category=category,
        variants=tuple(VariantRecord(s, f"Variant {s}", 1200, "EUR") for s in skus),
        version=version,
        created_at=AT,
        updated_at=AT,
    )


def given_units(backend: Backend, repo: Any, sku: str, on_hand: int, reserved: int) -> None:
    """Stock the stock and checkout domains put on a SKU the catalog created."""
    if backend.fake:
        repo.stock[sku] = max(on_hand - reserved, 0)
        return
    backend.client.update_item(
        TableName=backend.table,
        Key={"PK": {"S": keys.sku(sku)[0]}, "SK": {"S": keys.sku(sku)[1]}},
        UpdateExpression="SET on_hand = :on_hand, reserved = :reserved",
        ExpressionAttributeValues={":on_hand": {"N": str(on_hand)}, ":reserved": {"N": str(reserved)}},
    )


def test_a_created_product_reads_back_as_stored(repo: ProductRepository) -> None:
    created = product("p1", "A", "B")
    repo.create(created)
    assert repo.get("p1") == created
    assert repo.get("p2") is None


def test_creating_with_a_sku_of_another_product_is_refused_naming_it(repo: ProductRepository) -> None:
    repo.create(product("p1", "A"))
    with pytest.raises(DuplicateSku) as refused:
        repo.create(product("p2", "B", "A"))
    assert [(e.field, e.message) for e in refused.value.errors] == [("variants[1].sku", "A already exists")]
    assert repo.get("p2") is None  # nothing written: not even the free SKU B is claimed
    repo.create(product("p3", "B"))


def test_creating_the_same_product_id_twice_is_refused(repo: ProductRepository) -> None:
    repo.create(product("p1", "A"))
    with pytest.raises(Conflict):
        repo.create(product("p1", "B"))
    stored = repo.get("p1")
    assert stored is not None and stored.skus == ("A",)


def test_a_replace_at_the_version_read_is_stored(repo: ProductRepository) -> None:
    first = product("p1", "A")
    repo.create(first)
    second = replace(product("p1", "A", "B", category="coffee"), version=2, name="Renamed")
    repo.replace(second, expected_version=1, previous=first)
    assert repo.get("p1") == second


def test_a_replace_from_a_stale_version_is_refused_naming_the_current_one(repo: ProductRepository) -> None:
    first = product("p1", "A")
    repo.create(first)
    second = replace(first, version=2, name="Second")
    repo.replace(second, expected_version=1, previous=first)
    with pytest.raises(VersionConflict) as refused:
        repo.replace(replace(first, version=2, name="Lost update"), expected_version=1, previous=first)
    assert refused.value.extra["current_version"] == 2
    assert repo.get("p1") == second


def test_a_replace_that_adds_a_sku_of_another_product_is_refused(repo: ProductRepository) -> None:
    repo.create(product("p1", "A"))
    mine = product("p2", "B")
    repo.create(mine)
    with pytest.raises(DuplicateSku):
        repo.replace(replace(product("p2", "B", "A"), version=2), expected_version=1, previous=mine)
    assert repo.get("p2") == mine


def test_a_sku_removed_from_a_product_stays_its_own(repo: ProductRepository) -> None:
    first = product("p1", "A", "B")
    repo.create(first)
    repo.replace(replace(product("p1", "A"), version=2), expected_version=1, previous=first)
    with pytest.raises(DuplicateSku):
        repo.create(product("p2", "B"))


def test_an_archived_product_is_hidden_and_kept(repo: ProductRepository) -> None:
    stored = product("p1", "A")
    repo.create(stored)
    repo.create(product("p2", "B"))
    repo.archive(stored, "2026-11-24T00:00:00Z")
    archived = repo.get("p1")
    assert archived is not None
    assert (archived.archived, archived.version, archived.updated_at) == (True, 2, "2026-11-24T00:00:00Z")
    page, _ = repo.list_active(None, 10, None)
    assert [p.id for p in page] == ["p2"]
    assert repo.list_active("tea", 10, None)[0] == page


def test_archiving_from_a_stale_read_is_refused(repo: ProductRepository) -> None:
    first = product("p1", "A")
    repo.create(first)
    repo.replace(replace(first, version=2, name="Second"), expected_version=1, previous=first)
    with pytest.raises(VersionConflict):
        repo.archive(first, "2026-11-24T00:00:00Z")
    stored = repo.get("p1")
    assert stored is not None and not stored.archived


def test_an_archived_product_cannot_be_replaced(repo: ProductRepository) -> None:
    first = product("p1", "A")
    repo.create(first)
    repo.archive(first, "2026-11-24T00:00:00Z")
    with pytest.raises(NotFound):
        repo.replace(replace(first, version=3, name="Back"), expected_version=2, previous=first)
    stored = repo.get("p1")
    assert stored is not None and stored.archived and stored.name == first.name


def test_active_products_page_in_id_order_per_category(repo: ProductRepository) -> None:
    for n in range(5):
        repo.create(product(f"p{n}", f"S{n}", category="tea" if n % 2 else "coffee"))
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page, cursor = repo.list_active(None, 2, cursor)
        ids += [p.id for p in page]
        if cursor is None:
            break
    assert ids == ["p0", "p1", "p2", "p3", "p4"]
    tea, _ = repo.list_active("tea", 10, None)
    assert [p.id for p in tea] == ["p1", "p3"]


def test_a_cursor_of_another_category_is_refused(repo: ProductRepository) -> None:
    for n in range(4):
        repo.create(product(f"p{n}", f"S{n}", category="tea" if n % 2 else "coffee"))
    _, coffee_cursor = repo.list_active("coffee", 1, None)
    _, all_cursor = repo.list_active(None, 1, None)
    assert coffee_cursor is not None and all_cursor is not None
    with pytest.raises(InvalidCursor):
        repo.list_active("tea", 1, coffee_cursor)
    with pytest.raises(InvalidCursor):
        repo.list_active("tea", 1, all_cursor)


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "e30"])
def test_a_cursor_this_port_did_not_issue_is_refused(repo: ProductRepository, cursor: str) -> None:
    repo.create(product("p1", "A"))
    with pytest.raises(InvalidCursor):
        repo.list_active(None, 1, cursor)


def test_available_units_are_on_hand_minus_reserved_never_below_zero(
    backend: Backend, repo: ProductRepository
) -> None:
    repo.create(product("p1", "A", "B", "C"))
    given_units(backend, repo, "A", on_hand=5, reserved=2)
    given_units(backend, repo, "B", on_hand=1, reserved=3)  # backordered
    assert repo.available_units(["A", "B", "C"]) == {"A": 3, "B": 0, "C": 0}


def test_available_units_leave_unknown_skus_out(repo: ProductRepository) -> None:
    repo.create(product("p1", "A"))
    assert repo.available_units(["A", "NOPE"]) == {"A": 0}
