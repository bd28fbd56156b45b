"""Paging cursors are accepted only by the listing they came from, through the real adapters (moto).

DynamoDB refuses an `ExclusiveStartKey` outside the query's key condition ("The provided starting key
is outside query boundaries"), which would be a 500; moto silently answers `[]`. So the check is ours:
a cursor must decode to exactly the listing's key attributes, with its partition, its range (e.g. an
order listing's day) and an item of the listed entity; anything else is 400 naming `cursor`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cloudtill import ddb, keys
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.records import CheckoutLineRecord, CheckoutRecord
from cloudtill.errors import DomainError
from cloudtill.orders import rules
from cloudtill.orders.dynamo import DynamoOrderRepository
from cloudtill.orders.items import order_fields
from cloudtill.stock.api import MovementIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)


def forged(key: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decoded(cursor: str) -> dict[str, str]:
    return dict(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))))


def refused(call: Callable[[], Any]) -> DomainError:
    with pytest.raises(DomainError) as error:
        call()
    assert error.value.status == 400
    assert [e.field for e in error.value.errors] == ["cursor"]
    return error.value


# -- catalog -----------------------------------------------------------------------------------------


@pytest.fixture
def catalog(main_table: str) -> CatalogService:  # noqa: F811
    service = CatalogService(DynamoProductRepository(main_table), FixedClock(), "EUR")
    for i in range(3):
        for category, prefix in (("shirts", "S"), ("hats", "H")):
            variants = [{"sku": f"{prefix}{i}", "name": "n", "price": 100}]
            service.create_product(ProductIn(name=f"{prefix}{i}", category=category, variants=variants))
    return service


def test_a_category_cursor_pages_its_own_category(catalog: CatalogService) -> None:
    first = catalog.list_products("shirts", 2, None)
    assert first.next_cursor is not None
    rest = catalog.list_products("shirts", 2, first.next_cursor)
    assert sorted(p.name for p in [*first.items, *rest.items]) == ["S0", "S1", "S2"]


def test_a_cursor_of_another_category_is_400_on_cursor(catalog: CatalogService) -> None:
    shirts = catalog.list_products("shirts", 1, None).next_cursor
    assert shirts is not None
    refused(lambda: catalog.list_products("hats", 1, shirts))


def test_a_cursor_of_the_whole_catalog_is_not_a_category_cursor_and_back(catalog: CatalogService) -> None:
    everything = catalog.list_products(None, 1, None).next_cursor
    shirts = catalog.list_products("shirts", 1, None).next_cursor
    assert everything is not None and shirts is not None
    refused(lambda: catalog.list_products("shirts", 1, everything))
    refused(lambda: catalog.list_products(None, 1, shirts))


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "e30",  # {}
        forged({"PK": "x"}),
        forged({"PK": "PRODUCT#p", "SK": "PRODUCT", "GSI2PK": "CATEGORY#hats", "GSI2SK": 7}),  # type: ignore[dict-item]
        forged({"PK": "PRODUCT#p", "SK": "PRODUCT", "GSI2PK": "CATEGORY#hats", "GSI2SK": ""}),
        # the hats partition, but the table key of another entity (an order)
        forged({"PK": "ORDER#o", "SK": "ORDER", "GSI2PK": "CATEGORY#hats", "GSI2SK": "o"}),
        forged({"PK": "PRODUCT#p", "SK": "SKU", "GSI2PK": "CATEGORY#hats", "GSI2SK": "p"}),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_malformed_or_forged_cursor_is_400_on_cursor(catalog: CatalogService, cursor: str) -> None:
    refused(lambda: catalog.list_products("hats", 1, cursor))


def test_a_forged_cursor_inside_the_listing_is_just_a_place_to_start(catalog: CatalogService) -> None:
    shirts = catalog.list_products("shirts", 1, None)
    key = decoded(shirts.next_cursor or "")
    again = catalog.list_products("shirts", 5, forged(key))
    assert {p.name for p in again.items} | {p.name for p in shirts.items} == {"S0", "S1", "S2"}


# -- orders ------------------------------------------------------------------------------------------


def order_created(n: int, at: str) -> dict[str, Any]:
    checkout = CheckoutRecord(
        id=f"chk_{n:032d}", token_hash="h", status="completed", email="s@example.com", email_hash="e",
        phone=None, marketing_consent=False,
        lines=(CheckoutLineRecord("A", "Tee", 1, 1000, 1000, 0, 0, False),), currency="EUR",
        subtotal=1000, discount=0, shipping=0, tax=0, total=1000, prices_include_tax=True,
        tax_rate_bps=0, shipping_method="standard", shipping_address={"country": "IE"}, redemption=None,
        created_at=at, updated_at=at, expires_at=at, reserved={"A": 1},
    )  # fmt: skip
    order = rules.order_from_checkout(checkout, f"pi_{n}", {}, at)
    pk, sk = keys.order(order.id)
    return {"PK": pk, "SK": sk, **order_fields(replace(order, created_at=at))}


@pytest.fixture
def orders(main_table: str) -> DynamoOrderRepository:  # noqa: F811
    for n, day in enumerate(["2026-11-22", "2026-11-22", "2026-11-23", "2026-11-23", "2026-11-23"]):
        item = ddb.to_item(order_created(n, f"{day}T1{n}:00:00.000Z"))
        ddb.client().put_item(TableName=main_table, Item=item)
    return DynamoOrderRepository(main_table)


def test_an_order_cursor_pages_its_own_day(orders: DynamoOrderRepository) -> None:
    first, cursor = orders.list_by_status("confirmed", "2026-11-23", 2, None)
    assert cursor is not None
    rest, _ = orders.list_by_status("confirmed", "2026-11-23", 2, cursor)
    assert len(first) + len(rest) == 3 and all(o.created_at.startswith("2026-11-23") for o in rest)


def test_a_cursor_of_another_day_or_status_is_400_on_cursor(orders: DynamoOrderRepository) -> None:
    _, cursor = orders.list_by_status("confirmed", "2026-11-23", 1, None)
    assert cursor is not None
    refused(lambda: orders.list_by_status("confirmed", "2026-11-22", 1, cursor))
    refused(lambda: orders.list_by_status("shipped", "2026-11-23", 1, cursor))
    # Every day's orders are in the listing without a day: a place to start there
    after, _ = orders.list_by_status("confirmed", None, 10, cursor)
    assert len(after) == 4


def test_a_cursor_of_all_days_is_refused_by_a_day_it_is_not_in(orders: DynamoOrderRepository) -> None:
    _, cursor = orders.list_by_status("confirmed", None, 1, None)  # newest first: a 2026-11-23 order
    assert cursor is not None
    refused(lambda: orders.list_by_status("confirmed", "2026-11-22", 1, cursor))
    assert len(orders.list_by_status("confirmed", "2026-11-23", 10, cursor)[0]) == 2


def test_a_catalog_cursor_or_a_forged_one_is_not_an_order_cursor(
    orders: DynamoOrderRepository,
    main_table: str,  # noqa: F811
) -> None:
    everything = forged({"PK": "PRODUCT#p", "SK": "PRODUCT", "GSI1PK": "PRODUCTS", "GSI1SK": "p"})
    refused(lambda: orders.list_by_status("confirmed", None, 1, everything))
    wrong_entity = forged(
        {"PK": "PRODUCT#p", "SK": "PRODUCT", "GSI1PK": "ORDERS#confirmed", "GSI1SK": "2026-11-23T1"}
    )
    refused(lambda: orders.list_by_status("confirmed", None, 1, wrong_entity))
    refused(lambda: orders.list_by_status("confirmed", None, 1, "garbage!"))


# -- stock movements ---------------------------------------------------------------------------------


def test_a_cursor_of_another_skus_ledger_or_listing_is_400_on_cursor(main_table: str) -> None:  # noqa: F811
    clock = FixedClock()
    CatalogService(DynamoProductRepository(main_table), clock, "EUR").create_product(
        ProductIn(name="T", category="t", variants=[{"sku": s, "name": s, "price": 1} for s in ("M1", "M2")])
    )
    stock = StockService(DynamoStockRepository(main_table), clock)
    for sku in ("M1", "M2"):
        for _ in range(2):
            clock.advance(1)
            stock.record_movement(sku, MovementIn(type="receive", quantity=1, unit_cost=1, reason="r"))
    cursor = stock.list_movements("M1", 1, None).next_cursor
    assert cursor is not None
    assert len(stock.list_movements("M1", 5, cursor).items) == 1
    refused(lambda: stock.list_movements("M2", 1, cursor))
    product_cursor = forged({"PK": "PRODUCT#p", "SK": "PRODUCT", "GSI1PK": "PRODUCTS", "GSI1SK": "p"})
    refused(lambda: stock.list_movements("M1", 1, product_cursor))
    refused(lambda: stock.list_movements("M1", 1, forged({"PK": "SKU#M1", "SK": "SKU"})))
