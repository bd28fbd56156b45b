"""Pure order rules: shipping (partial, limits), delivery, cancellation, returns and their refunds."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cloudtill.checkout.records import CheckoutLineRecord, CheckoutRecord
from cloudtill.errors import ValidationFailed
from cloudtill.orders import rules
from cloudtill.orders.records import OrderRecord

AT = "2026-11-23T12:00:00.000Z"


def checkout(prices_include_tax: bool = True) -> CheckoutRecord:
    lines = (
        CheckoutLineRecord("A", "Tee", 3, 1000, 3000, 300, 0, False),
        CheckoutLineRecord("B", "Mug", 1, 999, 999, 0, 0, False),
    )
    return CheckoutRecord(
        id="chk_" + "a" * 32, token_hash="h", status="awaiting_payment", email="s@example.com",
        email_hash="e", phone=None, marketing_consent=False, lines=lines, currency="EUR",
        subtotal=3999, discount=300, shipping=0, tax=0, total=3699, prices_include_tax=prices_include_tax,
        tax_rate_bps=0, shipping_method="standard", shipping_address={"country": "IE"}, redemption=None,
        created_at=AT, updated_at=AT, expires_at=AT, reserved={"A": 3, "B": 1},
    )  # fmt: skip


def order() -> OrderRecord:
    return rules.order_from_checkout(checkout(), "pi_1", {"A": 400, "B": 250}, AT)


def test_one_order_per_checkout_with_the_checkouts_lines_and_timeline() -> None:
    confirmed = order()
    assert confirmed.id == "ord_" + "a" * 32
    assert confirmed.status == "confirmed" and confirmed.total == 3699
    assert [e.event for e in confirmed.timeline] == ["checkout_created", "paid", "confirmed"]
    assert confirmed.line("A").unit_cost == 400  # type: ignore[union-attr]


def test_partial_then_complete_shipment() -> None:
    first, f1 = rules.ship(order(), "dhl", "T1", [("A", 2)], AT)
    assert first.status == "partially_shipped" and f1.lines == {"A": 2} and first.fulfilment_count == 1
    second, f2 = rules.ship(first, "an_post", "RX1", None, AT)
    assert second.status == "shipped" and f2.lines == {"A": 1, "B": 1} and f2.number == 2
    assert f2.tracking_url == "https://www.anpost.com/Post-Parcels/Track/History?item=RX1"
    assert second.version == first.version + 1


def test_shipping_more_than_is_left_or_an_unknown_sku_names_the_fields() -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.ship(order(), "dhl", "T1", [("A", 2), ("A", 2), ("Z", 1)], AT)
    assert [e.field for e in refused.value.errors] == ["lines[1].quantity", "lines[2].sku"]


def test_delivery_needs_everything_shipped_and_cancel_needs_nothing_shipped() -> None:
    with pytest.raises(rules.OrderStateConflict):
        rules.deliver(order(), AT)
    partial, _ = rules.ship(order(), "dhl", "T1", [("B", 1)], AT)
    with pytest.raises(rules.OrderStateConflict):
        rules.request_cancel(partial, AT)
    requested = rules.request_cancel(order(), AT)
    assert requested.cancel_requested
    with pytest.raises(rules.OrderStateConflict):  # a cancellation pending: no shipping
        rules.ship(requested, "dhl", "T1", None, AT)
    cancelled = rules.cancel(requested, AT)
    assert cancelled is not None and cancelled.status == "cancelled"
    # The cancel's refund is whatever the refund ledger has left: claimed by the workflow, not here.
    assert cancelled.refunded_amount == requested.refunded_amount
    assert rules.cancel(cancelled, AT) is None  # a retried cancellation does nothing


def test_returns_refund_what_was_paid_pro_rata_and_exactly_in_total() -> None:
    shipped, _ = rules.ship(order(), "dhl", "T1", None, AT)
    # Line A: 3000 - 300 discount = 2700 paid for 3 units
    after_one, r1 = rules.return_lines(shipped, [("A", 1)], restock=True, refund=True, at=AT)
    after_two, r2 = rules.return_lines(after_one, [("A", 2)], restock=False, refund=True, at=AT)
    assert (r1.refund_amount, r2.refund_amount) == (900, 1800)
    assert after_two.refunded_amount == 2700 and after_two.line("A").returned == 3  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed):
        rules.return_lines(after_two, [("A", 1)], restock=True, refund=True, at=AT)
    _, no_refund = rules.return_lines(shipped, [("B", 1)], restock=True, refund=False, at=AT)
    assert no_refund.refund_amount == 0


def test_uneven_returns_still_add_up_to_the_line() -> None:
    # A 3-unit line of 1000 with a 1-cent discount: 2999 paid, not divisible by 3
    base = rules.order_from_checkout(checkout(), "pi_1", {}, AT)
    line = base.lines[0]
    odd = replace(base, lines=(replace(line, discount=1), base.lines[1]))
    shipped, _ = rules.ship(odd, "dhl", "T", None, AT)
    amounts = []
    current = shipped
    for _ in range(3):
        current, ret = rules.return_lines(current, [("A", 1)], restock=False, refund=True, at=AT)
        amounts.append(ret.refund_amount)
    assert sum(amounts) == 2999 and max(amounts) - min(amounts) <= 1


# -- one SKU on several lines ------------------------------------------------------------------------
# Checkouts merge lines per SKU, but an order item holding two lines of one SKU (older checkouts, a
# hand-made order) must still ship, cancel, return and refund every unit of it.


def two_lines_of_a() -> OrderRecord:
    lines = (
        CheckoutLineRecord("A", "Tee", 1, 1000, 1000, 0, 0, False),
        CheckoutLineRecord("B", "Mug", 1, 999, 999, 0, 0, False),
        CheckoutLineRecord("A", "Tee", 2, 1000, 2000, 300, 0, False),  # 1700 paid for these two
    )
    record = replace(checkout(), lines=lines, subtotal=3999, discount=300, total=3699)
    return rules.order_from_checkout(record, "pi_1", {"A": 400, "B": 250}, AT)


def test_ordered_quantities_sum_every_line_of_a_sku() -> None:
    assert rules.ordered_quantities(two_lines_of_a()) == {"A": 3, "B": 1}


def test_shipping_everything_ships_every_line_of_a_sku() -> None:
    shipped, fulfilment = rules.ship(two_lines_of_a(), "dhl", "T1", None, AT)
    assert fulfilment.lines == {"A": 3, "B": 1}
    assert [ln.shipped for ln in shipped.lines] == [1, 1, 2]
    assert shipped.status == "shipped"


def test_a_partial_shipment_fills_the_lines_of_a_sku_in_order_within_their_sum() -> None:
    first, f1 = rules.ship(two_lines_of_a(), "dhl", "T1", [("A", 2)], AT)
    assert f1.lines == {"A": 2} and [ln.shipped for ln in first.lines] == [1, 0, 1]
    assert first.status == "partially_shipped"
    with pytest.raises(ValidationFailed) as refused:
        rules.ship(first, "dhl", "T2", [("A", 2)], AT)
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("lines[0].quantity", "at most 1 of A can be shipped")
    ]
    second, f2 = rules.ship(first, "dhl", "T2", [("A", 1), ("B", 1)], AT)
    assert f2.lines == {"A": 1, "B": 1} and second.status == "shipped"


def test_returns_across_lines_of_a_sku_refund_each_lines_paid_amount_and_all_of_it_in_total() -> None:
    shipped, _ = rules.ship(two_lines_of_a(), "dhl", "T1", None, AT)
    # Two of three A come back: the first line (1000 paid) and one of the second's two (1700 / 2)
    after_two, r1 = rules.return_lines(shipped, [("A", 2)], restock=True, refund=True, at=AT)
    assert r1.lines == {"A": 2} and r1.refund_amount == 1000 + 850
    after_three, r2 = rules.return_lines(after_two, [("A", 1)], restock=True, refund=True, at=AT)
    assert r2.refund_amount == 850
    assert r1.refund_amount + r2.refund_amount == 2700 == after_three.refunded_amount
    assert [ln.returned for ln in after_three.lines] == [1, 0, 2]
    with pytest.raises(ValidationFailed) as refused:
        rules.return_lines(after_three, [("A", 1)], restock=True, refund=True, at=AT)
    assert [e.field for e in refused.value.errors] == ["lines[0].quantity"]


def test_the_refund_of_a_skus_units_spans_its_lines() -> None:
    shipped, _ = rules.ship(two_lines_of_a(), "dhl", "T1", None, AT)
    assert rules.refund_for(shipped, {"A": 3}) == 2700
    assert rules.refund_for(shipped, {"A": 1, "B": 1}) == 1000 + 999
