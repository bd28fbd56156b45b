"""Promotion use cases (`/admin/promotions`). Knows nothing of Lambda or DynamoDB."""

from __future__ import annotations

from cloudtill.checkout.ports import PromotionRepository
from cloudtill.clock import Clock, iso
from cloudtill.errors import NotFound
from cloudtill.promotions.rules import PromotionIn, PromotionOut, new_promotion, normalize_code


class PromotionService:
    def __init__(self, repository: PromotionRepository, clock: Clock, currency: str) -> None:
        self._repository = repository
        self._clock = clock
        self._currency = currency

    def create_promotion(self, body: PromotionIn) -> PromotionOut:
        promotion = new_promotion(body, self._currency)
        self._repository.create(promotion, iso(self._clock.now()))
        return PromotionOut.from_promotion(promotion, redeemed=0)

    def get_promotion(self, code: str) -> PromotionOut:
        stored = self._repository.get(normalize_code(code))
        if stored is None:
            raise NotFound(f"No promotion {normalize_code(code)}.")
        return PromotionOut.from_promotion(stored.promotion, stored.redeemed)
