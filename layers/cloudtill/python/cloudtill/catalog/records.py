"""What the catalog stores: a product with its variants (independent of DynamoDB)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VariantRecord:
    sku: str
    name: str
    price: int
    currency: str


@dataclass(frozen=True)
class ProductRecord:
    id: str
    name: str
    description: str
    category: str
    variants: tuple[VariantRecord, ...]
    version: int
    created_at: str
    updated_at: str
    archived: bool = False
    skus: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "skus", tuple(v.sku for v in self.variants))
