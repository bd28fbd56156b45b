"""Catalog use cases. Knows nothing of Lambda or DynamoDB: it gets a repository and a clock."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from cloudtill.catalog.api import ProductIn, ProductOut, ProductPage, ProductUpdate, product_out
from cloudtill.catalog.ports import ProductRepository
from cloudtill.catalog.records import ProductRecord, VariantRecord
from cloudtill.clock import Clock, iso
from cloudtill.errors import DuplicateSku, FieldError, NotFound, ValidationFailed, VersionConflict
from cloudtill.transaction_sizes import MAX_SKUS_PER_PRODUCT_UPDATE


def _described(body: ProductIn) -> dict[str, Any]:
    """The product's own fields as the request gives them (its variants are checked apart)."""
    return body.model_dump(include={"name", "description", "category"})


def new_product_id() -> str:
    return "prd_" + uuid.uuid4().hex[:20]


class CatalogService:
    def __init__(self, repository: ProductRepository, clock: Clock, currency: str) -> None:
        self._repository = repository
        self._clock = clock
        self._currency = currency

    def list_products(self, category: str | None, limit: int, cursor: str | None) -> ProductPage:
        records, next_cursor = self._repository.list_active(category, limit, cursor)
        available = self._repository.available_units([s for r in records for s in r.skus])
        return ProductPage(items=[product_out(r, available) for r in records], next_cursor=next_cursor)

    def get_product(self, product_id: str) -> ProductOut:
        record = self._repository.get(product_id)
        if record is None or record.archived:
            raise NotFound(f"No product {product_id}.")
        return product_out(record, self._repository.available_units(list(record.skus)))

    def create_product(self, body: ProductIn) -> ProductOut:
        variants = self._variants(body)
        now = iso(self._clock.now())
        record = ProductRecord(
            id=new_product_id(),
            **_described(body),
            variants=variants,
            version=1,
            created_at=now,
            updated_at=now,
        )
        self._repository.create(record)
        return product_out(record, dict.fromkeys(record.skus, 0))

    def update_product(self, product_id: str, body: ProductUpdate) -> ProductOut:
        current = self._repository.get(product_id)
        if current is None or current.archived:
            raise NotFound(f"No product {product_id}.")
        if current.version != body.version:
            raise VersionConflict.stale(f"Product {product_id}", current.version)
        variants = self._variants(body)
        self._check_update_fits(current, variants)
        record = replace(
            current,
            **_described(body),
            variants=variants,
            version=current.version + 1,
            updated_at=iso(self._clock.now()),
        )
        self._repository.replace(record, expected_version=body.version, previous=current)
        return product_out(record, self._repository.available_units(list(record.skus)))

    def archive_product(self, product_id: str) -> None:
        current = self._repository.get(product_id)
        if current is None or current.archived:
            raise NotFound(f"No product {product_id}.")
        self._repository.archive(current, iso(self._clock.now()))

    def _variants(self, body: ProductIn) -> tuple[VariantRecord, ...]:
        for index, variant in enumerate(body.variants):
            if variant.currency is not None and variant.currency != self._currency:
                raise ValidationFailed.for_field(
                    f"variants[{index}].currency", f"this shop sells in {self._currency}"
                )
        first_index: dict[str, int] = {}
        repeats: list[FieldError] = []
        for index, variant in enumerate(body.variants):
            if variant.sku in first_index:
                repeats.append(
                    FieldError(
                        f"variants[{index}].sku",
                        f"{variant.sku} is already variants[{first_index[variant.sku]}].sku",
                    )
                )
            first_index.setdefault(variant.sku, index)
        if repeats:
            raise DuplicateSku(
                f"{repeats[0].field}: {repeats[0].message}; each SKU may appear once.", repeats
            )
        return tuple(VariantRecord(v.sku, v.name, v.price, self._currency) for v in body.variants)

    @staticmethod
    def _check_update_fits(current: ProductRecord, variants: tuple[VariantRecord, ...]) -> None:
        """An update is one transaction with an item per SKU it keeps, adds or removes: more than one
        transaction holds is refused (422 `variants`) rather than split, since the SKU claims and the
        product must change together."""
        kept_or_added = {v.sku for v in variants}
        removed = set(current.skus) - kept_or_added
        touched = len(kept_or_added) + len(removed)
        if touched > MAX_SKUS_PER_PRODUCT_UPDATE:
            raise ValidationFailed.for_field(
                "variants",
                f"one update may keep, add and remove at most {MAX_SKUS_PER_PRODUCT_UPDATE} SKUs together; "
                f"this one touches {touched} ({len(kept_or_added)} in the new variants, {len(removed)} "
                "removed): remove or add variants in two updates",
            )
