"""A seeded reporting scenario with hand-computed KPIs (docs/reporting.md), built from the schemas'
samples. Shared by the unit tests (pure) and the integration test (through the real event path).

Shop: EUR, Europe/Dublin (UTC+1 in July). Report day: 2026-07-15 (local).

order  confirmed (UTC)             local day                 customer         lines (qty x unit price)
G      2026-07-01T09:00:00.000Z   07-01                     gus              BAG-TAN 1 x 1500
F      2026-07-10T17:00:00.000Z   07-10                     eve              SOCK-GRY 1 x 500
A      2026-07-14T22:30:00.000Z   07-14 (23:30 local)       ann              TEE-BLK-M 2 x 2000
B      2026-07-14T23:30:00.000Z   07-15 (00:30 local)       ann, returning   TEE-BLK-M 1 x 2000 (disc 200)
       ... and MUG-WHT 3 x 1000 (disc 300), promotion SUMMER10
C      2026-07-15T10:00:00.000Z   07-15                     bob, new         MUG-WHT 1 x 1000
D      2026-07-15T22:59:59.999Z   07-15 (23:59:59.999)      cat, new         CAP-RED 1 x 2500
E      2026-07-15T23:00:00.000Z   07-16 (midnight local)    dan              CAP-RED 1 x 2500

Totals (subtotal, discount, shipping, tax, total): G 1220/0/0/280/1500, F 407/0/0/93/500,
A 3252/0/402/841/4495, B 4065/406/0/841/4500, C 813/0/402/280/1495, D and E 2033/0/0/467/2500.

Also on 07-15: order C cancelled (and refunded 1495), order A (from 07-14) refunded 1000, order B's
refund comes on 07-16; 5 checkouts created (1 on 07-14), 1 expired, 1 cancelled (StockReleased
cancelled; an expired StockReleased is not counted twice), 3 payments succeeded and 1 failed. Stock:
TEE-BLK-M at 3 available (an older movement arrives late and is ignored), threshold 5 -> low;
MUG-WHT 50; CAP-RED 1 with threshold 0 -> not low.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT_DAY = "2026-07-15"
TIMEZONE = "Europe/Dublin"


def sample(detail_type: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / "samples" / f"{detail_type}.json").read_text())


def envelope(detail_type: str, time: str, **changes: Any) -> dict[str, Any]:
    """A sample envelope of `detail_type` with `changes` to its detail and a fresh event id."""
    event = copy.deepcopy(sample(detail_type))
    event_id = str(uuid.uuid4())
    event["id"] = event_id
    event["time"] = time
    event["detail"].update(changes)
    event["detail"]["event_id"] = event_id
    return event


def order_id(name: str) -> str:
    """An order id of the schema's shape (`ord_` + 32 hex), stable per name."""
    return "ord_" + hashlib.md5(name.encode()).hexdigest()


def _line(sku: str, name: str, quantity: int, unit_price: int, discount: int, tax: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "quantity": quantity,
        "unit_price": unit_price,
        "line_total": quantity * unit_price,
        "discount": discount,
        "tax": tax,
    }


def _order(
    order: str,
    at: str,
    email: str,
    lines: list[dict[str, Any]],
    totals: tuple[int, int, int, int, int],
    promo: str | None = None,
) -> dict[str, Any]:
    subtotal, discount, shipping, tax, total = totals
    assert subtotal - discount + shipping + tax == total
    return envelope(
        "OrderConfirmed",
        at,
        order_id=order_id(order),
        email=email,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        tax=tax,
        total=total,
        promo_code=promo,
        lines=lines,
        confirmed_at=at,
    )


