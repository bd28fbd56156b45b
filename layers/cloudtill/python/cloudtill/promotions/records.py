"""What is stored of a promotion: its rules, how often it was redeemed, when it was created."""

from __future__ import annotations

from dataclasses import dataclass

from cloudtill.promotions.rules import Promotion


@dataclass(frozen=True)
class StoredPromotion:
    promotion: Promotion
    redeemed: int
    created_at: str | None = None
