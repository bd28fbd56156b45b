"""Every checkout the shop accepts fits each DynamoDB transaction of its life, in the worst case.

The limit on distinct SKUs (`MAX_DISTINCT_SKUS`) is derived from the item counts in
`cloudtill.transaction_sizes`; these tests build the real transactions with the DynamoDB adapters
(over a client that only records them) and check the counts are exactly what the code writes, so a
new item per SKU in the confirmation (or the checkout) fails here instead of in production, where the
shopper would pay and be refunded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from cloudtill import ddb, keys, transaction_sizes
from cloudtill.checkout import api as checkout_api
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.items import CHECKOUT_ITEM
from cloudtill.checkout.records import CheckoutLineRecord, CheckoutRecord, PromotionRedemption
from cloudtill.checkout.service import CheckoutService
from cloudtill.order_workflow.checkout_link import CheckoutLink
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.promotions.rules import Promotion
from cloudtill.settings import ShopSettings
from cloudtill.stock.fifo import CostLayer, FifoStock
from cloudtill.stock.items import FIFO
from cloudtill.transaction_sizes import (
    MAX_DISTINCT_SKUS,
    TRANSACT_WRITE_LIMIT,
    confirmation_items,
    reservation_items,
)

from tests.fakes import (
    FakePaymentGateway,
    FakePaymentStarter,
    FixedClock,
    InMemoryCheckoutRepository,
    InMemoryPaymentStore,
    InMemoryPromotionRepository,
)
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_checkout_service import body

TABLE = "t"
AT = "2026-11-23T12:00:00.000Z"
CHECKOUT = "chk_" + "b" * 32
PI = "pi_wide"


class RecordingClient:
    """The DynamoDB client calls these adapters make: reads answered from `items`, each
    TransactWriteItems recorded (and applied to nothing)."""

    def __init__(self, items: list[dict[str, Any]] | None = None) -> None:
        self.items = {(i["PK"], i["SK"]): ddb.to_item(i) for i in items or []}
        self.transactions: list[list[dict[str, Any]]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        wanted = RequestItems[TABLE]["Keys"]
        found = [self.items.get((k["PK"]["S"], k["SK"]["S"])) for k in wanted]
        return {"Responses": {TABLE: [f for f in found if f is not None]}}

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert len(TransactItems) <= TRANSACT_WRITE_LIMIT, len(TransactItems)  # DynamoDB's refusal
        self.transactions.append(list(TransactItems))
        return {}


def detail_types(transaction: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        op["Put"]["Item"]["detail_type"]["S"]
        for op in transaction
        if "Put" in op and op["Put"]["Item"]["PK"]["S"].startswith("OUTBOX#")
    )


def skus(n: int) -> list[str]:
    return [f"S{i:02d}" for i in range(n)]


def test_the_limit_is_the_widest_checkout_whose_worst_case_confirmation_fits() -> None:
    # The confirmation is the widest transaction: 3 + 5 per SKU (StockLow included) <= 100.
    assert checkout_api.MAX_DISTINCT_SKUS == MAX_DISTINCT_SKUS == 19
    assert confirmation_items(MAX_DISTINCT_SKUS) == 98 <= TRANSACT_WRITE_LIMIT
    assert confirmation_items(MAX_DISTINCT_SKUS + 1) > TRANSACT_WRITE_LIMIT
    # The checkout's own transaction (2 per SKU + 5) is well within.
    assert reservation_items(MAX_DISTINCT_SKUS) == 43 <= TRANSACT_WRITE_LIMIT
    assert transaction_sizes.CONFIRMATION_ITEMS_PER_SKU >= transaction_sizes.RESERVATION_ITEMS_PER_SKU


# -- the confirmation --------------------------------------------------------------------------------


def wide_checkout(codes: list[str]) -> CheckoutRecord:
    lines = tuple(CheckoutLineRecord(s, f"Item {s}", 1, 300, 300, 0, 0, False) for s in codes)
    total = 300 * len(codes)
    return CheckoutRecord(
        id=CHECKOUT, token_hash="h", status="awaiting_payment", email="s@example.com",
        email_hash="e", phone=None, marketing_consent=False, lines=lines, currency="EUR",
        subtotal=total, discount=0, shipping=0, tax=0, total=total, prices_include_tax=True,
        tax_rate_bps=0, shipping_method="standard", shipping_address={"country": "IE"},
        redemption=PromotionRedemption("TEN", "e", 5, 1),
        created_at=AT, updated_at=AT, expires_at=AT, payment={"payment_intent_id": PI},
        reserved={s: 1 for s in codes},
    )  # fmt: skip


def about_to_run_low(sku: str) -> dict[str, Any]:
    """2 on hand, 1 of them reserved by the checkout: sellable 1 <= threshold 1, but the stock domain
    last saw it at 2 (not low). The sale is the first stock write to see it: StockLow (worst case)."""
    pk, sk = keys.sku(sku)
    return {
        "PK": pk, "SK": sk, "sku": sku, "on_hand": 2, "reserved": 1, "available": 1,
        "backorder_limit": 0, "low_stock_threshold": 1, "low_stock": False, "stock_version": 1,
        "fifo": FIFO.encode(FifoStock((CostLayer(1, 2, 100),), 0, 2)),
    }  # fmt: skip


def confirm(n: int) -> list[dict[str, Any]]:
    """The one transaction `confirm_order` writes for a paid checkout of `n` SKUs, each crossing its
    low-stock threshold."""
    codes = skus(n)
    checkout = wide_checkout(codes)
    client = RecordingClient([CHECKOUT_ITEM.plain(checkout), *(about_to_run_low(s) for s in codes)])
    orders = DynamoOrderWorkflowStore(TABLE, client)
    # Confirming a paid checkout neither expires checkouts nor resumes a workflow: no such ports.
    no_checkouts: Any = None
    no_workflow: Any = None
    lifecycle = OrderLifecycle(
        orders, no_checkouts, InMemoryPaymentStore(), FakePaymentGateway(), no_workflow, FixedClock()
    )
    paid = {"outcome": "paid", "payment_intent_id": PI, "amount": checkout.total, "skus": codes}
    assert lifecycle.confirm_order(CHECKOUT, paid)["outcome"] == "confirmed"
    (transaction,) = client.transactions
    return transaction


@pytest.mark.parametrize("n", [1, 2, MAX_DISTINCT_SKUS])
def test_a_confirmation_writes_exactly_the_counted_items(n: int) -> None:
    transaction = confirm(n)
    assert len(transaction) == confirmation_items(n)
    # Worst case indeed: every SKU's sale raised StockLow.
    assert detail_types(transaction) == Counter({"OrderConfirmed": 1, "StockAdjusted": n, "StockLow": n})


def test_the_widest_checkout_confirms_in_one_transaction_of_at_most_100_items() -> None:
    transaction = confirm(MAX_DISTINCT_SKUS)
    assert len(transaction) == confirmation_items(MAX_DISTINCT_SKUS) <= TRANSACT_WRITE_LIMIT


# -- the checkout's own transactions (create, expire, cancel) ---------------------------------------


class AlsoInDynamo(InMemoryCheckoutRepository):
    """The in-memory checkout store that also builds each write as the DynamoDB adapter does."""

    def __init__(self) -> None:
        super().__init__()
        self.client = RecordingClient()
        self.dynamo = DynamoCheckoutRepository(TABLE, self.client)

    def create(self, checkout: CheckoutRecord, events: Any) -> None:
        super().create(checkout, events)
        self.dynamo.create(checkout, events)

    def release(
        self, checkout: CheckoutRecord, new_status: str, at: str, events: Any, *, unpaid_only: bool = False
    ) -> bool:
        released = super().release(checkout, new_status, at, events, unpaid_only=unpaid_only)
        self.dynamo.release(checkout, new_status, at, events, unpaid_only=unpaid_only)
        return released


@pytest.mark.parametrize("ending", ["expired", "cancelled"])
def test_creating_and_releasing_the_widest_checkout_fit_one_transaction_each(ending: str) -> None:
    store = AlsoInDynamo()
    for sku in skus(MAX_DISTINCT_SKUS):
        store.add_sku(sku, price=300, on_hand=5)
    # A code with both limits: both promotion counters are in the transaction (worst case).
    promotion = Promotion(code="TEN", kind="percentage", value=1000, max_redemptions=5, max_per_email=1)
    InMemoryPromotionRepository(store).create(promotion, "2026-01-01T00:00:00.000Z")
    clock = FixedClock()
    service = CheckoutService(store, clock, ShopSettings(), 900, FakePaymentStarter(), backoff=lambda a: None)

    created = service.create_checkout(
        body(*[(s, 1) for s in skus(MAX_DISTINCT_SKUS)], promo_code="TEN"), token="t"
    )
    clock.advance(901)
    if ending == "expired":
        assert service.expire_checkout(created.id)
    else:
        assert CheckoutLink(store, service, clock).cancel(created.id)

    create, release = store.client.transactions
    assert len(create) == reservation_items(MAX_DISTINCT_SKUS) <= TRANSACT_WRITE_LIMIT
    assert len(release) <= reservation_items(MAX_DISTINCT_SKUS)
    assert store.checkouts[created.id].status == ending


# -- replacing a product's variants -----------------------------------------------------------------


def test_a_product_update_touches_at_most_as_many_skus_as_one_transaction_holds() -> None:
    # The product, the category (when it changes) and one item per SKU kept, added or removed
    assert transaction_sizes.MAX_SKUS_PER_PRODUCT_UPDATE == 98
    assert transaction_sizes.product_update_items(98) == TRANSACT_WRITE_LIMIT
    assert transaction_sizes.product_update_items(99) > TRANSACT_WRITE_LIMIT


def _catalog(table: str) -> Any:
    from cloudtill.catalog.dynamo import DynamoProductRepository
    from cloudtill.catalog.service import CatalogService

    return CatalogService(DynamoProductRepository(table), FixedClock(), "EUR")


def _variants(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"sku": f"{prefix}-{i}", "name": "n", "price": 100} for i in range(n)]


def _transaction_sizes(client: Any) -> list[int]:
    sizes: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        sizes.append(len(params["TransactItems"]))

    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", count)
    return sizes


def test_replacing_50_variants_by_50_others_is_422_on_variants_and_changes_nothing(main_table: str) -> None:  # noqa: F811
    from cloudtill.catalog.api import ProductIn, ProductUpdate
    from cloudtill.errors import ValidationFailed

    catalog = _catalog(main_table)
    product = catalog.create_product(ProductIn(name="Tee", category="tees", variants=_variants("OLD", 50)))
    update = ProductUpdate(name="Tee", category="tops", version=1, variants=_variants("NEW", 50))
    sizes = _transaction_sizes(ddb.client())

    with pytest.raises(ValidationFailed) as refused:
        catalog.update_product(product.id, update)

    assert [e.field for e in refused.value.errors] == ["variants"]
    assert "at most 98" in refused.value.errors[0].message
    assert sizes == []  # nothing was even attempted
    unchanged = catalog.get_product(product.id)
    assert unchanged.version == 1 and unchanged.category == "tees"
    assert [v.sku for v in unchanged.variants] == [f"OLD-{i}" for i in range(50)]
    assert "Item" not in ddb.client().get_item(TableName=main_table, Key=ddb.key(*keys.sku("NEW-0")))


def test_the_widest_product_update_that_fits_is_one_transaction_of_at_most_100_items(main_table: str) -> None:  # noqa: F811
    from cloudtill.catalog.api import ProductIn, ProductUpdate

    catalog = _catalog(main_table)
    product = catalog.create_product(ProductIn(name="Tee", category="tees", variants=_variants("OLD", 50)))
    # 50 removed + 48 added = 98 SKUs touched, and a new category: the worst case that fits
    update = ProductUpdate(name="Tee", category="tops", version=1, variants=_variants("NEW", 48))
    sizes = _transaction_sizes(ddb.client())

    updated = catalog.update_product(product.id, update)

    assert sizes == [transaction_sizes.product_update_items(98)] == [TRANSACT_WRITE_LIMIT]
    assert updated.version == 2 and [v.sku for v in updated.variants] == [f"NEW-{i}" for i in range(48)]