def scenario(suffix: str = "") -> dict[str, list[dict[str, Any]]]:
    """Events by name; `suffix` makes SKUs, emails and order ids unique (integration runs)."""

    def s(code: str) -> str:
        return f"{code}{suffix}"

    def mail(name: str) -> str:
        return f"{name}{suffix.lower()}@example.com"

    tee, mug, cap, bag, sock = s("TEE-BLK-M"), s("MUG-WHT"), s("CAP-RED"), s("BAG-TAN"), s("SOCK-GRY")
    orders = {
        "G": _order(
            s("G"),
            "2026-07-01T09:00:00.000Z",
            mail("gus"),
            [_line(bag, "Bag", 1, 1500, 0, 280)],
            (1220, 0, 0, 280, 1500),
        ),
        "F": _order(
            s("F"),
            "2026-07-10T17:00:00.000Z",
            mail("eve"),
            [_line(sock, "Socks", 1, 500, 0, 93)],
            (407, 0, 0, 93, 500),
        ),
        "A": _order(
            s("A"),
            "2026-07-14T22:30:00.000Z",
            mail("ann"),
            [_line(tee, "Tee - Black M", 2, 2000, 0, 748)],
            (3252, 0, 402, 841, 4495),
        ),
        "B": _order(
            s("B"),
            "2026-07-14T23:30:00.000Z",
            mail("ann"),
            [_line(tee, "Tee - Black M", 1, 2000, 200, 337), _line(mug, "Mug", 3, 1000, 300, 504)],
            (4065, 406, 0, 841, 4500),
            promo="SUMMER10",
        ),
        "C": _order(
            s("C"),
            "2026-07-15T10:00:00.000Z",
            mail("bob"),
            [_line(mug, "Mug", 1, 1000, 0, 187)],
            (813, 0, 402, 280, 1495),
        ),
        "D": _order(
            s("D"),
            "2026-07-15T22:59:59.999Z",
            mail("cat"),
            [_line(cap, "Cap - Red", 1, 2500, 0, 467)],
            (2033, 0, 0, 467, 2500),
        ),
        "E": _order(
            s("E"),
            "2026-07-15T23:00:00.000Z",
            mail("dan"),
            [_line(cap, "Cap - Red", 1, 2500, 0, 467)],
            (2033, 0, 0, 467, 2500),
        ),
    }
    other = [
        envelope(
            "OrderCancelled",
            "2026-07-15T12:00:00.000Z",
            order_id=order_id(s("C")),
            email=mail("bob"),
            refund_amount=1495,
            restocked=[{"sku": mug, "quantity": 1}],
            cancelled_at="2026-07-15T12:00:00.000Z",
        ),
        envelope(
            "RefundIssued", "2026-07-15T12:00:05.000Z", amount=1495, refunded_total=1495, fully_refunded=True
        ),
        envelope("RefundIssued", "2026-07-15T09:00:00.000Z", amount=1000, refunded_total=1000),
        envelope(
            "RefundIssued", "2026-07-16T08:00:00.000Z", amount=4500, refunded_total=4500, fully_refunded=True
        ),
        *[
            envelope("CheckoutCreated", t, created_at=t, expires_at=t)
            for t in (
                "2026-07-14T20:00:00.000Z",
                "2026-07-14T23:25:00.000Z",
                "2026-07-15T09:55:00.000Z",
                "2026-07-15T13:00:00.000Z",
                "2026-07-15T14:00:00.000Z",
                "2026-07-15T22:55:00.000Z",
            )
        ],
        envelope("CheckoutExpired", "2026-07-15T13:20:00.000Z", expired_at="2026-07-15T13:20:00.000Z"),
        envelope("StockReleased", "2026-07-15T14:10:00.000Z", reason="cancelled"),
        envelope("StockReleased", "2026-07-15T13:20:00.000Z", reason="expired"),
        *[
            envelope("PaymentSucceeded", t)
            for t in ("2026-07-14T23:29:00.000Z", "2026-07-15T09:59:00.000Z", "2026-07-15T22:59:00.000Z")
        ],
        envelope("PaymentFailed", "2026-07-15T14:05:00.000Z"),
    ]
    stock = [
        _stock(
            tee,
            "000000000005",
            "Tee - Black M",
            on_hand=3,
            available=3,
            value=3000,
            at="2026-07-15T20:00:00.000Z",
        ),
        _stock(
            mug, "000000000002", "Mug", on_hand=50, available=50, value=20000, at="2026-07-15T08:00:00.000Z"
        ),
        _stock(
            cap,
            "000000000007",
            "Cap - Red",
            on_hand=1,
            available=1,
            value=1200,
            at="2026-07-15T21:00:00.000Z",
        ),
        envelope(
            "StockLow",
            "2026-07-15T20:00:00.000Z",
            sku=tee,
            on_hand=3,
            reserved=0,
            available=3,
            reservable=3,
            low_stock_threshold=5,
        ),
        envelope(
            "StockLow",
            "2026-07-15T21:00:00.000Z",
            sku=cap,
            on_hand=1,
            reserved=0,
            available=1,
            reservable=1,
            low_stock_threshold=0,
        ),
    ]
    late_stock = [
        _stock(
            tee,
            "000000000004",
            "Tee - Black M",
            on_hand=10,
            available=10,
            value=10000,
            at="2026-07-15T19:00:00.000Z",
        )
    ]
    return {"orders": list(orders.values()), "other": other, "stock": stock, "late_stock": late_stock}


