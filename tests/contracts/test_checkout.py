"""Contract of `cloudtill.checkout.ports.CheckoutRepository`: the all-or-nothing reservation and
redemption of `create`, the conditional `release`, and the expiry listing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from cloudtill import keys
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.ports import CheckoutRepository, PromotionRepository, ReservationRejected
from cloudtill.checkout.records import CheckoutLineRecord, CheckoutRecord, PromotionRedemption
from cloudtill.promotions.dynamo import DynamoPromotionRepository
from cloudtill.promotions.rules import Promotion

from tests.contracts.conftest import Backend, sku_item
from tests.fakes import InMemoryCheckoutRepository, InMemoryPromotionRepository

AT = "2026-11-23T12:00:00Z"
EXPIRES = "2026-11-23T12:15:00Z"
EMAIL_HASH = "e" * 64


@dataclass
class Ports:
    checkouts: CheckoutRepository
    promotions: PromotionRepository


@pytest.fixture
def ports(backend: Backend) -> Ports:
    if backend.fake:
        fake = InMemoryCheckoutRepository()
        return Ports(fake, InMemoryPromotionRepository(fake))
    return Ports(
        DynamoCheckoutRepository(backend.table, backend.client),
        DynamoPromotionRepository(backend.table, backend.client),
    )


@pytest.fixture
def repo(ports: Ports) -> CheckoutRepository:
    return ports.checkouts


def given_sku(
    backend: Backend, repo: Any, sku: str, on_hand: int, *, backorder_limit: int = 0, active: bool = True
) -> None:
    if backend.fake:
        repo.add_sku(sku, 1000, on_hand, backorder_limit=backorder_limit, active=active)
    else:
        backend.put(sku_item(sku, on_hand=on_hand, backorder_limit=backorder_limit, active=active))


def given_backorder_limit(backend: Backend, repo: Any, sku: str, limit: int) -> None:
    """The stock domain changes the SKU's backorder limit (and `available` with it)."""
    if backend.fake:
        repo.sku_items[sku] = replace(repo.sku_items[sku], backorder_limit=limit)
        return
    before = backend.item(*keys.sku(sku))
    assert before is not None
    backend.put({**before, "backorder_limit": limit, "available": before["available"] + limit})


def given_paid(backend: Backend, repo: Any, checkout_id: str) -> None:
    """The payments webhook records the payment's outcome on the checkout."""
    outcome = {"outcome": "paid", "payment_intent_id": f"pi_{checkout_id}", "amount": 2000}
    if backend.fake:
        repo.checkouts[checkout_id] = replace(repo.checkouts[checkout_id], payment_outcome=outcome)
        return
    item = backend.item(*keys.checkout(checkout_id))
    assert item is not None
    backend.put({**item, "payment_outcome": outcome})


def checkout(
    checkout_id: str,
    reserved: dict[str, int],
    *,
    redemption: PromotionRedemption | None = None,
    expires_at: str = EXPIRES,
    backorder_limits: dict[str, int] | None = None,
    backordered: frozenset[str] = frozenset(),
) -> CheckoutRecord:
    lines = tuple(
        CheckoutLineRecord(sku, f"Item {sku}", qty, 1000, 1000 * qty, 0, 0, sku in backordered)
        for sku, qty in reserved.items()
    )
    subtotal = sum(line.line_total for line in lines)
    return CheckoutRecord(
        id=checkout_id,
        token_hash="t" * 64,
        status="awaiting_payment",
        email="shopper@example.com",
        email_hash=EMAIL_HASH,
        phone=None,
        marketing_consent=False,
        lines=lines,
        currency="EUR",
        subtotal=subtotal,
        discount=0,
        shipping=0,
        tax=0,
        total=subtotal,
        prices_include_tax=True,
        tax_rate_bps=0,
        shipping_method="standard",
        shipping_address={"name": "A Shopper", "line1": "1 Street", "city": "Town", "country": "DE"},
        redemption=redemption,
        created_at=AT,
        updated_at=AT,
        expires_at=expires_at,
        reserved=reserved,
        backorder_limits=backorder_limits or {},
    )


def promotion(code: str, **limits: Any) -> Promotion:
    return Promotion(code=code, kind="percentage", value=1000, **limits)


def redemption(code: str, max_redemptions: int | None = None, max_per_email: int | None = None) -> Any:
    return PromotionRedemption(code, EMAIL_HASH, max_redemptions, max_per_email)


