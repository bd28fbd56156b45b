"""What the privacy domain stores: the erasure marker of a customer (the `CustomerErased` detail)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErasureRecord:
    customer_hash: str
    erased_at: str
    checkout_ids: list[str]
    order_ids: list[str]
    notifications: int
