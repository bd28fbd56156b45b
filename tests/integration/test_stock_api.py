"""Stock administration through HTTP against the local backend: levels and FIFO value, the movement
ledger, refusals that write nothing, once-per-crossing StockLow in the outbox, reconciliation."""

from __future__ import annotations

import functools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from jsonschema import Draft202012Validator

from localrt.seed import demo_products
from tests.integration.conftest import RunningBackend

PROBLEM = "application/problem+json"
TABLE = "cloudtill-main"
SCHEMAS = Path(__file__).resolve().parents[2] / "events" / "schemas"


@functools.cache
def dynamodb(aws_endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def assert_problem(response: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    named = {e["field"] for e in body.get("errors", [])}
    assert set(fields) <= named, body
    return body


def new_sku(admin: httpx.Client, unique: str, price: int = 1500) -> str:
    sku = f"ST-{unique}"
    body = {
        "name": f"Stock test {unique}",
        "category": f"stock-{unique}",
        "variants": [{"sku": sku, "name": "One size", "price": price}],
    }
    response = admin.post("/admin/products", json=body)
    assert response.status_code == 201, response.text
    return sku


def move(admin: httpx.Client, sku: str, type_: str, quantity: int, **extra: Any) -> dict[str, Any]:
    response = admin.post(
        f"/admin/stock/{sku}/movements",
        json={"type": type_, "quantity": quantity, "reason": "integration test", **extra},
    )
    assert response.status_code == 201, response.text
    return response.json()


def stock(admin: httpx.Client, sku: str) -> dict[str, Any]:
    response = admin.get(f"/admin/stock/{sku}")
    assert response.status_code == 200, response.text
    return response.json()


def ledger(admin: httpx.Client, sku: str, limit: int = 100) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = admin.get(f"/admin/stock/{sku}/movements", params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


def outbox_events(backend: RunningBackend, sku: str, detail_type: str) -> list[dict[str, Any]]:
    """The outbox items the stock function committed for `sku` (read from the emulator's table)."""
    from cloudtill import ddb

    client = dynamodb(backend.aws_endpoint)
    scan: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "entity = :outbox AND detail_type = :type",
        "ExpressionAttributeValues": {":outbox": {"S": "outbox"}, ":type": {"S": detail_type}},
    }
    found = []
    while True:
        page = client.scan(**scan)
        found += [ddb.from_item(i) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted((e for e in found if e["detail"]["sku"] == sku), key=lambda e: e["time"])


def validator(detail_type: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{detail_type}.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_receipts_set_on_hand_and_fifo_value(admin: httpx.Client, unique: str) -> None:
    sku = new_sku(admin, unique)
    assert stock(admin, sku) == {
        "sku": sku,
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
        "reservable": 0,
        "low_stock_threshold": 0,
        "backorder_limit": 0,
        "low_stock": True,
        "value": 0,
        "unvalued_backorder": 0,
    }

    # Given 10 units at 1.00 and then 5 at 1.30
    move(admin, sku, "receive", 10, unit_cost=100)
    second = move(admin, sku, "receive", 5, unit_cost=130, reference="PO-7")
    assert (second["delta"], second["on_hand_after"], second["value_after"], second["reference"]) == (
        5,
        15,
        1650,
        "PO-7",
    )
    level = stock(admin, sku)
    assert (level["on_hand"], level["available"], level["reservable"], level["value"]) == (15, 15, 15, 1650)

    # When 12 are written off, the oldest layer goes first: 3 units at 1.30 remain
    write_off = move(admin, sku, "adjust", -12)
    assert write_off["cost_of_goods_sold"] == 10 * 100 + 2 * 130
    assert stock(admin, sku)["value"] == 3 * 130


def test_count_sets_on_hand_and_records_the_delta(admin: httpx.Client, unique: str) -> None:
    sku = new_sku(admin, unique)
    move(admin, sku, "receive", 20, unit_cost=50)
    counted = move(admin, sku, "count", 17)
    assert (counted["type"], counted["quantity"], counted["delta"], counted["on_hand_after"]) == (
        "count",
        17,
        -3,
        17,
    )
    found = move(admin, sku, "adjust", 4)
    assert (found["delta"], found["unit_cost"]) == (4, 50)  # valued at the latest known cost
    assert (stock(admin, sku)["on_hand"], stock(admin, sku)["value"]) == (21, 21 * 50)


def test_taking_more_than_reservable_is_409_and_writes_nothing(
    backend: RunningBackend, admin: httpx.Client, unique: str
) -> None:
    # Given 5 on hand and backorders allowed up to 2: 7 reservable
    sku = new_sku(admin, unique)
    move(admin, sku, "receive", 5, unit_cost=100)
    settings = admin.put(f"/admin/stock/{sku}/settings", json={"backorder_limit": 2})
    assert settings.status_code == 200, settings.text
    assert (settings.json()["reservable"], settings.json()["available"]) == (7, 5)
    before = (stock(admin, sku), ledger(admin, sku), outbox_events(backend, sku, "StockAdjusted"))

    # When more than that would be taken away, by adjustment or by count
    body = assert_problem(
        admin.post(f"/admin/stock/{sku}/movements", json={"type": "adjust", "quantity": -8, "reason": "x"}),
        409,
        "quantity",
    )
    assert body["reservable"] == 7
    refused_count = {"type": "adjust", "quantity": -100, "reason": "x"}
    assert_problem(admin.post(f"/admin/stock/{sku}/movements", json=refused_count), 409, "quantity")

    # Then nothing was written: level, ledger and outbox are as before
    assert (stock(admin, sku), ledger(admin, sku), outbox_events(backend, sku, "StockAdjusted")) == before

    # And exactly the reservable amount may go, into a backorder
    move(admin, sku, "adjust", -7)
    level = stock(admin, sku)
    assert (level["on_hand"], level["available"], level["reservable"], level["unvalued_backorder"]) == (
        -2,
        0,
        0,
        2,
    )


def test_ledger_pages_every_movement_once_newest_first(admin: httpx.Client, unique: str) -> None:
    sku = new_sku(admin, unique)
    created = [move(admin, sku, "receive", n, unit_cost=10)["id"] for n in range(1, 6)]
    for limit in (1, 2, 5, 100):
        seen = [m["id"] for m in ledger(admin, sku, limit)]
        assert seen == list(reversed(created)), f"limit={limit}"
    assert [m["quantity"] for m in ledger(admin, sku)] == [5, 4, 3, 2, 1]


def test_concurrent_movements_lose_no_update(admin: httpx.Client, unique: str) -> None:
    sku = new_sku(admin, unique)
    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(
            pool.map(
                lambda _: admin.post(
                    f"/admin/stock/{sku}/movements",
                    json={"type": "receive", "quantity": 2, "unit_cost": 10, "reason": "race"},
                ),
                range(6),
            )
        )
    accepted = [r for r in responses if r.status_code == 201]
    assert all(r.status_code in {201, 409} for r in responses), [r.text for r in responses]
    assert len(accepted) >= 1
    # Every accepted movement counted once, in the level and in the ledger
    assert stock(admin, sku)["on_hand"] == 2 * len(accepted)
    assert sorted(m["id"] for m in ledger(admin, sku)) == sorted(r.json()["id"] for r in accepted)


def test_stock_low_is_emitted_once_per_crossing(
    backend: RunningBackend, admin: httpx.Client, unique: str
) -> None:
    # Given a threshold of 5 and 10 units
    sku = new_sku(admin, unique)
    assert admin.put(f"/admin/stock/{sku}/settings", json={"low_stock_threshold": 5}).status_code == 200
    move(admin, sku, "receive", 10, unit_cost=100)
    assert outbox_events(backend, sku, "StockLow") == []

    # When it drops to 5 and then 3: one StockLow
    move(admin, sku, "adjust", -5)
    move(admin, sku, "adjust", -2)
    lows = outbox_events(backend, sku, "StockLow")
    assert [(e["detail"]["available"], e["detail"]["cause"]) for e in lows] == [(5, "movement")]
    assert stock(admin, sku)["low_stock"] is True

    # When it rises above 5 and drops again: a second one
    move(admin, sku, "receive", 10, unit_cost=100)
    assert stock(admin, sku)["low_stock"] is False
    move(admin, sku, "count", 1)
    lows = outbox_events(backend, sku, "StockLow")
    assert [e["detail"]["available"] for e in lows] == [5, 1]

    # Every movement emitted StockAdjusted; all events match their schemas
    adjusted = outbox_events(backend, sku, "StockAdjusted")
    assert [e["detail"]["type"] for e in adjusted] == ["receive", "adjust", "adjust", "receive", "count"]
    for event in adjusted + lows:
        assert event["source"] == "cloudtill.stock"
        validator(event["detail_type"]).validate(event["detail"])


@pytest.fixture(scope="module")
def untouched_sku(admin: httpx.Client) -> str:
    """One SKU for the refusal tests: each asserts its ledger is still empty afterwards."""
    return new_sku(admin, f"refusals-{time.time_ns() % 10**12:x}")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"type": "receive", "quantity": 0, "unit_cost": 100, "reason": "r"}, {"quantity"}),
        ({"type": "receive", "quantity": 3, "reason": "r"}, {"unit_cost"}),
        ({"type": "adjust", "quantity": 0, "reason": "r"}, {"quantity"}),
        ({"type": "count", "quantity": -1, "reason": "r"}, {"quantity"}),
        ({"type": "steal", "quantity": 1, "reason": "r"}, {"type"}),
        ({"type": "adjust", "quantity": "5", "reason": "r"}, {"quantity"}),
        ({"type": "adjust", "quantity": 1}, {"reason"}),
        ({"type": "receive", "quantity": 1, "unit_cost": -1, "reason": "r"}, {"unit_cost"}),
    ],
)
def test_bad_movements_are_422_naming_the_field(
    admin: httpx.Client, untouched_sku: str, body: dict[str, Any], fields: set[str]
) -> None:
    sku = untouched_sku
    response = admin.post(f"/admin/stock/{sku}/movements", json=body)
    assert_problem(response, 422, *fields)
    assert ledger(admin, sku) == []


