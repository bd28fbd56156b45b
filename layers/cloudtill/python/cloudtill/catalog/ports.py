"""The catalog's data-access port. `dynamo.py` implements it; unit tests use an in-memory fake."""

from __future__ import annotations

from typing import Protocol

from cloudtill.catalog.records import ProductRecord


class ProductRepository(Protocol):
    def get(self, product_id: str) -> ProductRecord | None:
        """The product, archived or not; None when unknown."""

    def list_active(
        self, category: str | None, limit: int, cursor: str | None
    ) -> tuple[list[ProductRecord], str | None]:
        """A page of active products in id order and the cursor of the next page (None on the last)."""

    def create(self, product: ProductRecord) -> None:
        """Store a new product and claim its SKUs. Raises DuplicateSku naming taken SKUs."""

    def replace(self, product: ProductRecord, expected_version: int, previous: ProductRecord) -> None:
        """Store `product` if the stored version is still `expected_version` (else VersionConflict)."""

    def archive(self, product: ProductRecord, archived_at: str) -> None:
        """Hide the product from the public catalog and stop selling its SKUs."""

    def available_units(self, skus: list[str]) -> dict[str, int]:
        """Units buyable now per SKU (on hand minus reserved, never below 0)."""
