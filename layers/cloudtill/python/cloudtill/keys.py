"""Key design of the single table (docs/data-model.md is the full picture). One place builds keys."""

from __future__ import annotations

ACTIVE_PRODUCTS = "PRODUCTS"  # GSI1PK of every active product (sparse: removed on archive)


def product(product_id: str) -> tuple[str, str]:
    return f"PRODUCT#{product_id}", "PRODUCT"


def sku(sku_code: str) -> tuple[str, str]:
    """The SKU item: variant price copy and the stock counters (on hand, reserved, available)."""
    return f"SKU#{sku_code}", "SKU"


def category(slug: str) -> tuple[str, str]:
    return f"CATEGORY#{slug}", "CATEGORY"


def category_index(slug: str) -> str:
    """GSI2PK of the active products of a category."""
    return f"CATEGORY#{slug}"
