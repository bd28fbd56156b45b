"""The API's manners over HTTP: one timestamp format, a refund without a body, and error messages a
storefront developer can act on (docs/README.md, README "API overview")."""

from __future__ import annotations

import re

import httpx

from tests.integration.checkout_support import assert_problem, checkout_body, make_skus
from tests.integration.conftest import RunningBackend
from tests.integration.orders_support import (
    create_checkout,
    get_checkout,
    get_order,
    pay,
    payment_record,
    stocked_sku,
    wait_for,
    wait_for_order_id,
)

ONE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_a_refund_without_a_body_refunds_what_remains_and_the_order_counts_every_refund(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    # Given a paid order of 2 units, shipped, and 1 unit returned with a refund
    sku = stocked_sku(backend, admin, unique, 5, price=1000)
    checkout = create_checkout(api, (sku, 2))
    pay(api, checkout)
    order_id = wait_for_order_id(api, checkout)
    shipped = admin.post(
        f"/admin/orders/{order_id}/fulfillments", json={"carrier": "an_post", "tracking_number": "T1"}
    )
    assert shipped.status_code == 201, shipped.text
    returned = admin.post(
        f"/admin/orders/{order_id}/returns",
        json={"lines": [{"sku": sku, "quantity": 1}], "restock": True, "refund": True},
    )
    assert returned.status_code == 201, returned.text
    return_refund = returned.json()["refund_amount"]
    assert 0 < return_refund < checkout["total"]

    # When ops refunds with no body at all
    refunded = admin.post(f"/admin/orders/{order_id}/refunds")

    # Then it is `{}`: all that remains is refunded, and the order's refunded_amount counts both refunds
    assert refunded.status_code == 202, refunded.text
    assert refunded.json()["amount"] == checkout["total"] - return_refund
    assert get_order(admin, order_id)["refunded_amount"] == checkout["total"]
    record = wait_for(
        lambda: payment_record(backend, checkout["payment"]["payment_intent_id"]),
        lambda r: r is not None and int(r.get("refunded_amount", 0)) >= checkout["total"],
        "both refunds recorded (charge.refunded)",
    )
    assert sorted(record["refunds"].values()) == sorted([return_refund, checkout["total"] - return_refund])
    # and nothing is left to refund
    assert_problem(admin.post(f"/admin/orders/{order_id}/refunds"), 422, "amount")

    # and every timestamp it answered with has the one format
    order = get_order(admin, order_id)
    stamps = [
        order["created_at"],
        order["updated_at"],
        *(e["at"] for e in order["timeline"]),
        *(f["shipped_at"] for f in order["fulfillments"]),
        *(r["returned_at"] for r in order["returns"]),
        get_checkout(api, checkout)["created_at"],
        get_checkout(api, checkout)["expires_at"],
    ]
    assert [s for s in stamps if not ONE_FORMAT.fullmatch(s)] == []


def test_a_form_post_is_told_to_send_json(api: httpx.Client) -> None:
    response = api.post(
        "/checkouts",
        content="email=ann%40example.com",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    problem = assert_problem(response, 415, "body")
    assert "send JSON" in problem["errors"][0]["message"]


def test_invalid_json_says_where(api: httpx.Client) -> None:
    body = '{"email": "ann@example.com",\n "lines": [}'
    response = api.post("/checkouts", content=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 400, "body")
    assert (problem["line"], problem["column"]) == (2, 12)
    assert "line 2, column 12" in problem["detail"]


def test_a_repeated_sku_names_its_index(admin: httpx.Client, unique: str) -> None:
    variants = [{"sku": f"M-{unique}-{s}", "name": s, "price": 500} for s in ("A", "B", "C", "B")]
    response = admin.post(
        "/admin/products", json={"name": "Mug", "category": f"m-{unique}", "variants": variants}
    )
    problem = assert_problem(response, 409, "variants[3].sku")
    assert "variants[1].sku" in problem["detail"]


def test_a_country_we_do_not_ship_to_lists_where_we_ship(
    api: httpx.Client, admin: httpx.Client, unique: str
) -> None:
    problem = assert_problem(api.get("/shipping-methods", params={"country": "US"}), 422, "country")
    assert problem["ships_to"] == ["DE", "FR", "GB", "IE", "NL"]
    assert "we do not ship to 'US'; we ship to DE, FR, GB, IE, NL" in problem["detail"]
    [sku] = make_skus(admin, unique)
    body = checkout_body((sku, 1))
    body["shipping_address"]["country"] = "US"
    refused = assert_problem(api.post("/checkouts", json=body), 422, "shipping_address.country")
    assert refused["ships_to"] == ["DE", "FR", "GB", "IE", "NL"]


def test_a_pattern_failure_is_explained_in_words(admin: httpx.Client) -> None:
    problem = assert_problem(admin.get("/admin/orders", params={"date": "23/11/2026"}), 422, "date")
    assert problem["errors"] == [
        {"field": "date", "message": "must be a date written YYYY-MM-DD, such as 2026-11-23"}
    ]
    assert "\\d" not in problem["detail"]
