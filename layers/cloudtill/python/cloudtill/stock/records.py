"""The SKU item as stored (independent of DynamoDB): one record, read by the catalog, the checkout and
the stock domain alike.

The catalog creates it (the price copy: `product_id`, `product_name`, `name`, `price`, `currency`,
`active`, counters at 0); the stock domain owns `on_hand`, `backorder_limit`, `low_stock_threshold`,
`low_stock`, `fifo` and `stock_version`; checkouts move units between `available` and `reserved`
through the stock domain's `reserve`/`unreserve` parts (`stock/transactions.py`, docs/stock.md).
Attributes the stock domain has not written yet are absent (None here).
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudtill.stock.fifo import FifoStock


@dataclass(frozen=True, slots=True)
class SkuRecord:
    sku: str
    product_id: str = ""
    product_name: str = ""
    name: str = ""
    price: int = 0
    currency: str = ""
    active: bool = False
    on_hand: int = 0
    reserved: int = 0
    # on_hand + backorder_limit - reserved, kept by every writer: the checkout's oversell guard.
    available: int = 0
    backorder_limit: int = 0
    low_stock_threshold: int = 0
    low_stock: bool | None = None
    fifo: FifoStock | None = None
    stock_version: int | None = None

    @property
    def title(self) -> str:
        """What a shopper sees on a line: `<product> - <variant>` (one of them when they agree)."""
        if self.product_name and self.name and self.name != self.product_name:
            return f"{self.product_name} - {self.name}"
        return self.product_name or self.name or self.sku
