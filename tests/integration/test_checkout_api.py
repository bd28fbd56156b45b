"""Checkout API through HTTP against the local backend: pricing, tokens, idempotency, validation,
stock reservation under concurrency and promotion limits under concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from cloudtill.checkout.api import MAX_DISTINCT_SKUS

from tests.integration.checkout_support import (
    assert_event_matches_schema,
    assert_problem,
    assert_totals_add_up,
    checkout_body,
    make_skus,
    outbox_events,
)
from tests.integration.conftest import RunningBackend
from tests.integration.invariants import assert_order_invariants, assert_reservations_reconcile
from tests.integration.orders_support import pay, wait_for_order_id
from tests.integration.stock_helpers import allow_backorders, counters, receive

THREADS = 25


def test_a_checkout_is_priced_from_the_catalog_and_read_back_only_with_its_token(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    # Given a 12.50 SKU with 10 on hand
    (sku,) = make_skus(admin, unique, price=1250)
    receive(backend, admin, sku, 10)
    # When a shopper checks out 3 of them (a price sent by the client is not even accepted)
    assert_problem(api.post("/checkouts", json=checkout_body((sku, 3), price=1)), 422, "price")
    response = api.post("/checkouts", json=checkout_body((sku, 3), shipping_method="express"))
    # Then it is 201, priced from the catalog, awaiting payment, and 3 units are reserved
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "awaiting_payment"
    assert created["lines"] == [
        {
            "sku": sku,
            "name": f"Checkout test {unique} - A",
            "quantity": 3,
            "unit_price": 1250,
            "line_total": 3750,
            "backordered": False,
        }
    ]
    assert created["currency"] == "EUR" and created["shipping_method"] == "express"
    assert created["total"] == 3750 + 1495
    assert_totals_add_up(created)
    assert created["order_id"] is None and created["token"]
    # The payment is opened at once, in the emulated Stripe, for exactly the quoted total.
    payment = created["payment"]
    assert payment["provider"] == "stripe" and payment["client_secret"].startswith(
        payment["payment_intent_id"]
    )
    stripe_base = api.get("/_local/stripe").json()["api_base"]
    intent = httpx.get(
        f"{stripe_base}/v1/payment_intents/{payment['payment_intent_id']}", auth=("sk_test_local", "")
    ).json()
    assert (intent["amount"], intent["currency"].upper()) == (created["total"], created["currency"])
    assert intent["metadata"] == {"checkout_id": created["id"]}
    assert counters(backend, sku)["available"] == 7
    assert_reservations_reconcile(backend, [sku], admin)

    # And it reads back with its token only; wrong, missing or another checkout's token look unknown
    read = api.get(f"/checkouts/{created['id']}", headers={"X-Checkout-Token": created["token"]})
    assert read.status_code == 200
    assert read.json() == {k: v for k, v in created.items() if k != "token"}
    other = api.post("/checkouts", json=checkout_body((sku, 1))).json()
    unknown = assert_problem(api.get("/checkouts/chk_0000", headers={"X-Checkout-Token": "x"}), 404)
    for headers in ({}, {"X-Checkout-Token": "wrong"}, {"X-Checkout-Token": other["token"]}):
        hidden = assert_problem(api.get(f"/checkouts/{created['id']}", headers=headers), 404)
        assert hidden == unknown

    # And the outbox holds CheckoutCreated + StockReserved, valid against their schemas
    events = outbox_events(backend, created["id"])
    assert sorted(e["detail_type"] for e in events) == ["CheckoutCreated", "StockReserved"]
    for event in events:
        assert_event_matches_schema(event)


def test_an_idempotent_replay_answers_the_same_and_reserves_once(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    (sku,) = make_skus(admin, unique)
    receive(backend, admin, sku, 10)
    body = checkout_body((sku, 2))
    key = {"Idempotency-Key": f"order-{unique}"}
    first = api.post("/checkouts", json=body, headers=key)
    again = api.post("/checkouts", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    # The replayed token works like the first one
    token = {"X-Checkout-Token": again.json()["token"]}
    assert api.get(f"/checkouts/{first.json()['id']}", headers=token).status_code == 200
    assert counters(backend, sku)["reserved"] == 2
    # The same key with another body is refused and reserves nothing
    reused = api.post("/checkouts", json=checkout_body((sku, 3)), headers=key)
    assert_problem(reused, 422, "Idempotency-Key")
    assert counters(backend, sku)["reserved"] == 2
    # A different key is a different checkout
    assert (
        api.post("/checkouts", json=body, headers={"Idempotency-Key": f"other-{unique}"}).status_code == 201
    )
    assert counters(backend, sku)["reserved"] == 4
    assert_reservations_reconcile(backend, [sku], admin)


@pytest.fixture(scope="module")
def stocked(backend: RunningBackend, admin: httpx.Client) -> dict[str, str]:
    """One SKU with 50 on hand and one inactive (archived) SKU, shared by the bad-input cases."""
    from tests.integration.conftest import free_port

    tag = f"bad{free_port()}"
    (sku,) = make_skus(admin, tag)
    receive(backend, admin, sku, 50)
    inactive_product = admin.post(
        "/admin/products",
        json={
            "name": "Gone",
            "category": f"co-{tag}",
            "variants": [{"sku": f"{tag}-OLD", "name": "x", "price": 5}],
        },
    ).json()
    assert admin.delete(f"/admin/products/{inactive_product['id']}").status_code == 204
    return {"sku": sku, "inactive": f"{tag}-OLD"}


def _bad_inputs() -> list[tuple[str, Any, str]]:
    """(case, body mutator or header, field the problem must name)."""

    def lines(*items: tuple[str | None, Any]) -> Any:
        return lambda s: {"lines": [{"sku": sku or s["sku"], "quantity": q} for sku, q in items]}

    return [
        ("unknown sku", lines((None, 1), ("NO-SUCH-SKU", 1)), "lines[1].sku"),
        ("inactive sku", lambda s: {"lines": [{"sku": s["inactive"], "quantity": 1}]}, "lines[0].sku"),
        ("quantity 0", lines((None, 0)), "lines[0].quantity"),
        ("negative quantity", lines((None, -2)), "lines[0].quantity"),
        ("fractional quantity", lines((None, 1.5)), "lines[0].quantity"),
        ("string quantity", lines((None, "2")), "lines[0].quantity"),
        ("huge quantity", lines((None, 10**30)), "lines[0].quantity"),
        ("1000 units", lines((None, 1000)), "lines[0].quantity"),
        # At most max_quantity_per_sku (10) units of a SKU per checkout, on one line or several
        ("11 units of a SKU", lines((None, 11)), "lines[0].quantity"),
        ("6 + 5 units of a SKU", lines((None, 6), (None, 5)), "lines[1].quantity"),
        ("no lines", lambda s: {"lines": []}, "lines"),
        ("500 lines", lambda s: {"lines": [{"sku": s["sku"], "quantity": 1}] * 500}, "lines"),
        ("invalid email", lambda s: {"email": "not-an-email"}, "email"),
        ("missing city", lambda s: {"shipping_address": _address(city=None)}, "shipping_address.city"),
        (
            "missing country",
            lambda s: {"shipping_address": _address(country=None)},
            "shipping_address.country",
        ),
        (
            "unsupported country",
            lambda s: {"shipping_address": _address(country="US")},
            "shipping_address.country",
        ),
        ("unknown shipping method", lambda s: {"shipping_method": "pigeon"}, "shipping_method"),
        ("unknown promo code", lambda s: {"promo_code": "NO-SUCH-CODE"}, "promo_code"),
        ("unexpected field", lambda s: {"unit_price": 1}, "unit_price"),
        ("bad channel", lambda s: {"channel": "News Letter"}, "channel"),
        ("empty Idempotency-Key", {"Idempotency-Key": ""}, "Idempotency-Key"),
        ("long Idempotency-Key", {"Idempotency-Key": "k" * 256}, "Idempotency-Key"),
    ]


def _address(**changes: Any) -> dict[str, Any]:
    address = {**checkout_body()["shipping_address"], **changes}
    return {k: v for k, v in address.items() if v is not None}


@pytest.mark.parametrize(("case", "change", "field"), _bad_inputs(), ids=[c[0] for c in _bad_inputs()])
def test_bad_input_is_a_problem_naming_the_field_and_reserves_nothing(
    backend: RunningBackend,
    api: httpx.Client,
    stocked: dict[str, str],
    case: str,
    change: Any,
    field: str,
) -> None:
    before = counters(backend, stocked["sku"])
    body = checkout_body((stocked["sku"], 1))
    headers: dict[str, str] = {}
    if isinstance(change, dict):
        headers = change
    else:
        body.update(change(stocked))
    response = api.post("/checkouts", json=body, headers=headers)
    assert_problem(response, 422, field)
    assert counters(backend, stocked["sku"]) == before, case


def test_lines_of_one_sku_are_merged_into_one_line_in_first_seen_order(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    first, second = make_skus(admin, unique, names=("F", "S"), price=1000)
    receive(backend, admin, first, 10)
    receive(backend, admin, second, 10)
    response = api.post("/checkouts", json=checkout_body((first, 1), (second, 1), (first, 2)))
    assert response.status_code == 201, response.text
    created = response.json()
    assert [(ln["sku"], ln["quantity"], ln["line_total"]) for ln in created["lines"]] == [
        (first, 3, 3000),
        (second, 1, 1000),
    ]
    read = api.get(f"/checkouts/{created['id']}", headers={"X-Checkout-Token": created["token"]})
    assert read.json()["lines"] == created["lines"]
    assert counters(backend, first)["reserved"] == 3 and counters(backend, second)["reserved"] == 1
    assert_reservations_reconcile(backend, [first, second], admin)


def test_out_of_stock_is_409_naming_each_short_line_and_reserves_nothing(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    plenty, scarce = make_skus(admin, unique, names=("P", "S"))
    receive(backend, admin, plenty, 10)
    receive(backend, admin, scarce, 2)
    response = api.post("/checkouts", json=checkout_body((plenty, 1), (scarce, 2), (scarce, 1)))
    problem = assert_problem(response, 409)
    assert [e["field"] for e in problem["errors"]] == ["lines[1].sku", "lines[2].sku"]
    assert problem["unavailable"] == [{"sku": scarce, "requested": 3, "available": 2}]
    assert counters(backend, plenty)["reserved"] == counters(backend, scarce)["reserved"] == 0


def test_backorders_are_reserved_beyond_stock_up_to_the_limit(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    (sku,) = make_skus(admin, unique)
    receive(backend, admin, sku, 2)
    allow_backorders(backend, admin, sku, 3)
    created = api.post("/checkouts", json=checkout_body((sku, 4)))
    assert created.status_code == 201, created.text
    assert created.json()["lines"][0]["backordered"] is True
    assert_problem(api.post("/checkouts", json=checkout_body((sku, 2))), 409, "lines[0].sku")
    assert api.post("/checkouts", json=checkout_body((sku, 1))).status_code == 201
    assert counters(backend, sku)["available"] == 0
    assert_reservations_reconcile(backend, [sku], admin)


def test_the_widest_checkout_is_accepted_and_confirmed_and_one_sku_more_is_refused(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    # Given one SKU more than a checkout may hold, 2 on hand each and low at 1: a sale of the unit a
    # checkout reserves is the first stock write to see the SKU low, so its confirmation also writes
    # StockLow for every SKU (the widest confirmation there is)
    names = tuple(f"W{n:02d}" for n in range(MAX_DISTINCT_SKUS + 1))
    skus = make_skus(admin, unique, names, price=300)
    for sku in skus:
        receive(backend, admin, sku, 2)
        settings = admin.put(f"/admin/stock/{sku}/settings", json={"low_stock_threshold": 1})
        assert settings.status_code == 200, settings.text
    # When a shopper checks all of them out: 422 naming `lines`, and nothing is reserved
    too_wide = api.post("/checkouts", json=checkout_body(*((sku, 1) for sku in skus)))
    assert_problem(too_wide, 422, "lines")
    assert [counters(backend, sku)["reserved"] for sku in skus] == [0] * len(skus)
    # When one fewer: 201, one unit of each reserved
    widest = skus[:MAX_DISTINCT_SKUS]
    response = api.post("/checkouts", json=checkout_body(*((sku, 1) for sku in widest)))
    assert response.status_code == 201, response.text
    checkout = response.json()
    assert [counters(backend, sku)["reserved"] for sku in widest] == [1] * MAX_DISTINCT_SKUS
    # Then, once paid, it becomes an order: every unit sold, every SKU now flagged low
    pay(api, checkout)
    wait_for_order_id(api, checkout)
    for sku in widest:
        level = counters(backend, sku)
        assert (level["on_hand"], level["reserved"]) == (1, 0), sku
        stock = admin.get(f"/admin/stock/{sku}")
        assert stock.status_code == 200, stock.text
        assert stock.json()["low_stock"] is True, stock.json()
    assert counters(backend, skus[-1])["on_hand"] == 2
    assert_order_invariants(backend, [checkout["id"]], skus, admin)


def test_shipping_methods_for_a_country(api: httpx.Client) -> None:
    response = api.get("/shipping-methods", params={"country": "de"})
    assert response.status_code == 200
    listed = response.json()
    assert listed["country"] == "DE" and listed["currency"] == "EUR"
    assert [m["id"] for m in listed["methods"]] == ["standard", "express"]
    assert listed["methods"][0]["price"] <= listed["methods"][1]["price"]
    assert_problem(api.get("/shipping-methods", params={"country": "US"}), 422, "country")
    assert_problem(api.get("/shipping-methods"), 422, "country")


def _run_concurrently(bodies: list[dict[str, Any]], base_url: str) -> list[httpx.Response]:
    """POST every body from THREADS threads at once, each thread on its own kept-alive connection.

    The connections are opened one at a time before the burst: the local gateway's listen backlog
    is small (socketserver's default of 5), and a burst of connects would be reset or retried."""
    local = threading.local()
    clients: list[httpx.Client] = []
    connecting = threading.Lock()
    everyone_connected = threading.Barrier(THREADS)

    def connect(_: int) -> None:
        with connecting:
            local.client = httpx.Client(base_url=base_url, timeout=60)
            clients.append(local.client)
            assert local.client.get("/shipping-methods", params={"country": "IE"}).status_code == 200
        everyone_connected.wait(timeout=60)

    def post(body: dict[str, Any]) -> httpx.Response:
        return local.client.post("/checkouts", json=body)

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(connect, range(THREADS)))
            return list(pool.map(post, bodies))
    finally:
        for client in clients:
            client.close()


