"""The items the order flow writes (orders, fulfilments, returns, the checkout and its reservations as
confirmed, the stock sold and restocked, refund claims and their pending items, task tokens and step
markers), attribute by attribute and type by type, against a snapshot taken from the adapters' output
(tests/unit/data/stored_order_items.json).

Stored items outlive code: existing data and the state machine's direct DynamoDB reads rely on these
names and types, so a change of the mapping code must leave every item exactly as it was. Real
adapters on moto; outbox events (random ids) are left out. `STORED_ITEMS_SNAPSHOT=write` rewrites it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cloudtill import keys
from cloudtill.catalog import service as catalog_service
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.service import CheckoutService
from cloudtill.clock import iso
from cloudtill.order_workflow.checkout_link import CheckoutLink, NoNewPayments
from cloudtill.order_workflow.contracts import PAYMENT_CANCELLED
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.orders.api import FulfilmentIn, OrderLineIn, ReturnIn
from cloudtill.orders.service import OrderService
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.records import PaymentRecord, RefundClaim
from cloudtill.settings import ShopSettings
from cloudtill.stock.api import MovementIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FakePaymentGateway, FakePaymentStarter, FixedClock
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_checkout_service import body
from tests.unit.test_stored_items import every_item

SNAPSHOT = Path(__file__).parent / "data" / "stored_order_items.json"


class Waiting:
    """The workflow port: every token is waiting (resumed), nothing is started."""

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        return True


def order_history(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three paid checkouts: one confirmed, shipped in part and returned with a refund; one confirmed
    and cancelled (restock, refund); one left with its PaymentIntent cancelled and a late refund
    claimed but never settled (a pending item for the sweep)."""
    clock = FixedClock()
    monkeypatch.setattr(catalog_service, "new_product_id", lambda: "prd_one")
    tees = [{"sku": "TEE-S", "name": "S", "price": 1500}, {"sku": "TEE-M", "name": "M", "price": 1500}]
    CatalogService(DynamoProductRepository(table), clock, "EUR").create_product(
        ProductIn(name="Tee", category="tees", variants=tees)  # type: ignore[arg-type]
    )
    stock = StockService(DynamoStockRepository(table), clock)
    for sku in ("TEE-S", "TEE-M"):
        stock.record_movement(sku, MovementIn(type="receive", quantity=10, unit_cost=400, reason="delivery"))

    ids = iter(["chk_one", "chk_two", "chk_three"])
    repository = DynamoCheckoutRepository(table)
    checkouts = CheckoutService(
        repository, clock, ShopSettings(), 900, FakePaymentStarter(), new_id=lambda: next(ids)
    )
    payments = DynamoPaymentStore(table)
    created = []
    for lines in ((("TEE-S", 3), ("TEE-M", 1)), (("TEE-S", 2),), (("TEE-M", 1),)):
        checkout = checkouts.create_checkout(body(*lines, promo_code=None), "token")
        assert checkout.payment is not None
        pi = checkout.payment.payment_intent_id
        payments.create(
            PaymentRecord(
                pi, checkout.id, checkout.total, "EUR", iso(clock.now()), iso(clock.now()),
                status="succeeded", amount_received=checkout.total,
            )
        )  # fmt: skip
        created.append((checkout.id, pi, checkout.total))
    store = DynamoOrderWorkflowStore(table)
    gateway = FakePaymentGateway(captured={pi: total for _, pi, total in created})
    link = CheckoutLink(
        repository, CheckoutService(repository, clock, ShopSettings(), 900, NoNewPayments()), clock
    )
    lifecycle = OrderLifecycle(store, link, payments, gateway, Waiting(), clock)
    orders = OrderService(store, payments, gateway, Waiting(), clock)

    (one, pi_one, _), (two, pi_two, _), (three, pi_three, total_three) = created
    clock.advance(30)
    lifecycle.await_payment(one, "pay-token-1")
    first = str(lifecycle.confirm_order(one, {"outcome": "paid", "payment_intent_id": pi_one})["order_id"])
    lifecycle.await_order(first, "wait-token-1", "fulfilment", 0)
    clock.advance(60)
    orders.fulfil(
        first,
        FulfilmentIn(carrier="dpd", tracking_number="T1", lines=[OrderLineIn(sku="TEE-S", quantity=2)]),
    )
    clock.advance(60)
    orders.record_return(
        first, ReturnIn(lines=[OrderLineIn(sku="TEE-S", quantity=1)], restock=True, refund=True)
    )

    second = str(lifecycle.confirm_order(two, {"outcome": "paid", "payment_intent_id": pi_two})["order_id"])
    clock.advance(60)
    orders.request_cancel(second)
    lifecycle.cancel_order(second)

    owner = keys.checkout(three)
    assert store.mark(owner, PAYMENT_CANCELLED, iso(clock.now()))
    late = RefundClaim(owner, "late", pi_three, total_three, {"checkout_id": three}, captured=total_three)
    assert store.claim_refund(late, iso(clock.now()), iso(clock.now())) is not None


def test_every_order_item_is_stored_exactly_as_before(
    main_table: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_history(main_table, monkeypatch)
    items = every_item(main_table)
    if os.environ.get("STORED_ITEMS_SNAPSHOT") == "write":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(items, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    # Keyed by PK/SK: a missing, extra or changed item is named in the diff.
    by_key = {(i["PK"]["S"], i["SK"]["S"]): i for i in expected}
    assert {(i["PK"]["S"], i["SK"]["S"]): i for i in items} == by_key
