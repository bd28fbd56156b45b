"""`backordered` is what the checkout's transaction proved, not what an earlier read suggested.

The reservation plans each SKU from a strongly consistent read; another checkout may take or give back
units between that read and the transaction. Each SKU's reservation update is conditioned on the
decision (from stock: `on_hand - reserved >= q`; backordered: below that, within the backorder limit)
and on the backorder limit read, so a changed SKU cancels the transaction and the service re-reads
and re-plans: a committed checkout's `backordered` flags are exact at its commit. Real adapters on
moto; the competing change is made between the read and the write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cloudtill import ddb, keys
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.records import SkuSnapshot
from cloudtill.checkout.service import CheckoutService
from cloudtill.settings import ShopSettings
from cloudtill.stock.api import MovementIn, StockSettingsIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FakePaymentStarter, FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_checkout_service import body

SKU = "BO-1"


class ChangesAfterTheFirstRead(DynamoCheckoutRepository):
    """The DynamoDB adapter, with a competing stock change right after the first SKU read."""

    def __init__(self, table: str, change: Callable[[], None]) -> None:
        super().__init__(table)
        self.change: Callable[[], None] | None = change
        self.reads = 0

    def skus(self, codes: Sequence[str]) -> dict[str, SkuSnapshot]:
        found = super().skus(codes)
        self.reads += 1
        if self.change is not None:
            change, self.change = self.change, None
            change()
        return found


def stocked(table: str, clock: FixedClock, on_hand: int, backorder_limit: int) -> StockService:
    CatalogService(DynamoProductRepository(table), clock, "EUR").create_product(
        ProductIn(name="Tee", category="tees", variants=[{"sku": SKU, "name": "Tee", "price": 1000}])
    )
    stock = StockService(DynamoStockRepository(table), clock)
    stock.record_movement(SKU, MovementIn(type="receive", quantity=on_hand, unit_cost=100, reason="r"))
    stock.update_settings(SKU, StockSettingsIn(backorder_limit=backorder_limit))
    return stock


def counters(table: str) -> tuple[int, int, int]:
    item = ddb.client().get_item(TableName=table, Key=ddb.key(*keys.sku(SKU)), ConsistentRead=True)
    data = ddb.from_item(item["Item"])
    return int(data["on_hand"]), int(data["reserved"]), int(data["available"])


def service(repository: DynamoCheckoutRepository, clock: FixedClock) -> CheckoutService:
    return CheckoutService(
        repository, clock, ShopSettings(), 900, FakePaymentStarter(), backoff=lambda a: None
    )


def test_units_taken_from_stock_by_another_checkout_meanwhile_make_the_line_backordered(
    main_table: str,  # noqa: F811
) -> None:
    # Given 3 on hand and 5 allowed on backorder; the read says 2 units come from stock
    clock = FixedClock()
    stocked(main_table, clock, on_hand=3, backorder_limit=5)
    rival = service(DynamoCheckoutRepository(main_table), clock)
    # When another checkout takes 2 between the read and the write
    repository = ChangesAfterTheFirstRead(
        main_table, lambda: rival.create_checkout(body((SKU, 2)), "r") and None
    )
    created = service(repository, clock).create_checkout(body((SKU, 2)), "t")
    # Then only 1 was left in stock: the line is backordered, as the committed counters show
    assert counters(main_table) == (3, 4, 4)
    assert [(ln.quantity, ln.backordered) for ln in created.lines] == [(2, True)]
    assert repository.reads == 2  # the first transaction was refused and the SKU read again


def test_units_received_meanwhile_make_a_backordered_line_come_from_stock(main_table: str) -> None:  # noqa: F811
    # Given 1 on hand and 5 on backorder; the read says 2 units are backordered
    clock = FixedClock()
    stock = stocked(main_table, clock, on_hand=1, backorder_limit=5)
    receipt = MovementIn(type="receive", quantity=10, unit_cost=100, reason="delivery")
    # When 10 arrive between the read and the write
    repository = ChangesAfterTheFirstRead(main_table, lambda: stock.record_movement(SKU, receipt) and None)
    created = service(repository, clock).create_checkout(body((SKU, 2)), "t")
    # Then they come from stock
    assert [(ln.quantity, ln.backordered) for ln in created.lines] == [(2, False)]
    assert counters(main_table) == (11, 2, 14)


def test_a_backorder_limit_changed_meanwhile_is_read_again(main_table: str) -> None:  # noqa: F811
    # Given 1 on hand and 5 on backorder; the read says 3 units are backordered (within 1 + 5)
    clock = FixedClock()
    stock = stocked(main_table, clock, on_hand=1, backorder_limit=5)
    no_backorders = StockSettingsIn(backorder_limit=0)
    repository = ChangesAfterTheFirstRead(
        main_table, lambda: stock.update_settings(SKU, no_backorders) and None
    )
    # When backorders are switched off meanwhile: 3 cannot be reserved any more
    from cloudtill.errors import OutOfStock

    try:
        service(repository, clock).create_checkout(body((SKU, 3)), "t")
    except OutOfStock as refused:
        assert refused.extra["unavailable"] == [{"sku": SKU, "requested": 3, "available": 1}]
    else:
        raise AssertionError("reserved beyond a backorder limit that was switched off")
    assert counters(main_table) == (1, 0, 1)