def test_100_concurrent_checkouts_for_25_units_sell_exactly_25(
    backend: RunningBackend, admin: httpx.Client, unique: str
) -> None:
    # Given 25 units on hand
    (sku,) = make_skus(admin, unique)
    receive(backend, admin, sku, 25)
    # While 100 shoppers check out one unit each at the same time, available is watched
    lowest = [25]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):  # sample, without crowding the emulator's one request queue
            lowest[0] = min(lowest[0], counters(backend, sku)["available"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        responses = _run_concurrently([checkout_body((sku, 1))] * 100, backend.base_url)
    finally:
        done.set()
        watcher.join()
    # Then exactly 25 are created, 75 are out of stock naming the line, and nothing is oversold
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 25, 409: 75}, statuses
    for refused in (r for r in responses if r.status_code == 409):
        assert_problem(refused, 409, "lines[0].sku")
    assert counters(backend, sku) == {"on_hand": 25, "reserved": 25, "available": 0, "backorder_limit": 0}
    assert lowest[0] >= 0
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 25
    assert_reservations_reconcile(backend, [sku], admin)


def test_promotion_admin_creates_once_and_reports_redemptions(admin: httpx.Client, api: httpx.Client) -> None:
    from tests.integration.conftest import free_port

    code = f"ADM-{free_port()}"
    body = {"code": code.lower(), "kind": "fixed", "value": 500, "currency": "EUR", "max_redemptions": 3}
    created = admin.post("/admin/promotions", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["code"] == code and created.json()["redeemed"] == 0
    assert_problem(admin.post("/admin/promotions", json=body), 409)
    assert admin.get(f"/admin/promotions/{code}").json()["redeemed"] == 0
    assert_problem(admin.get("/admin/promotions/NO-SUCH"), 404)
    assert api.post("/admin/promotions", json=body).status_code == 401
    assert_problem(admin.post("/admin/promotions", json={**body, "currency": "USD"}), 422, "currency")


def test_a_promotion_limited_to_5_is_redeemed_exactly_5_times_by_50_concurrent_checkouts(
    backend: RunningBackend, admin: httpx.Client, unique: str
) -> None:
    # Given plenty of stock and a 10 % code limited to 5 redemptions
    (sku,) = make_skus(admin, unique, price=2000)
    receive(backend, admin, sku, 60)
    code = f"LIMIT5-{unique}".upper()
    promo = {"code": code, "kind": "percentage", "value": 1000, "max_redemptions": 5}
    assert admin.post("/admin/promotions", json=promo).status_code == 201
    # When 50 shoppers (different emails) use it at once
    bodies = [checkout_body((sku, 1), promo_code=code, email=f"s{i}@example.com") for i in range(50)]
    responses = _run_concurrently(bodies, backend.base_url)
    # Then exactly 5 checkouts get the discount and 45 are refused on promo_code, reserving nothing
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 5, 422: 45}, statuses
    for created in (r.json() for r in responses if r.status_code == 201):
        assert created["promo_code"] == code and created["discount"] > 0
        assert_totals_add_up(created)
    for refused in (r for r in responses if r.status_code == 422):
        assert_problem(refused, 422, "promo_code")
    assert admin.get(f"/admin/promotions/{code}").json()["redeemed"] == 5
    assert counters(backend, sku)["reserved"] == 5
    assert_reservations_reconcile(backend, [sku], admin)


def test_the_per_email_limit_holds_whatever_the_case_of_the_address(
    backend: RunningBackend, admin: httpx.Client, api: httpx.Client, unique: str
) -> None:
    (sku,) = make_skus(admin, unique)
    receive(backend, admin, sku, 10)
    code = f"ONCE-{unique}".upper()
    assert (
        admin.post(
            "/admin/promotions", json={"code": code, "kind": "percentage", "value": 500, "max_per_email": 1}
        ).status_code
        == 201
    )
    first = api.post("/checkouts", json=checkout_body((sku, 1), promo_code=code, email="Pat@Example.com"))
    assert first.status_code == 201, first.text
    again = api.post("/checkouts", json=checkout_body((sku, 1), promo_code=code, email="pat@example.COM"))
    assert_problem(again, 422, "promo_code")
    assert api.post("/checkouts", json=checkout_body((sku, 1), promo_code=code.lower())).status_code == 201
    assert counters(backend, sku)["reserved"] == 2
