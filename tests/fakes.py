"""In-memory fakes of the domain ports, for unit tests (same contract as the DynamoDB adapters)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cloudtill.catalog.records import ProductRecord
from cloudtill.errors import DuplicateSku, FieldError, ValidationFailed, VersionConflict
from cloudtill.outbox import DomainEvent
from cloudtill.stock.ports import StaleStock
from cloudtill.stock.rules import MovementRecord, StockChange, StockState


class FixedClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class InMemoryProductRepository:
    def __init__(self) -> None:
        self.products: dict[str, ProductRecord] = {}
        self.sku_owner: dict[str, str] = {}
        self.stock: dict[str, int] = {}

    def get(self, product_id: str) -> ProductRecord | None:
        return self.products.get(product_id)

    def list_active(
        self, category: str | None, limit: int, cursor: str | None
    ) -> tuple[list[ProductRecord], str | None]:
        active = sorted(
            (p for p in self.products.values() if not p.archived and category in (None, p.category)),
            key=lambda p: p.id,
        )
        after = ""
        if cursor is not None:
            try:
                after = base64.urlsafe_b64decode(cursor.encode()).decode()
            except ValueError:
                raise ValidationFailed.for_field("cursor", "not a cursor this API issued") from None
        page = [p for p in active if p.id > after][:limit]
        more = len(page) == limit and any(p.id > page[-1].id for p in active)
        return page, base64.urlsafe_b64encode(page[-1].id.encode()).decode() if more else None

    def _claim(self, product: ProductRecord) -> None:
        taken = [s for s in product.skus if self.sku_owner.get(s, product.id) != product.id]
        if taken:
            raise DuplicateSku("taken", [FieldError("variants.sku", f"{s} already exists") for s in taken])
        for sku in product.skus:
            self.sku_owner[sku] = product.id

    def create(self, product: ProductRecord) -> None:
        self._claim(product)
        self.products[product.id] = product

    def replace(self, product: ProductRecord, expected_version: int, previous: ProductRecord) -> None:
        stored = self.products[product.id]
        if stored.version != expected_version:
            raise VersionConflict.stale(f"Product {product.id}", stored.version)
        self._claim(product)
        self.products[product.id] = product

    def archive(self, product: ProductRecord, archived_at: str) -> None:
        self.products[product.id] = replace(
            product, archived=True, updated_at=archived_at, version=product.version + 1
        )

    def available_units(self, skus: list[str]) -> dict[str, int]:
        return {s: self.stock.get(s, 0) for s in skus}


class InMemoryStockRepository:
    """Stock port fake: `save` succeeds only if the stored state is still `change.before`, like the
    adapter's conditional transaction. `before_save` lets a test change the stock "concurrently"."""

    def __init__(self) -> None:
        self.states: dict[str, StockState] = {}
        self.movements: dict[str, list[MovementRecord]] = {}
        self.events: list[DomainEvent] = []
        self.before_save: Callable[[StockChange], None] | None = None
        self.saves = 0

    def get(self, sku: str) -> StockState | None:
        return self.states.get(sku)

    def save(self, change: StockChange, events: Sequence[DomainEvent]) -> None:
        if self.before_save is not None:
            self.before_save(change)
        if self.states.get(change.before.sku) != change.before:
            raise StaleStock(change.before.sku)
        self.saves += 1
        self.states[change.after.sku] = change.after
        if change.movement is not None:
            self.movements.setdefault(change.after.sku, []).append(change.movement)
        self.events += events

    def list_movements(
        self, sku: str, limit: int, cursor: str | None
    ) -> tuple[list[MovementRecord], str | None]:
        newest_first = list(reversed(self.movements.get(sku, [])))
        start = int(cursor) if cursor else 0
        page = newest_first[start : start + limit]
        more = start + limit < len(newest_first)
        return page, str(start + limit) if more else None


# -- checkout domain -----------------------------------------------------------------------------------
