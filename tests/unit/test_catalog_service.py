"""Catalog use cases against the in-memory repository."""

from __future__ import annotations

import pytest
from cloudtill.catalog.api import ProductIn, ProductUpdate
from cloudtill.catalog.service import CatalogService
from cloudtill.errors import DuplicateSku, NotFound, ValidationFailed, VersionConflict

from tests.fakes import FixedClock, InMemoryProductRepository


def _product(*skus: str, category: str = "mugs", currency: str | None = None) -> ProductIn:
    return ProductIn(
        name="Mug",
        category=category,
        variants=[{"sku": s, "name": s, "price": 1000, "currency": currency} for s in skus],  # type: ignore[misc]
    )


@pytest.fixture
def service() -> CatalogService:
    return CatalogService(InMemoryProductRepository(), FixedClock(), "EUR")


def test_created_product_defaults_variant_currency_to_the_shop_currency(service: CatalogService) -> None:
    created = service.create_product(_product("MUG-1"))
    assert created.version == 1
    assert [v.currency for v in created.variants] == ["EUR"]
    assert service.get_product(created.id) == created


def test_variant_in_another_currency_is_refused_naming_the_field(service: CatalogService) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.create_product(_product("MUG-1", currency="USD"))
    assert refused.value.errors[0].field == "variants[0].currency"


def test_sku_taken_by_another_product_is_a_conflict(service: CatalogService) -> None:
    service.create_product(_product("MUG-1"))
    with pytest.raises(DuplicateSku):
        service.create_product(_product("MUG-2", "MUG-1"))


def test_same_sku_twice_in_one_product_is_a_conflict(service: CatalogService) -> None:
    with pytest.raises(DuplicateSku):
        service.create_product(_product("MUG-1", "MUG-1"))


def test_update_with_stale_version_changes_nothing(service: CatalogService) -> None:
    created = service.create_product(_product("MUG-1"))
    update = ProductUpdate(**_product("MUG-1").model_dump(), version=1)
    updated = service.update_product(created.id, update.model_copy(update={"name": "Big mug"}))
    assert (updated.version, updated.name) == (2, "Big mug")

    with pytest.raises(VersionConflict) as conflict:
        service.update_product(created.id, update.model_copy(update={"name": "Lost update"}))
    assert conflict.value.extra["current_version"] == 2
    assert service.get_product(created.id).name == "Big mug"


def test_archived_product_leaves_the_public_catalog(service: CatalogService) -> None:
    kept = service.create_product(_product("MUG-1"))
    archived = service.create_product(_product("MUG-2"))
    service.archive_product(archived.id)

    page = service.list_products(None, 100, None)
    assert [p.id for p in page.items] == [kept.id]
    with pytest.raises(NotFound):
        service.get_product(archived.id)
    with pytest.raises(NotFound):
        service.archive_product(archived.id)


def test_paging_visits_every_product_once(service: CatalogService) -> None:
    ids = {service.create_product(_product(f"SKU-{i}")).id for i in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        page = service.list_products(None, 3, cursor)
        seen += [p.id for p in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