def reserved(repo: CheckoutRepository, sku: str) -> int:
    return repo.skus([sku])[sku].reserved


def test_a_created_checkout_holds_units_and_reads_back(backend: Backend, repo: CheckoutRepository) -> None:
    given_sku(backend, repo, "A", 5)
    given_sku(backend, repo, "B", 5)
    created = checkout("c1", {"A": 2, "B": 1}, backorder_limits={"A": 0, "B": 0})
    repo.create(created, [])
    # The plan's backorder limits are a condition of the write, not part of the checkout.
    assert repo.get("c1") == replace(created, backorder_limits={})
    assert (reserved(repo, "A"), reserved(repo, "B")) == (2, 1)
    assert repo.get("c2") is None


def test_a_short_sku_rejects_the_whole_checkout_naming_it(backend: Backend, repo: CheckoutRepository) -> None:
    given_sku(backend, repo, "A", 5)
    given_sku(backend, repo, "B", 1)
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c1", {"A": 2, "B": 2}), [])
    assert rejected.value.short_skus == ("B",)
    assert not rejected.value.promotion_refused and not rejected.value.contended
    assert repo.get("c1") is None
    assert (reserved(repo, "A"), reserved(repo, "B")) == (0, 0)


def test_an_inactive_or_unknown_sku_is_short(backend: Backend, repo: CheckoutRepository) -> None:
    given_sku(backend, repo, "A", 5, active=False)
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c1", {"A": 1, "GHOST": 1}), [])
    assert sorted(rejected.value.short_skus) == ["A", "GHOST"]
    assert repo.skus(["A", "GHOST"]).keys() == {"A"}


def test_backorders_are_reservable_up_to_the_limit(backend: Backend, repo: CheckoutRepository) -> None:
    given_sku(backend, repo, "A", 1, backorder_limit=2)
    repo.create(checkout("c1", {"A": 3}, backorder_limits={"A": 2}, backordered=frozenset({"A"})), [])
    assert reserved(repo, "A") == 3
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c2", {"A": 1}, backorder_limits={"A": 2}, backordered=frozenset({"A"})), [])
    assert rejected.value.short_skus == ("A",)


def test_a_plan_made_under_another_backorder_limit_is_rejected(
    backend: Backend, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 1)
    given_backorder_limit(backend, repo, "A", 3)  # after the shopper's read
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c1", {"A": 1}, backorder_limits={"A": 0}), [])
    assert rejected.value.short_skus == ("A",)
    assert reserved(repo, "A") == 0


def test_a_line_planned_as_backordered_is_rejected_once_stock_covers_it(
    backend: Backend, repo: CheckoutRepository
) -> None:
    # Read: 0 on hand, limit 5 -> backordered. Meanwhile 5 arrive: the line would come from stock.
    given_sku(backend, repo, "A", 5, backorder_limit=5)
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c1", {"A": 2}, backorder_limits={"A": 5}, backordered=frozenset({"A"})), [])
    assert rejected.value.short_skus == ("A",)


def test_a_redemption_counts_once_per_checkout_and_per_email(
    backend: Backend, ports: Ports, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 5)
    ports.promotions.create(promotion("TEN", max_redemptions=5, max_per_email=2), AT)
    repo.create(checkout("c1", {"A": 1}, redemption=redemption("TEN", 5, 2)), [])
    stored = repo.promotion("TEN")
    assert stored is not None and stored.redeemed == 1
    assert repo.email_redemptions("TEN", EMAIL_HASH) == 1
    assert repo.email_redemptions("TEN", "f" * 64) == 0


def test_a_promotion_at_its_limit_rejects_the_checkout_and_holds_nothing(
    backend: Backend, ports: Ports, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 5)
    ports.promotions.create(promotion("ONCE", max_redemptions=1), AT)
    repo.create(checkout("c1", {"A": 1}, redemption=redemption("ONCE", 1)), [])
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c2", {"A": 1}, redemption=redemption("ONCE", 1)), [])
    assert rejected.value.promotion_refused and rejected.value.short_skus == ()
    assert repo.get("c2") is None and reserved(repo, "A") == 1
    stored = repo.promotion("ONCE")
    assert stored is not None and stored.redeemed == 1