def _stock(
    sku: str, movement: str, name: str, *, on_hand: int, available: int, value: int, at: str
) -> dict[str, Any]:
    return envelope(
        "StockAdjusted",
        at,
        sku=sku,
        name=name,
        movement_id=movement,
        type="adjust",
        quantity=1,
        delta=1,
        on_hand=on_hand,
        reserved=0,
        available=available,
        reservable=available,
        value=value,
        cost_of_goods_sold=0,
        occurred_at=at,
    )


# The hand-computed report of 2026-07-15 (KPI section).
EXPECTED_KPIS: dict[str, Any] = {
    "orders": 3,  # B (00:30 local), C, D (23:59:59.999 local); not A (07-14) nor E (07-16)
    "gross_sales": 4065 + 813 + 2033,  # 6911
    "discounts": 406,
    "shipping": 402,
    "tax": 841 + 280 + 467,  # 1588
    "total_sales": 4500 + 1495 + 2500,  # 8495
    "refunds": {"count": 2, "amount": 1495 + 1000},  # C's and A's (A was ordered the day before)
    "net_sales": 8495 - 2495,  # 6000
    "average_order_value": 2832,  # 8495 / 3 = 2831.67 -> half up
    "units_sold": 4 + 1 + 1,
    "promo_orders": 1,
    "cancelled_orders": 1,
    "returns": {"count": 0, "units": 0},
    "customers": {"new": 2, "returning": 1},  # bob, cat new; ann returning (her first order was A)
    "checkouts": {"created": 5, "expired": 1, "cancelled": 1, "conversion_rate": 0.6},
    "payments": {"succeeded": 3, "failed": 1, "failure_rate": 0.25},  # 23:29Z on 07-14 is 00:29 local
}


def expected_top(suffix: str = "") -> dict[str, list[dict[str, Any]]]:
    tee = {"sku": f"TEE-BLK-M{suffix}", "name": "Tee - Black M", "units": 1, "revenue": 1800}
    mug = {"sku": f"MUG-WHT{suffix}", "name": "Mug", "units": 4, "revenue": 2700 + 1000}
    cap = {"sku": f"CAP-RED{suffix}", "name": "Cap - Red", "units": 1, "revenue": 2500}
    return {"by_revenue": [mug, cap, tee], "by_units": [mug, cap, tee]}


# 30-day revenue: TEE 4000 + 1800 = 5800, MUG 3700, CAP 2500, BAG 1500, SOCK 500 (total 14000):
# TEE (0 % before) A, MUG (41 %) A, CAP (68 %) A, BAG (86 %) B, SOCK (96 %) C.
EXPECTED_ABC_CLASSES = {
    "A": {"skus": 3, "revenue": 12000},
    "B": {"skus": 1, "revenue": 1500},
    "C": {"skus": 1, "revenue": 500},
}
EXPECTED_ABC = {"TEE-BLK-M": "A", "MUG-WHT": "A", "CAP-RED": "A", "BAG-TAN": "B", "SOCK-GRY": "C"}


