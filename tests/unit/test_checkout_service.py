"""Checkout use cases against in-memory fakes: pricing from the catalog, all-or-nothing reservation,
promotion limits, races between read and write, token-protected reads and expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudtill.checkout.api import MAX_DISTINCT_SKUS, CheckoutIn
from cloudtill.checkout.service import CheckoutService, PromotionService
from cloudtill.checkout.tokens import token_for_idempotency_key, token_hash, token_matches
from cloudtill.errors import Conflict, NotFound, OutOfStock, ServiceUnavailable, ValidationFailed
from cloudtill.promotions.rules import Promotion, PromotionIn
from cloudtill.settings import ShopSettings

from tests.fakes import (
    FakePaymentStarter,
    FixedClock,
    InMemoryCheckoutRepository,
    InMemoryPromotionRepository,
)

TTL = 900


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store() -> InMemoryCheckoutRepository:
    store = InMemoryCheckoutRepository()
    store.add_sku("MUG", price=1200, on_hand=10)
    store.add_sku("TEE", price=2500, on_hand=3, backorder_limit=2)
    store.add_sku("OLD", price=900, on_hand=5, active=False)
    return store


@pytest.fixture
def payments() -> FakePaymentStarter:
    return FakePaymentStarter()


@pytest.fixture
def service(
    store: InMemoryCheckoutRepository, clock: FixedClock, payments: FakePaymentStarter
) -> CheckoutService:
    return CheckoutService(store, clock, ShopSettings(), TTL, payments, backoff=lambda attempt: None)


def body(*lines: tuple[str, int], **overrides: Any) -> CheckoutIn:
    data: dict[str, Any] = {
        "email": "Ann@Example.com",
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        "shipping_address": {
            "name": "Ann",
            "line1": "1 Main Street",
            "city": "Dublin",
            "postal_code": "D01 X2Y3",
            "country": "ie",
        },
        **overrides,
    }
    return CheckoutIn.model_validate(data)


def add_promotion(store: InMemoryCheckoutRepository, **fields: Any) -> None:
    rules = {"code": "TEN", "kind": "percentage", "value": 1000, **fields}
    InMemoryPromotionRepository(store).create(Promotion(**rules), "2026-01-01T00:00:00.000Z")


def fields_of(error: pytest.ExceptionInfo[Any]) -> list[str]:
    return [e.field for e in error.value.errors]


def test_a_checkout_is_priced_from_the_catalog_and_reserves_its_lines(
    service: CheckoutService, store: InMemoryCheckoutRepository, clock: FixedClock
) -> None:
    # Given 10 mugs at 12.00 / When 2 mugs are checked out
    created = service.create_checkout(body(("MUG", 2)), token="secret-token")
    # Then the price is the catalog's, the totals add up, and 2 mugs are reserved until the TTL
    assert [(ln.sku, ln.unit_price, ln.line_total, ln.backordered) for ln in created.lines] == [
        ("MUG", 1200, 2400, False)
    ]
    assert created.subtotal - created.discount + created.shipping + created.tax == created.total
    assert created.total == 2400 + 495  # tax-inclusive shelf price + standard shipping
    assert created.status == "awaiting_payment" and created.order_id is None and created.payment is not None
    assert created.email == "ann@example.com"
    assert created.expires_at == "2026-11-23T12:15:00.000Z"
    assert store.available("MUG") == 8
    assert [e.detail_type for e in store.events] == ["CheckoutCreated", "StockReserved"]
    # And only a hash of the token is stored
    assert store.checkouts[created.id].token_hash == token_hash("secret-token") != "secret-token"


def test_lines_of_one_sku_are_merged_in_first_seen_order_and_backorders_are_flagged(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    # Given 3 tees in stock and 2 more allowed on backorder / When 2 + 2 tees are ordered
    created = service.create_checkout(body(("TEE", 2), ("MUG", 1), ("TEE", 2)), token="t")
    # Then the answer has one line per SKU, in the order first seen, and 4 tees are reserved
    assert [(ln.sku, ln.quantity, ln.line_total, ln.backordered) for ln in created.lines] == [
        ("TEE", 4, 10000, True),
        ("MUG", 1, 1200, False),
    ]
    assert store.available("TEE") == 1
    stored = store.checkouts[created.id]
    assert stored.reserved == {"TEE": 4, "MUG": 1}
    assert [(ln.sku, ln.quantity) for ln in stored.lines] == [("TEE", 4), ("MUG", 1)]
    (created_event,) = [e for e in store.events if e.detail_type == "CheckoutCreated"]
    assert [(ln["sku"], ln["quantity"]) for ln in created_event.detail["lines"]] == [("TEE", 4), ("MUG", 1)]


def test_the_shop_default_is_at_most_10_units_of_a_sku_per_checkout() -> None:
    assert ShopSettings().max_quantity_per_sku == 10


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([("BOLT", 11)], "lines[0].quantity"),  # one line beyond the limit
        ([("BOLT", 6), ("MUG", 1), ("BOLT", 5)], "lines[2].quantity"),  # the SKU's lines together
        ([("MUG", 1), ("BOLT", 999)], "lines[1].quantity"),
    ],
)
def test_more_units_of_a_sku_than_a_checkout_may_hold_is_422_naming_the_line_and_reserves_nothing(
    service: CheckoutService, store: InMemoryCheckoutRepository, lines: list[tuple[str, int]], field: str
) -> None:
    store.add_sku("BOLT", price=10, on_hand=100_000)
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(*lines), token="t")
    assert fields_of(error) == [field]
    assert "at most 10 of BOLT" in error.value.errors[0].message
    assert store.available("BOLT") == 100_000 and store.available("MUG") == 10
    assert not store.checkouts and not store.events
    # Exactly the limit is fine, on one line or several
    assert service.create_checkout(body(("BOLT", 6), ("BOLT", 4)), token="t").lines[0].quantity == 10


def test_the_per_sku_maximum_is_a_shop_setting(store: InMemoryCheckoutRepository, clock: FixedClock) -> None:
    shop = ShopSettings(max_quantity_per_sku=3)
    service = CheckoutService(store, clock, shop, TTL, FakePaymentStarter(), backoff=lambda attempt: None)
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(("MUG", 2), ("MUG", 2)), token="t")
    assert fields_of(error) == ["lines[1].quantity"]
    assert store.available("MUG") == 10
    assert service.create_checkout(body(("MUG", 3)), token="t").lines[0].quantity == 3


def test_out_of_stock_names_each_short_line_and_reserves_nothing(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    with pytest.raises(OutOfStock) as error:
        service.create_checkout(body(("MUG", 1), ("TEE", 4), ("TEE", 2)), token="t")
    assert fields_of(error) == ["lines[1].sku", "lines[2].sku"]
    assert error.value.extra["unavailable"] == [{"sku": "TEE", "requested": 6, "available": 5}]
    assert store.available("MUG") == 10 and store.available("TEE") == 5 and not store.checkouts


def test_unknown_and_inactive_skus_are_422_naming_the_line(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(("MUG", 1), ("NOPE", 1), ("OLD", 1)), token="t")
    assert fields_of(error) == ["lines[1].sku", "lines[2].sku"]
    assert store.available("MUG") == 10


def test_too_many_different_skus_for_one_transaction_is_422_on_lines(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    for i in range(MAX_DISTINCT_SKUS + 1):
        store.add_sku(f"S{i}", price=100, on_hand=5)
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(*[(f"S{i}", 1) for i in range(MAX_DISTINCT_SKUS + 1)]), token="t")
    assert fields_of(error) == ["lines"]
    assert service.create_checkout(body(*[(f"S{i}", 1) for i in range(MAX_DISTINCT_SKUS)]), token="t")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {
                "shipping_address": {
                    "name": "A",
                    "line1": "x",
                    "city": "y",
                    "postal_code": "z",
                    "country": "US",
                }
            },
            "shipping_address.country",
        ),
        ({"shipping_method": "teleport"}, "shipping_method"),
        ({"promo_code": "NOPE"}, "promo_code"),
    ],
)
def test_unsupported_destination_method_or_code_is_422(
    service: CheckoutService, store: InMemoryCheckoutRepository, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(("MUG", 1), **overrides), token="t")
    assert fields_of(error) == [field]
    assert store.available("MUG") == 10


def test_a_promotion_discounts_and_counts_one_redemption(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    add_promotion(store, max_redemptions=1)
    created = service.create_checkout(body(("MUG", 5), promo_code="ten"), token="t")
    assert created.promo_code == "TEN" and created.discount > 0
    assert created.subtotal - created.discount + created.shipping + created.tax == created.total
    assert created.total == 6000 - 600  # 10 % off, free shipping above 50.00
    assert store.promotions["TEN"].redeemed == 1
    # When the limit is reached the next shopper gets 422 on promo_code and reserves nothing
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(("MUG", 1), promo_code="TEN"), token="t")
    assert fields_of(error) == ["promo_code"]
    assert store.available("MUG") == 5


def test_the_per_email_limit_ignores_the_case_of_the_address(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    add_promotion(store, max_per_email=1)
    service.create_checkout(body(("MUG", 1), promo_code="TEN"), token="t")
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(("MUG", 1), promo_code="TEN", email=" ANN@example.COM"), token="t")
    assert fields_of(error) == ["promo_code"]
    assert service.create_checkout(body(("MUG", 1), promo_code="TEN", email="bob@example.com"), token="t")


def test_stock_taken_between_read_and_write_is_a_409_with_current_numbers(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    # Given another shopper takes 9 mugs after our read / When we try to reserve 2
    def competitor() -> None:
        store.sku_items["MUG"] = replace(store.sku_items["MUG"], reserved=9)

    store.before_write = competitor
    with pytest.raises(OutOfStock) as error:
        service.create_checkout(body(("MUG", 2)), token="t")
    assert error.value.extra["unavailable"] == [{"sku": "MUG", "requested": 2, "available": 1}]
    assert store.available("MUG") == 1 and not store.checkouts


def test_the_last_redemption_taken_between_read_and_write_is_a_422(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    add_promotion(store, max_redemptions=3)

    def competitor() -> None:
        store.promotions["TEN"] = replace(store.promotions["TEN"], redeemed=3)

    store.before_write = competitor
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(("MUG", 1), promo_code="TEN"), token="t")
    assert fields_of(error) == ["promo_code"]
    assert store.available("MUG") == 10


def test_a_contended_transaction_is_retried_then_reported_as_a_conflict(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    store.contended_writes = 1
    assert service.create_checkout(body(("MUG", 1)), token="t").status == "awaiting_payment"
    store.contended_writes = 10
    with pytest.raises(Conflict):
        service.create_checkout(body(("MUG", 1)), token="t")
    assert store.available("MUG") == 9


def test_reading_needs_the_right_token_and_hides_existence_otherwise(
    service: CheckoutService, store: InMemoryCheckoutRepository
) -> None:
    mine = service.create_checkout(body(("MUG", 1)), token="mine")
    theirs = service.create_checkout(body(("MUG", 1)), token="theirs")
    assert service.get_checkout(mine.id, "mine").model_dump() == mine.model_dump(exclude={"token"})
    for checkout_id, token in [(mine.id, None), (mine.id, ""), (mine.id, "theirs"), (theirs.id, "mine")]:
        with pytest.raises(NotFound) as error:
            service.get_checkout(checkout_id, token)
        assert str(error.value) == "No such checkout."
    with pytest.raises(NotFound):
        service.get_checkout("chk_unknown", "mine")


def test_expiry_gives_stock_and_redemption_back_exactly_once(
    service: CheckoutService, store: InMemoryCheckoutRepository, clock: FixedClock
) -> None:
    add_promotion(store, max_redemptions=5, max_per_email=1)
    created = service.create_checkout(body(("MUG", 3), ("TEE", 1), promo_code="TEN"), token="t")
    # Not yet due: nothing happens
    clock.advance(TTL - 1)
    assert service.release_expired().expired == 0
    assert service.expire_checkout(created.id) is False
    # Due: stock, promotion and per-email counters are back, status expired, events recorded
    clock.advance(1)
    result = service.release_expired()
    assert (result.expired, result.already_released) == (1, 0)
    assert store.available("MUG") == 10 and store.available("TEE") == 5
    assert store.promotions["TEN"].redeemed == 0
    assert service.get_checkout(created.id, "t").status == "expired"
    assert [e.detail_type for e in store.events][-2:] == ["StockReleased", "CheckoutExpired"]
    assert store.events[-2].detail["items"] == [{"sku": "MUG", "quantity": 3}, {"sku": "TEE", "quantity": 1}]
    # Running again changes nothing
    assert service.expire_checkout(created.id) is False
    assert service.release_expired().expired == 0
    assert len(store.events) == 4
    # And the same email may use the code again
    assert service.create_checkout(body(("MUG", 1), promo_code="TEN"), token="t").promo_code == "TEN"


def test_shipping_methods_are_listed_cheapest_first_and_unknown_countries_refused(
    service: CheckoutService,
) -> None:
    listed = service.shipping_methods("fr")
    assert listed.country == "FR" and [m.id for m in listed.methods] == ["standard", "express"]
    with pytest.raises(ValidationFailed) as error:
        service.shipping_methods("US")
    assert fields_of(error) == ["country"]


def test_promotions_are_created_once_and_report_redemptions(store: InMemoryCheckoutRepository) -> None:
    promotions = PromotionService(InMemoryPromotionRepository(store), FixedClock(), "EUR")
    created = promotions.create_promotion(
        PromotionIn(code="spring-5", kind="fixed", value=500, currency="EUR")
    )
    assert created.code == "SPRING-5" and created.redeemed == 0
    with pytest.raises(Conflict):
        promotions.create_promotion(PromotionIn(code="SPRING-5", kind="percentage", value=10))
    with pytest.raises(NotFound):
        promotions.get_promotion("NOPE")
    assert promotions.get_promotion("spring-5").redeemed == 0


def test_a_fixed_promotion_must_be_in_the_shop_currency(store: InMemoryCheckoutRepository) -> None:
    promotions = PromotionService(InMemoryPromotionRepository(store), FixedClock(), "EUR")
    with pytest.raises(ValidationFailed) as error:
        promotions.create_promotion(PromotionIn(code="USD5", kind="fixed", value=500, currency="USD"))
    assert fields_of(error) == ["currency"]


def test_an_idempotent_replay_derives_the_same_token_without_storing_it() -> None:
    token = token_for_idempotency_key("salt-1", "key-1")
    assert token == token_for_idempotency_key("salt-1", "key-1")
    assert token != token_for_idempotency_key("salt-2", "key-1")
    assert token != token_for_idempotency_key("salt-1", "key-2")
    assert token_matches(token, token_hash(token)) and not token_matches(None, token_hash(token))


def test_a_promotion_outside_its_window_is_refused(
    service: CheckoutService, store: InMemoryCheckoutRepository, clock: FixedClock
) -> None:
    add_promotion(store, ends_at=clock.now() + timedelta(seconds=10))
    clock.advance(10)
    with pytest.raises(ValidationFailed) as error:
        service.create_checkout(body(("MUG", 1), promo_code="TEN"), token="t")
    assert fields_of(error) == ["promo_code"]
    assert datetime(2026, 11, 23, tzinfo=UTC) < clock.now()


def test_checkout_opens_one_payment_for_its_total(
    service: CheckoutService, store: InMemoryCheckoutRepository, payments: FakePaymentStarter
) -> None:
    # Given stock, When a checkout is created, Then its payment is opened for exactly the quoted total
    created = service.create_checkout(body(("MUG", 2)), "token-1")
    assert payments.started == {created.id: (created.total, created.currency)}
    assert created.payment is not None and created.payment.payment_intent_id == f"pi_{created.id}"
    assert created.payment.failure_code is None
    assert store.checkouts[created.id].payment == created.payment.model_dump(exclude={"failure_code"})


@pytest.mark.parametrize(
    ("recorded", "status", "failure_code"),
    [
        (None, "requires_payment_method", None),
        (("awaiting_payment", None), "requires_payment_method", None),
        (("payment_failed", "card_declined"), "requires_payment_method", "card_declined"),
        (("requires_action", None), "requires_action", None),
        (("succeeded", None), "succeeded", None),
        (("canceled", "canceled"), "canceled", None),
    ],
)
def test_reading_a_checkout_shows_the_payments_current_status(
    service: CheckoutService,
    store: InMemoryCheckoutRepository,
    recorded: tuple[str, str | None] | None,
    status: str,
    failure_code: str | None,
) -> None:
    # Given a checkout whose payment record says `recorded`, When it is read, Then its payment says so
    created = service.create_checkout(body(("MUG", 1)), "token-1")
    assert created.payment is not None
    if recorded is not None:
        store.payment_states[created.payment.payment_intent_id] = recorded
    payment = service.get_checkout(created.id, "token-1").payment
    assert payment is not None
    assert (payment.status, payment.failure_code) == (status, failure_code)


def test_payment_provider_outage_gives_the_stock_back(
    service: CheckoutService, store: InMemoryCheckoutRepository, payments: FakePaymentStarter
) -> None:
    # Given the provider is down, When a checkout is created, Then 503 and nothing stays reserved
    payments.down = True
    with pytest.raises(ServiceUnavailable):
        service.create_checkout(body(("MUG", 2)), "token-1")
    assert store.sku_items["MUG"].reserved == 0
    assert [c.status for c in store.checkouts.values()] == ["cancelled"]


class BrokenWorkflow:
    def start(self, name: str, payload: dict[str, Any]) -> bool:
        raise RuntimeError("Step Functions unavailable")

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        return False


@pytest.mark.parametrize("failing", ["payment", "workflow"])
def test_a_checkout_cancelled_at_creation_emits_stock_released(
    store: InMemoryCheckoutRepository, clock: FixedClock, payments: FakePaymentStarter, failing: str
) -> None:
    # Given the payment provider or the order workflow cannot start
    payments.down = failing == "payment"
    workflow = BrokenWorkflow() if failing == "workflow" else None
    service = CheckoutService(store, clock, ShopSettings(), TTL, payments, lifecycle=workflow)
    # When a checkout is created, Then 503, and its release is announced like every other release
    with pytest.raises(ServiceUnavailable):
        service.create_checkout(body(("MUG", 2)), "token-1")
    released = [e.detail for e in store.events if e.detail_type == "StockReleased"]
    assert [(d["reason"], d["items"]) for d in released] == [("cancelled", [{"sku": "MUG", "quantity": 2}])]
    assert store.sku_items["MUG"].reserved == 0
