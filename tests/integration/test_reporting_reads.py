"""The nightly report reads aggregates, not orders: a day with 1,000 orders costs no more DynamoDB reads
than a day with 100 (real DynamoDB adapter on in-process moto, behind a read-counting client).

What is counted: items returned to the report by Query, GetItem and BatchGetItem (every page), and
the calls themselves. The KPI part (report.json, skus.csv, report.html) must stay within 1.1x; the
order-lines CSV export is, by definition, one item per order of the day and is measured separately.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from cloudtill import ddb
from cloudtill.reporting.aggregates import AggregateUpdate, plan
from cloudtill.reporting.dynamo import DynamoAggregateStore, order_lines_item
from cloudtill.reporting.service import ReportService, ReportTemplate
from cloudtill.settings import ShopSettings
from moto import mock_aws

from tests.fakes import FixedClock
from tests.reporting_fakes import InMemoryReportEvents, InMemoryReportStore
from tests.reporting_scenario import ROOT, envelope

TABLE = "reads-test"
SKUS = [f"SKU-{n:02d}" for n in range(20)]


class CountingClient:
    """A DynamoDB client that counts what reads return (writes pass through uncounted)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.items_read = 0
        self.read_calls = 0

    def query(self, **kwargs: Any) -> Any:
        response = self._client.query(**kwargs)
        self.read_calls += 1
        self.items_read += len(response.get("Items", []))
        return response

    def get_item(self, **kwargs: Any) -> Any:
        response = self._client.get_item(**kwargs)
        self.read_calls += 1
        self.items_read += 1 if "Item" in response else 0
        return response

    def batch_get_item(self, **kwargs: Any) -> Any:  # pragma: no cover - the adapter does not use it
        response = self._client.batch_get_item(**kwargs)
        self.read_calls += 1
        self.items_read += sum(len(v) for v in response.get("Responses", {}).values())
        return response

    def reset(self) -> None:
        self.items_read = self.read_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def seed_day(store: DynamoAggregateStore, client: Any, day: str, orders: int) -> None:
    """`orders` orders on `day`, two lines each over the same 20 SKUs, as the consumer would have left
    them. Each order is planned by the real aggregation code; their counters are summed into one update
    applied by the real adapter and the order-lines items are batch-written (in-process moto needs
    ~50 ms per order through one transaction each: a minute for 1,100 orders). The items read back
    are the same either way: the counters are sums, one lines item per order."""
    merged = AggregateUpdate(event_id=f"seed-{day}", day=day)
    lines_items = []
    for n in range(orders):
        a, b = SKUS[n % 20], SKUS[(n * 7 + 3) % 20]
        lines = [
            {
                "sku": a,
                "name": a,
                "quantity": 1,
                "unit_price": 1000,
                "line_total": 1000,
                "discount": 0,
                "tax": 187,
            },
            {
                "sku": b,
                "name": b,
                "quantity": 2,
                "unit_price": 500,
                "line_total": 1000,
                "discount": 0,
                "tax": 187,
            },
        ]
        at = f"{day}T12:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z"
        event = envelope(
            "OrderConfirmed",
            at,
            order_id="ord_" + uuid.uuid4().hex,
            email=f"c{n}@example.com",
            subtotal=1626,
            discount=0,
            shipping=0,
            tax=374,
            total=2000,
            promo_code=None,
            lines=lines,
            confirmed_at=at,
        )
        change = plan(event, "Europe/Dublin")
        assert isinstance(change, AggregateUpdate) and change.order_lines is not None
        for name, delta in change.totals.items():
            merged.totals[name] = merged.totals.get(name, 0) + delta
        merged.totals["new_customers"] = merged.totals.get("new_customers", 0) + 1
        for sku, counters in change.skus.items():
            into = merged.skus.setdefault(sku, {})
            for name, delta in counters.items():
                into[name] = into.get(name, 0) + delta
        merged.sku_names.update(change.sku_names)
        lines_items.append(order_lines_item(change.day, change.order_lines))
    assert store.apply(merged)
    for start in range(0, len(lines_items), 25):
        batch = [{"PutRequest": {"Item": ddb.to_item(i)}} for i in lines_items[start : start + 25]]
        client.batch_write_item(RequestItems={TABLE: batch})