def expected_low_stock(suffix: str = "") -> list[dict[str, Any]]:
    # TEE-BLK-M: 3 available, threshold 5; 3 units sold in 30 days -> 0.1 a day -> 30 days of cover.
    return [
        {
            "sku": f"TEE-BLK-M{suffix}",
            "name": "Tee - Black M",
            "on_hand": 3,
            "available": 3,
            "low_stock_threshold": 5,
            "avg_daily_units_30d": 0.1,
            "days_of_cover": 30.0,
        }
    ]


# -- margin, tax, customers, cohorts, acquisition -----------------------------------------------------
#
# Prices exclude tax. WIDGET's FIFO layers: 3 units at 400, then units at 600; GADGET at 1500.
#
# order  confirmed (UTC)        customer  country  lines                   tax  total  FIFO cost
# J1     2026-06-10T10:00Z      ann       IE 23 %  1 x WIDGET 1000         230  1230   400
# J2     2026-06-20T10:00Z      bob       DE 19 %  1 x WIDGET 1000         190  1190   400
# J3     2026-07-15T09:00Z      ann       IE       2 x WIDGET 1000         460  2460   400 + 600 (two layers)
# J4     2026-07-15T12:00Z      cat       DE       1 x GADGET 3000         570  3570   1500
# J4 is returned and restocked at 15:00Z (unit cost 1500 back into the layers), refunded 3570
# (its tax 570 refunded). Channels: ann's first order `mail`, cat's `ads`, bob none. Marketing spend on
# 07-15: ads 5000, mail 1000.

MARGIN_SPEND = [("2026-07-15", "ads", 5000), ("2026-07-15", "mail", 1000)]


def _plain_order(
    name: str,
    at: str,
    email: str,
    country: str,
    sku: str,
    quantity: int,
    price: int,
    rate_bps: int,
    cost: int,
    channel: str | None,
) -> dict[str, Any]:
    subtotal = quantity * price
    tax = subtotal * rate_bps // 10_000
    event = envelope(
        "OrderConfirmed",
        at,
        order_id=order_id(name),
        email=email,
        subtotal=subtotal,
        discount=0,
        shipping=0,
        tax=tax,
        total=subtotal + tax,
        promo_code=None,
        prices_include_tax=False,
        lines=[
            {
                **_line(sku, sku.title(), quantity, price, 0, tax),
                "unit_cost": cost // quantity,
                "cost_of_goods_sold": cost,
            }
        ],
        confirmed_at=at,
    )
    event["detail"]["shipping_address"] = {**event["detail"]["shipping_address"], "country": country}
    if channel:
        event["detail"]["channel"] = channel
    return event


def margin_scenario(suffix: str = "") -> list[dict[str, Any]]:
    widget, gadget = f"WIDGET{suffix}", f"GADGET{suffix}"

    def mail(name: str) -> str:
        return f"{name}{suffix.lower()}@example.com"

    return [
        _plain_order(
            f"J1{suffix}", "2026-06-10T10:00:00.000Z", mail("ann"), "IE", widget, 1, 1000, 2300, 400, "mail"
        ),
        _plain_order(
            f"J2{suffix}", "2026-06-20T10:00:00.000Z", mail("bob"), "DE", widget, 1, 1000, 1900, 400, None
        ),
        _plain_order(
            f"J3{suffix}", "2026-07-15T09:00:00.000Z", mail("ann"), "IE", widget, 2, 1000, 2300, 1000, None
        ),
        _plain_order(
            f"J4{suffix}", "2026-07-15T12:00:00.000Z", mail("cat"), "DE", gadget, 1, 3000, 1900, 1500, "ads"
        ),
        envelope(
            "OrderReturned",
            "2026-07-15T15:00:00.000Z",
            order_id=order_id(f"J4{suffix}"),
            email=mail("cat"),
            lines=[{"sku": gadget, "quantity": 1, "unit_cost": 1500}],
            restocked=True,
            refund_amount=3570,
            country="DE",
            tax_refunded=570,
            returned_at="2026-07-15T15:00:00.000Z",
        ),
        envelope(
            "RefundIssued", "2026-07-15T15:00:05.000Z", amount=3570, refunded_total=3570, fully_refunded=True
        ),
    ]


