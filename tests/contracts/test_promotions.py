"""Contract of `cloudtill.checkout.ports.PromotionRepository`: a code is created once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cloudtill.checkout.ports import PromotionRepository
from cloudtill.errors import Conflict
from cloudtill.promotions.dynamo import DynamoPromotionRepository
from cloudtill.promotions.records import StoredPromotion
from cloudtill.promotions.rules import Promotion

from tests.contracts.conftest import Backend
from tests.fakes import InMemoryCheckoutRepository, InMemoryPromotionRepository

AT = "2026-11-23T12:00:00Z"


@pytest.fixture
def repo(backend: Backend) -> PromotionRepository:
    if backend.fake:
        return InMemoryPromotionRepository(InMemoryCheckoutRepository())
    return DynamoPromotionRepository(backend.table, backend.client)


def test_a_created_promotion_reads_back_with_no_redemptions(repo: PromotionRepository) -> None:
    promotion = Promotion(
        code="WINTER-5",
        kind="fixed",
        value=500,
        currency="EUR",
        min_subtotal=2000,
        starts_at=datetime(2026, 12, 1, tzinfo=UTC),
        ends_at=datetime(2027, 1, 1, tzinfo=UTC),
        max_redemptions=100,
        max_per_email=1,
    )
    repo.create(promotion, AT)
    assert repo.get("WINTER-5") == StoredPromotion(promotion, redeemed=0, created_at=AT)
    assert repo.get("SUMMER-5") is None


def test_a_code_that_exists_is_refused_naming_code_and_left_unchanged(repo: PromotionRepository) -> None:
    first = Promotion(code="TEN", kind="percentage", value=1000)
    repo.create(first, AT)
    with pytest.raises(Conflict) as refused:
        repo.create(Promotion(code="TEN", kind="percentage", value=9000), AT)
    assert [e.field for e in refused.value.errors] == ["code"]
    assert repo.get("TEN") == StoredPromotion(first, redeemed=0, created_at=AT)
