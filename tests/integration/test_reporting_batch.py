"""Batched aggregates on the real DynamoDB adapter (in-process moto, no backend): an SQS batch is
counted in one TransactWriteItems per 100 items, customers' markers are not read first, and the
result is exactly what counting the events one by one gives (redeliveries, shuffles, markers).

Round trips are counted by a client that wraps boto3 and counts every call by operation."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cloudtill.reporting.aggregates import days_back
from cloudtill.reporting.dynamo import DynamoAggregateStore
from cloudtill.reporting.kpis import build_report
from cloudtill.reporting.service import count_event, count_events
from moto import mock_aws

from tests.reporting_scenario import EXPECTED_KPIS, REPORT_DAY, TIMEZONE, envelope, expected_top, scenario


class CallCounter:
    """Counts every DynamoDB call by operation; keeps the size of each transaction."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.transaction_sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method) or name.startswith("_") or name in {"exceptions", "meta"}:
            return method

        def counted(**kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "transact_write_items":
                self.transaction_sizes.append(len(kwargs["TransactItems"]))
            return method(**kwargs)

        return counted

    def reset(self) -> None:
        self.calls.clear()
        self.transaction_sizes.clear()


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        yield client


def store_on(dynamodb: Any) -> tuple[DynamoAggregateStore, CallCounter]:
    name = "t-" + uuid.uuid4().hex[:8]
    create_table(dynamodb, name)
    counter = CallCounter(dynamodb)
    return DynamoAggregateStore(name, client=counter), counter


def all_events(events: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return events["orders"] + events["other"] + events["stock"] + events["late_stock"]


def in_batches(store: DynamoAggregateStore, events: list[dict[str, Any]], size: int = 10) -> list[Any]:
    outcomes: list[Any] = []
    for start in range(0, len(events), size):
        outcomes += count_events(store, events[start : start + size], TIMEZONE)
    return outcomes


def state(store: DynamoAggregateStore, counter: CallCounter) -> dict[str, Any]:
    """Everything the consumer writes that the report reads, plus the markers (raw items)."""
    table = store._table
    client = counter._client
    days = sorted({REPORT_DAY, *days_back(REPORT_DAY, 40), "2026-07-16"})
    items = client.scan(TableName=table)["Items"]
    markers = sorted(
        (i["PK"]["S"], i["order_id"]["S"], i["day"]["S"])
        for i in items
        if i["PK"]["S"].startswith("CUSTOMER#")
    )
    lines = {day: sorted(store.order_lines(day), key=lambda i: i["SK"]) for day in days}
    stock = sorted(
        ({k: v for k, v in i.items() if k != "ttl"} for i in items if i["PK"]["S"] == "AGG#STOCK"),
        key=lambda i: i["SK"]["S"],
    )
    aggregates = {
        d.day: ({k: v for k, v in d.totals.items() if v}, d.skus, d.sku_names) for d in store.read_days(days)
    }
    return {"aggregates": aggregates, "markers": markers, "lines": lines, "stock": stock}


def report(store: DynamoAggregateStore) -> dict[str, Any]:
    return build_report(
        REPORT_DAY,
        timezone=TIMEZONE,
        currency="EUR",
        window=store.read_days(days_back(REPORT_DAY, 30)),
        stock=store.stock_snapshot(REPORT_DAY),
    )


def new_order(at: str, email: str, skus: list[str]) -> dict[str, Any]:
    lines = [
        {"sku": s, "name": s, "quantity": 1, "unit_price": 1000, "line_total": 1000, "discount": 0, "tax": 0}
        for s in skus
    ]
    total = 1000 * len(skus)
    return envelope(
        "OrderConfirmed",
        at,
        order_id="ord_" + uuid.uuid4().hex,
        email=email,
        subtotal=total,
        discount=0,
        shipping=0,
        tax=0,
        total=total,
        promo_code=None,
        lines=lines,
        confirmed_at=at,
    )


def test_a_batch_of_new_events_is_one_transaction_and_no_read(dynamodb: Any) -> None:
    # Given what one order sends the consumer (payment, confirmation of a new customer, stock level)
    # and other orders' events: 10 in one SQS batch
    store, counter = store_on(dynamodb)
    seeded = scenario()
    adjusted = [e for e in seeded["stock"] if e["detail_type"] == "StockAdjusted"]
    events = seeded["orders"][:5] + seeded["other"][:3] + adjusted[:2]
    assert {e["detail_type"] for e in events} >= {"OrderConfirmed", "StockAdjusted"}

    outcomes = count_events(store, events, TIMEZONE)

    # Then they are counted in ONE TransactWriteItems, without reading the customer markers
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert sum(counter.calls.values()) <= 1, counter.calls
    assert counter.calls["transact_write_items"] == 1
    # And the result is that of counting them one by one
    alone, _ = store_on(dynamodb)
    for event in events:
        count_event(alone, event, TIMEZONE)
    assert state(store, counter) == state(alone, counter)


def test_one_new_customer_order_is_one_call(dynamodb: Any) -> None:
    store, counter = store_on(dynamodb)
    assert count_events(
        store, [new_order("2026-07-15T10:00:00.000Z", "new@example.com", ["A"])], TIMEZONE
    ) == [True]
    assert counter.calls == Counter({"transact_write_items": 1})  # was GetItem + TransactWriteItems


def test_returning_customers_learn_their_markers_from_the_cancelled_transaction(dynamodb: Any) -> None:
    store, counter = store_on(dynamodb)
    first = [new_order(f"2026-07-15T1{n}:00:00.000Z", f"c{n}@example.com", ["A"]) for n in range(3)]
    count_events(store, first, TIMEZONE)
    counter.reset()
    # Later orders of the same three customers, and one earlier order of c0 (moves c0's new customer)
    again = [new_order(f"2026-07-16T1{n}:00:00.000Z", f"c{n}@example.com", ["B"]) for n in range(3)]
    earlier = new_order("2026-07-14T09:00:00.000Z", "c0@example.com", ["B"])

    assert count_events(store, [*again, earlier], TIMEZONE) == [True] * 4

    # Two round trips for the whole batch (not a read per customer): the first attempt is cancelled
    # and returns the stored markers
    assert counter.calls == Counter({"transact_write_items": 2}), counter.calls
    days = {d.day: d.totals for d in store.read_days(["2026-07-14", "2026-07-15", "2026-07-16"])}
    assert days["2026-07-14"].get("new_customers") == 1
    assert days["2026-07-15"].get("new_customers") == 2
    assert days["2026-07-15"].get("returning_customers") == 1
    assert days["2026-07-16"].get("returning_customers") == 3


def test_a_batch_with_an_already_counted_event_gives_the_one_by_one_result(dynamodb: Any) -> None:
    events = all_events(scenario())
    one_by_one, counter = store_on(dynamodb)
    for event in events:
        count_event(one_by_one, event, TIMEZONE)
    expected = state(one_by_one, counter)

    # Given some events already counted (a redelivery after a partial failure)
    store, _ = store_on(dynamodb)
    rng = random.Random(11)
    for event in rng.sample(events, 7):
        count_event(store, event, TIMEZONE)
    # When every event arrives again, shuffled, in SQS batches of 10
    shuffled = list(events)
    rng.shuffle(shuffled)
    outcomes = in_batches(store, shuffled)

    # Then nothing fails, nothing is counted twice and the aggregates are the same
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert state(store, counter) == expected
    assert report(store)["kpis"] == EXPECTED_KPIS


def test_the_hand_computed_scenario_matches_when_counted_in_batches(dynamodb: Any) -> None:
    events = all_events(scenario())
    for seed in (1, 2, 3):
        store, _ = store_on(dynamodb)
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        # Every event twice (at-least-once), some in the same batch
        in_batches(store, shuffled + shuffled[:5] + shuffled, size=10)
        built = report(store)
        assert built["kpis"] == EXPECTED_KPIS
        assert built["top_products"] == expected_top()


def test_redelivery_in_the_same_batch_counts_once(dynamodb: Any) -> None:
    store, counter = store_on(dynamodb)
    order = new_order("2026-07-15T10:00:00.000Z", "dup@example.com", ["A"])

    assert count_events(store, [order, order, order], TIMEZONE) == [True, False, False]
    assert counter.calls == Counter({"transact_write_items": 1})
    [day] = store.read_days(["2026-07-15"])
    assert day.totals["orders"] == 1
    assert day.totals["new_customers"] == 1


def test_a_batch_larger_than_a_transaction_is_split_and_counts_everything(dynamodb: Any) -> None:
    # 10 orders with 12 distinct SKUs each: ~16 items per order, so more than 100 items in all
    store, counter = store_on(dynamodb)
    events = [
        new_order(f"2026-07-15T10:0{n}:00.000Z", f"s{n}@example.com", [f"S{n}-{k}" for k in range(12)])
        for n in range(10)
    ]

    assert count_events(store, events, TIMEZONE) == [True] * 10

    assert counter.transaction_sizes and max(counter.transaction_sizes) <= 100
    assert counter.calls == Counter({"transact_write_items": len(counter.transaction_sizes)})
    assert len(counter.transaction_sizes) <= 3  # 10 x 15 items + 1 totals item, 100 at a time
    [day] = store.read_days(["2026-07-15"])
    assert (day.totals["orders"], day.totals["new_customers"], len(day.skus)) == (10, 10, 120)


def test_a_stale_stock_level_in_a_batch_is_dropped_and_the_rest_commits(dynamodb: Any) -> None:
    events = scenario()
    stock = events["stock"] + events["late_stock"]
    store, counter = store_on(dynamodb)
    for event in events["stock"]:
        count_event(store, event, TIMEZONE)  # the newest levels are stored
    counter.reset()
    # The late (older) movements arrive with new orders' events
    batch = [*events["late_stock"], new_order("2026-07-15T10:00:00.000Z", "x@example.com", ["A"])]

    outcomes = count_events(store, batch, TIMEZONE)

    assert outcomes[-1] is True and not [o for o in outcomes if isinstance(o, Exception)]
    assert counter.calls["transact_write_items"] <= 2  # cancelled by the stale level, then committed
    alone, _ = store_on(dynamodb)
    for event in stock:
        count_event(alone, event, TIMEZONE)
    assert state(store, counter)["stock"] == state(alone, counter)["stock"]


def test_a_lone_stock_level_is_a_plain_update(dynamodb: Any) -> None:
    # A one-item transaction would cost twice the write capacity of an UpdateItem
    store, counter = store_on(dynamodb)
    [level] = [e for e in scenario()["stock"] if e["detail_type"] == "StockAdjusted"][:1]

    assert count_events(store, [level], TIMEZONE) == [True]
    assert counter.calls == Counter({"update_item": 1})
    assert count_events(store, [level], TIMEZONE) == [False]  # the same movement again: not newer