EXPECTED_MARGIN = {
    # revenue = total sales - tax - refunds + tax refunded; cost = FIFO cost sold - cost restocked
    "day": {
        "revenue": 6030 - 1030 - 3570 + 570,
        "cogs": 1000 + 1500 - 1500,
        "gross_margin": 1000,
        "gross_margin_bps": 5000,
    },
    # + J2 (06-20): revenue 1000, cost 400; J1 (06-10) is outside the 30 days
    "trailing_30d": {"revenue": 3000, "cogs": 1400, "gross_margin": 1600, "gross_margin_bps": 5333},
}
EXPECTED_TAX_COUNTRIES = [
    {
        "country": "DE",
        "collected": 570,
        "refunded": 570,
        "net": 0,
        "collected_mtd": 570,
        "refunded_mtd": 570,
        "net_mtd": 0,
    },
    {
        "country": "IE",
        "collected": 460,
        "refunded": 0,
        "net": 460,
        "collected_mtd": 460,
        "refunded_mtd": 0,
        "net_mtd": 460,
    },
]
EXPECTED_CUSTOMERS = {
    "new": 1,  # cat
    "returning": 1,  # ann (first order in June)
    "to_date": 3,
    "repeat_customers_to_date": 1,  # ann
    "repeat_purchase_rate_bps": 3333,
    "clv": {
        "historic_average": 2817,  # (1230 + 1190 + 2460 + 3570) / 3 = 2816.67
        # AOV 8450 / 4 = 2112.5; customer-months: June's 2 customers x 2 months + cat 1 = 5, so 0.8
        # orders per customer-month; churn: 1 of June's 2 ordered in July -> 50 % -> 2 months.
        "predicted_average": 3380,  # 2112.5 x 0.8 x 2
        "average_order_value": 2113,
        "purchase_frequency_per_month": 0.8,
        "monthly_churn_bps": 5000,
        "expected_lifespan_months": 2.0,
    },
}
EXPECTED_COHORTS = {
    "through": "2026-07",
    "offsets": [0, 1],
    "rows": [
        {
            "cohort": "2026-06",
            "size": 2,
            "retention": [
                {"offset": 0, "month": "2026-06", "customers": 2, "share_bps": 10000},
                {"offset": 1, "month": "2026-07", "customers": 1, "share_bps": 5000},
            ],
        },
        {
            "cohort": "2026-07",
            "size": 1,
            "retention": [{"offset": 0, "month": "2026-07", "customers": 1, "share_bps": 10000}],
        },
    ],
}
EXPECTED_ACQUISITION = {
    "day": {
        "channels": [
            {"channel": "ads", "spend": 5000, "new_customers": 1, "cac": 5000},
            {"channel": "mail", "spend": 1000, "new_customers": 0, "cac": None},
        ],
        "total": {"spend": 6000, "new_customers": 1, "cac": 6000},
    },
    "trailing_30d": {
        "channels": [
            {"channel": "ads", "spend": 5000, "new_customers": 1, "cac": 5000},
            {"channel": "mail", "spend": 1000, "new_customers": 0, "cac": None},
            {"channel": "unattributed", "spend": 0, "new_customers": 1, "cac": 0},
        ],
        "total": {"spend": 6000, "new_customers": 2, "cac": 3000},
    },
}
