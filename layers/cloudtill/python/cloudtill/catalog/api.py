"""Catalog request/response models (the API contract; OpenAPI is generated from these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cloudtill.catalog.records import ProductRecord
from cloudtill.clock import Timestamp

# Codes shops already use, odd ones included (`A'B`, `<x>`), are stored verbatim. Refused: characters
# that cannot travel in a URL path segment (/ ? # % \), control characters, and edge whitespace.
_SKU_EDGE = r"[^/?#%\\\s\x00-\x1f\x7f]"
_SKU_INNER = r"[^/?#%\\\x00-\x1f\x7f]"
Sku = Annotated[
    str,
    Field(
        pattern=rf"^{_SKU_EDGE}({_SKU_INNER}{{0,62}}{_SKU_EDGE})?$", max_length=64, examples=["TSHIRT-BLK-M"]
    ),
]
CategorySlug = Annotated[
    str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64, examples=["t-shirts"])
]
ProductId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Price = Annotated[int, Field(ge=0, le=100_000_000, description="Minor units (cents)")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
MAX_VARIANTS = 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class VariantIn(_Strict):
    sku: Sku
    name: str = Field(min_length=1, max_length=200)
    price: Price
    currency: Currency | None = Field(default=None, description="Defaults to the stack's currency")


class ProductIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    category: CategorySlug
    variants: list[VariantIn] = Field(min_length=1, max_length=MAX_VARIANTS)


class ProductUpdate(ProductIn):
    version: int = Field(ge=1, description="The version last read; a stale version is refused with 409")


class VariantOut(BaseModel):
    sku: str
    name: str
    price: int
    currency: str
    available: int = Field(description="Units that can be bought now")


class ProductOut(BaseModel):
    id: str
    name: str
    description: str
    category: str
    variants: list[VariantOut]
    version: int
    updated_at: Timestamp


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None


def product_out(record: ProductRecord, available: Mapping[str, int]) -> ProductOut:
    """A product as the API shows it: the record's fields, each variant with its units buyable now."""
    variants = [VariantOut(**asdict(v), available=available.get(v.sku, 0)) for v in record.variants]
    shown = {name: getattr(record, name) for name in ProductOut.model_fields.keys() - {"variants"}}
    return ProductOut(**shown, variants=variants)
