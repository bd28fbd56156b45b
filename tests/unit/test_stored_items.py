"""The items the catalog, stock, promotion, checkout and notification adapters write, attribute by
attribute and type by type, against a snapshot taken from the adapters' output (tests/unit/data/).

Stored items outlive code: existing data and the state machine's direct DynamoDB reads
(infra/statemachines/order_lifecycle.asl.json) rely on these names and types, so a change of the
mapping code must leave every item exactly as it was. Real adapters on moto; outbox events (random
ids and times) are left out. `STORED_ITEMS_SNAPSHOT=write` rewrites the snapshot.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cloudtill import ddb
from cloudtill.catalog import service as catalog_service
from cloudtill.catalog.api import ProductIn, ProductUpdate
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.service import CheckoutService, PromotionService
from cloudtill.notifications.dynamo import DynamoNotificationLog, DynamoSuppressions
from cloudtill.privacy.dynamo import DynamoCustomerRecords
from cloudtill.privacy.service import PrivacyService
from cloudtill.promotions.dynamo import DynamoPromotionRepository
from cloudtill.promotions.rules import PromotionIn
from cloudtill.settings import ShopSettings
from cloudtill.stock.api import MovementIn, StockSettingsIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FakePaymentStarter, FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_checkout_service import body

SNAPSHOT = Path(__file__).parent / "data" / "stored_items.json"


def every_item(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    scan: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.client().scan(**scan)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    kept = [i for i in items if i.get("entity") != {"S": "outbox"}]
    return sorted(kept, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def shop_history(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bit of everything: products created, updated and archived, stock received and configured, a
    promotion, checkouts created (one with the promotion), expired and erased, an e-mail sent, a
    suppression."""
    clock = FixedClock()
    ids = iter(["prd_one", "prd_two"])
    monkeypatch.setattr(catalog_service, "new_product_id", lambda: next(ids))
    catalog = CatalogService(DynamoProductRepository(table), clock, "EUR")
    tees = [{"sku": "TEE-S", "name": "S", "price": 1500}, {"sku": "TEE-M", "name": "M", "price": 1500}]
    catalog.create_product(ProductIn(name="Tee", description="Soft", category="tees", variants=tees))
    hat = catalog.create_product(
        ProductIn(name="Hat", category="hats", variants=[{"sku": "HAT", "name": "Hat", "price": 900}])
    )
    clock.advance(60)
    update = {"name": "Tee", "category": "shirts", "version": 1}
    update["variants"] = [
        {"sku": "TEE-S", "name": "Small", "price": 1600},
        {"sku": "TEE-L", "name": "L", "price": 1700},
    ]
    catalog.update_product("prd_one", ProductUpdate.model_validate(update))
    catalog.archive_product(hat.id)

    stock = StockService(DynamoStockRepository(table), clock)
    stock.record_movement("TEE-S", MovementIn(type="receive", quantity=10, unit_cost=400, reason="delivery"))
    stock.record_movement("TEE-S", MovementIn(type="adjust", quantity=-1, reason="damaged", reference="R-1"))
    stock.update_settings("TEE-S", StockSettingsIn(low_stock_threshold=3, backorder_limit=2))
    stock.record_movement("TEE-L", MovementIn(type="count", quantity=4, unit_cost=500, reason="count"))

    promotion = {"code": "ten", "kind": "percentage", "value": 1000, "max_redemptions": 5, "max_per_email": 1}
    promotion["starts_at"] = "2026-01-01T00:00:00Z"
    PromotionService(DynamoPromotionRepository(table), clock, "EUR").create_promotion(
        PromotionIn.model_validate(promotion)
    )

    checkout_ids = iter(["chk_one", "chk_two", "chk_three"])
    checkouts = CheckoutService(
        DynamoCheckoutRepository(table),
        clock,
        ShopSettings(),
        900,
        FakePaymentStarter(),
        new_id=lambda: next(checkout_ids),
        backoff=lambda attempt: None,
    )
    checkouts.create_checkout(
        body(("TEE-S", 10), ("TEE-L", 3), promo_code="TEN", phone="+353 1 234"), "token-1"
    )
    checkouts.create_checkout(body(("TEE-L", 1), marketing_consent=True), "token-2")
    checkouts.create_checkout(body(("TEE-S", 1), email="Zed@Example.com"), "token-3")
    clock.advance(901)
    assert checkouts.expire_checkout("chk_two")
    PrivacyService(DynamoCustomerRecords(table), clock).erase("zed@example.com")

    log = DynamoNotificationLog(table, clock, timedelta(minutes=5))
    assert log.claim("evt-1", "rcpt", "order_confirmation", "email").proceed
    log.finish("evt-1", "rcpt", "sent", {"provider_message_id": "m-1"})
    DynamoSuppressions(table, clock).suppress("Bounced@Example.com", "bounce", "fb-1")


def test_every_item_is_stored_exactly_as_before(main_table: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    shop_history(main_table, monkeypatch)
    items = every_item(main_table)
    if os.environ.get("STORED_ITEMS_SNAPSHOT") == "write":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(items, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert [(i["PK"]["S"], i["SK"]["S"]) for i in items] == [(i["PK"]["S"], i["SK"]["S"]) for i in expected]
    for got, want in zip(items, expected, strict=True):
        assert got == want, f"{want['PK']['S']} / {want['SK']['S']}"