def service(store: DynamoAggregateStore) -> ReportService:
    templates = ROOT / "functions" / "reporting" / "templates"
    return ReportService(
        aggregates=store,
        store=InMemoryReportStore(),
        events=InMemoryReportEvents(),
        shop=ShopSettings(),
        template=ReportTemplate(
            (templates / "report.html").read_text(), (templates / "chart.umd.min.js").read_text()
        ),
        clock=FixedClock(datetime(2026, 9, 1, tzinfo=UTC)),
    )


def test_report_reads_do_not_grow_with_the_number_of_orders(dynamodb: Any) -> None:
    # Days more than 30 days apart, so their windows do not overlap.
    small, large = "2026-06-10", "2026-08-20"
    seeding = DynamoAggregateStore(TABLE, client=dynamodb)
    seed_day(seeding, dynamodb, small, 100)
    seed_day(seeding, dynamodb, large, 1000)
    counting = CountingClient(dynamodb)
    store = DynamoAggregateStore(TABLE, client=counting)
    reports = service(store)

    reads: dict[str, dict[str, int]] = {}
    for day in (small, large):
        counting.reset()
        report = reports.build(day)
        kpi_items, kpi_calls = counting.items_read, counting.read_calls
        counting.reset()
        store.order_lines(day)
        reads[day] = {
            "orders": report["kpis"]["orders"],
            "kpi_items": kpi_items,
            "kpi_calls": kpi_calls,
            "order_line_items": counting.items_read,
        }
    print(f"\nDynamoDB reads per report: {reads}")

    assert reads[small]["orders"] == 100 and reads[large]["orders"] == 1000
    # KPI inputs: TOTALS + 20 SKU items of the day, the (empty) trailing days, the stock levels.
    assert reads[large]["kpi_items"] <= 1.1 * reads[small]["kpi_items"]
    assert reads[large]["kpi_calls"] <= 1.1 * reads[small]["kpi_calls"]
    # The order-lines export: one item per order, nothing else.
    assert reads[small]["order_line_items"] == 100
    assert reads[large]["order_line_items"] == 1000


def test_redelivered_order_is_counted_once_in_dynamodb(dynamodb: Any) -> None:
    store = DynamoAggregateStore(TABLE, client=dynamodb)
    event = envelope(
        "OrderConfirmed",
        "2026-06-10T12:00:00.000Z",
        order_id="ord_" + uuid.uuid4().hex,
        confirmed_at="2026-06-10T12:00:00.000Z",
    )
    change = plan(event, "Europe/Dublin")
    assert store.apply(change)  # type: ignore[arg-type]
    assert not store.apply(plan(event, "Europe/Dublin"))  # type: ignore[arg-type]

    [day] = store.read_days(["2026-06-10"])
    assert day.totals["orders"] == 1
    assert day.totals["new_customers"] == 1
    assert day.skus["TEE-BLK-M"]["units"] == 2


def test_earlier_order_of_a_customer_arriving_late_moves_the_new_customer(dynamodb: Any) -> None:
    store = DynamoAggregateStore(TABLE, client=dynamodb)
    later = envelope(
        "OrderConfirmed",
        "2026-06-11T12:00:00.000Z",
        order_id="ord_" + "b" * 32,
        confirmed_at="2026-06-11T12:00:00.000Z",
    )
    earlier = envelope(
        "OrderConfirmed",
        "2026-06-10T12:00:00.000Z",
        order_id="ord_" + "a" * 32,
        confirmed_at="2026-06-10T12:00:00.000Z",
    )
    for event in (later, earlier):
        assert store.apply(plan(event, "Europe/Dublin"))  # type: ignore[arg-type]

    days = {d.day: d.totals for d in store.read_days(["2026-06-10", "2026-06-11"])}
    assert days["2026-06-10"].get("new_customers") == 1
    assert days["2026-06-11"].get("new_customers", 0) == 0
    assert days["2026-06-11"].get("returning_customers") == 1