def test_a_promotion_used_up_by_this_email_rejects_the_checkout(
    backend: Backend, ports: Ports, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 5)
    ports.promotions.create(promotion("MINE", max_per_email=1), AT)
    repo.create(checkout("c1", {"A": 1}, redemption=redemption("MINE", None, 1)), [])
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c2", {"A": 1}, redemption=redemption("MINE", None, 1)), [])
    assert rejected.value.promotion_refused
    assert repo.email_redemptions("MINE", EMAIL_HASH) == 1


@pytest.mark.parametrize("stored", ["inactive", "unknown"])
def test_an_inactive_or_unknown_promotion_rejects_the_checkout(
    backend: Backend, ports: Ports, repo: CheckoutRepository, stored: str
) -> None:
    given_sku(backend, repo, "A", 5)
    if stored == "inactive":
        ports.promotions.create(promotion("OFF", active=False), AT)
    with pytest.raises(ReservationRejected) as rejected:
        repo.create(checkout("c1", {"A": 1}, redemption=redemption("OFF")), [])
    assert rejected.value.promotion_refused


def test_release_gives_back_units_and_redemptions_once(
    backend: Backend, ports: Ports, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 5)
    ports.promotions.create(promotion("TEN", max_per_email=3), AT)
    held = checkout("c1", {"A": 2}, redemption=redemption("TEN", None, 3))
    repo.create(held, [])
    assert repo.release(held, "expired", "2026-11-23T12:16:00Z", []) is True
    stored = repo.get("c1")
    assert stored is not None and (stored.status, stored.updated_at) == ("expired", "2026-11-23T12:16:00Z")
    promo = repo.promotion("TEN")
    assert promo is not None and promo.redeemed == 0
    assert (reserved(repo, "A"), repo.email_redemptions("TEN", EMAIL_HASH)) == (0, 0)
    # Released already: a second release (a retry, or the other of expiry and cancel) changes nothing.
    assert repo.release(held, "cancelled", "2026-11-23T12:17:00Z", []) is False
    again = repo.get("c1")
    assert again is not None and again.status == "expired" and reserved(repo, "A") == 0


def test_release_of_unpaid_only_leaves_a_paid_checkout_alone(
    backend: Backend, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 5)
    held = checkout("c1", {"A": 2})
    repo.create(held, [])
    given_paid(backend, repo, "c1")
    assert repo.release(held, "expired", "2026-11-23T12:16:00Z", [], unpaid_only=True) is False
    stored = repo.get("c1")
    assert stored is not None and stored.status == "awaiting_payment" and reserved(repo, "A") == 2
    assert repo.release(held, "cancelled", "2026-11-23T12:16:00Z", []) is True


def test_expired_checkouts_are_those_still_holding_past_their_expiry(
    backend: Backend, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 10)
    early = checkout("c1", {"A": 1}, expires_at="2026-11-23T12:05:00Z")
    repo.create(early, [])
    repo.create(checkout("c2", {"A": 1}, expires_at="2026-11-23T12:10:00Z"), [])
    repo.create(checkout("c3", {"A": 1}, expires_at="2026-11-23T12:30:00Z"), [])
    assert sorted(repo.expired_checkout_ids("2026-11-23T12:10:00Z", 10)) == ["c1", "c2"]
    assert len(repo.expired_checkout_ids("2026-11-23T12:10:00Z", 1)) == 1
    repo.release(early, "expired", "2026-11-23T12:10:00Z", [])
    assert repo.expired_checkout_ids("2026-11-23T12:10:00Z", 10) == ["c2"]


def test_an_attached_payment_reads_back(backend: Backend, repo: CheckoutRepository) -> None:
    given_sku(backend, repo, "A", 5)
    repo.create(checkout("c1", {"A": 1}), [])
    payment = {"provider": "stripe", "payment_intent_id": "pi_1", "status": "requires_payment_method"}
    repo.attach_payment("c1", payment)
    stored = repo.get("c1")
    assert stored is not None and stored.payment == payment


def test_creating_a_checkout_id_twice_is_refused_and_holds_nothing_more(
    backend: Backend, repo: CheckoutRepository
) -> None:
    given_sku(backend, repo, "A", 5)
    first = checkout("c1", {"A": 2})
    repo.create(first, [])
    with pytest.raises(Exception):  # noqa: B017 - ids are fresh uuids: a repeat is a bug, whatever it raises
        repo.create(checkout("c1", {"A": 1}), [])
    assert repo.get("c1") == first
    assert reserved(repo, "A") == 2