def test_bad_settings_and_queries_are_422_naming_the_field(admin: httpx.Client, untouched_sku: str) -> None:
    sku = untouched_sku
    assert_problem(
        admin.put(f"/admin/stock/{sku}/settings", json={"backorder_limit": -1}), 422, "backorder_limit"
    )
    assert_problem(
        admin.put(f"/admin/stock/{sku}/settings", json={}), 422, "low_stock_threshold", "backorder_limit"
    )
    assert_problem(admin.get(f"/admin/stock/{sku}/movements", params={"limit": 0}), 422, "limit")
    # A cursor is opaque: one this listing did not issue is a bad request, 400 on `cursor`
    assert_problem(admin.get(f"/admin/stock/{sku}/movements", params={"cursor": "nonsense"}), 400, "cursor")


def test_a_cursor_of_another_skus_ledger_is_refused(admin: httpx.Client, unique: str) -> None:
    first, second = new_sku(admin, unique + "a"), new_sku(admin, unique + "b")
    for sku in (first, second):
        move(admin, sku, "receive", 1, unit_cost=1)
        move(admin, sku, "receive", 1, unit_cost=1)
    cursor = admin.get(f"/admin/stock/{first}/movements", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    assert_problem(admin.get(f"/admin/stock/{second}/movements", params={"cursor": cursor}), 400, "cursor")


def test_unknown_sku_is_404(admin: httpx.Client, unique: str) -> None:
    sku = f"NOPE-{unique}"
    assert_problem(admin.get(f"/admin/stock/{sku}"), 404)
    assert_problem(admin.get(f"/admin/stock/{sku}/movements"), 404)
    assert_problem(
        admin.post(
            f"/admin/stock/{sku}/movements",
            json={"type": "receive", "quantity": 1, "unit_cost": 1, "reason": "r"},
        ),
        404,
    )
    assert_problem(admin.put(f"/admin/stock/{sku}/settings", json={"low_stock_threshold": 1}), 404)
    assert_problem(admin.get("/admin/stock/reconciliation", params={"sku": sku}), 404, "sku")


def test_admin_stock_routes_need_the_admin_token(api: httpx.Client) -> None:
    response = api.get("/admin/stock/ANY-SKU")
    assert response.status_code == 401
    response = api.post(
        "/admin/stock/ANY-SKU/movements",
        json={"type": "receive", "quantity": 1, "unit_cost": 1, "reason": "r"},
    )
    assert response.status_code == 401


def test_reconciliation_catches_a_corrupted_reserved_counter(
    backend: RunningBackend, admin: httpx.Client, unique: str
) -> None:
    sku = new_sku(admin, unique)
    move(admin, sku, "receive", 4, unit_cost=100)
    clean = admin.get("/admin/stock/reconciliation", params={"sku": sku})
    assert clean.status_code == 200, clean.text
    assert clean.json() == {"ok": True, "checked": 1, "discrepancies": []}

    # When `reserved` is changed behind everyone's back (a leaked reservation)
    client = dynamodb(backend.aws_endpoint)
    key = {"PK": {"S": f"SKU#{sku}"}, "SK": {"S": "SKU"}}
    client.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET reserved = reserved + :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    try:
        report = admin.get("/admin/stock/reconciliation", params=[("sku", sku)])
        assert report.status_code == 200, report.text
        assert report.json()["ok"] is False
        found = {(d["sku"], d["check"], d["expected"], d["actual"]) for d in report.json()["discrepancies"]}
        assert found == {(sku, "reserved", 0, 2), (sku, "available", 2, 4)}
        # The all-SKU run sees it too
        everything = admin.get("/admin/stock/reconciliation").json()
        assert everything["checked"] > 1
        assert (sku, "reserved") in {(d["sku"], d["check"]) for d in everything["discrepancies"]}
    finally:
        # Put it back so other suites' all-SKU reconciliations stay clean
        client.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET reserved = reserved - :two",
            ExpressionAttributeValues={":two": {"N": "2"}},
        )
    assert admin.get("/admin/stock/reconciliation", params={"sku": sku}).json()["ok"] is True


def test_seeded_demo_stock_is_on_hand_valued_and_buyable(admin: httpx.Client, api: httpx.Client) -> None:
    stocked = {
        v["sku"]: (p["initial_stock"], v["price"])
        for p in demo_products()
        for v in p["variants"]
        if p["initial_stock"]
    }
    assert stocked
    for sku, (units, price) in stocked.items():
        level = stock(admin, sku)
        assert (level["on_hand"], level["value"]) == (units, units * (price // 3)), sku
    products = api.get("/products", params={"category": "mugs", "limit": 100}).json()["items"]
    buyable = [v for p in products for v in p["variants"] if v["sku"] in stocked]
    assert buyable and all(v["available"] > 0 for v in buyable)
