"""The marketing channel a storefront names on `POST /checkouts` reaches the report's acquisition: the
checkout stores it, the order copies it, `OrderConfirmed` carries it and the customer's first order is
counted as acquired through it. Real adapters on moto up to the outbox; the reporting aggregates are
the in-memory fake the report tests use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from cloudtill import ddb, keys
from cloudtill.api import create_app, handle
from cloudtill.catalog.api import ProductIn
from cloudtill.catalog.dynamo import DynamoProductRepository
from cloudtill.catalog.service import CatalogService
from cloudtill.checkout.api import CheckoutIn
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.service import CheckoutService
from cloudtill.order_workflow.checkout_link import CheckoutLink
from cloudtill.order_workflow.dynamo import DynamoOrderWorkflowStore
from cloudtill.order_workflow.lifecycle import OrderLifecycle
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.reporting.insights import SpendRow
from cloudtill.reporting.service import ReportService, ReportTemplate, count_event
from cloudtill.settings import ShopSettings
from cloudtill.stock.api import MovementIn
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.service import StockService

from tests.fakes import FakePaymentGateway, FakePaymentStarter, FixedClock
from tests.reporting_fakes import InMemoryAggregateStore, InMemoryReportEvents, InMemoryReportStore
from tests.unit.moto_table import main_table  # noqa: F401  (fixture)
from tests.unit.test_checkout_service import body

SKU = "CH-TEE"
DAY = "2026-11-23"  # FixedClock's day (12:00 UTC, the same day in Dublin)


class NoWorkflow:
    def start(self, name: str, payload: dict[str, Any]) -> bool:
        return True

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        return False


class ReportClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def items(table: str) -> list[dict[str, Any]]:
    return [ddb.from_item(i) for i in ddb.client().scan(TableName=table)["Items"]]


def outbox(table: str, detail_type: str) -> list[dict[str, Any]]:
    return [i for i in items(table) if i.get("entity") == "outbox" and i["detail_type"] == detail_type]


def stored(table: str, pk_sk: tuple[str, str]) -> dict[str, Any]:
    item = ddb.client().get_item(TableName=table, Key=ddb.key(*pk_sk), ConsistentRead=True)
    return ddb.from_item(item["Item"])


def confirmed_order(table: str, clock: FixedClock, email: str, channel: str | None) -> dict[str, Any]:
    """A checkout created through the service (with `channel` when given), paid and confirmed: the
    OrderConfirmed envelope from the outbox."""
    checkouts = DynamoCheckoutRepository(table)
    service = CheckoutService(checkouts, clock, ShopSettings(), 900, FakePaymentStarter())
    extra = {"channel": channel} if channel is not None else {}
    created = service.create_checkout(body((SKU, 1), email=email, **extra), f"token-{email}")
    assert created.payment is not None
    lifecycle = OrderLifecycle(
        DynamoOrderWorkflowStore(table), CheckoutLink(checkouts, service, clock), DynamoPaymentStore(table),
        FakePaymentGateway(), NoWorkflow(), clock,
    )  # fmt: skip
    paid = {
        "outcome": "paid",
        "payment_intent_id": created.payment.payment_intent_id,
        "amount": created.total,
        "skus": [SKU],
    }
    outcome = lifecycle.confirm_order(created.id, paid)
    assert outcome["outcome"] == "confirmed"
    (event,) = [e for e in outbox(table, "OrderConfirmed") if e["detail"]["checkout_id"] == created.id]
    return event


def test_the_checkout_channel_reaches_the_order_the_event_and_the_reports_acquisition(
    main_table: str,  # noqa: F811
) -> None:
    # Given a product in stock and 3000 spent on the newsletter that day
    clock = FixedClock()
    CatalogService(DynamoProductRepository(main_table), clock, "EUR").create_product(
        ProductIn(name="Tee", category="tees", variants=[{"sku": SKU, "name": "Tee", "price": 2000}])
    )
    StockService(DynamoStockRepository(main_table), clock).record_movement(
        SKU, MovementIn(type="receive", quantity=10, unit_cost=500, reason="initial")
    )
    # When two new customers come through the newsletter and one without a channel
    events = [
        confirmed_order(main_table, clock, "ann@example.com", "newsletter"),
        confirmed_order(main_table, clock, "bob@example.com", "newsletter"),
        confirmed_order(main_table, clock, "cat@example.com", None),
    ]

    # Then the checkout and the order store the channel, and OrderConfirmed carries it
    ann = events[0]["detail"]
    assert stored(main_table, keys.checkout(ann["checkout_id"]))["channel"] == "newsletter"
    assert stored(main_table, keys.order(ann["order_id"]))["channel"] == "newsletter"
    assert [e["detail"].get("channel") for e in events] == ["newsletter", "newsletter", None]
    # ...and nothing where none was given (no attribute, no null in the event)
    cat = events[2]["detail"]
    assert "channel" not in cat
    assert "channel" not in stored(main_table, keys.checkout(cat["checkout_id"]))
    assert "channel" not in stored(main_table, keys.order(cat["order_id"]))

    # And the report attributes the first orders to their channel: CAC 3000 / 2 on the newsletter
    aggregates = InMemoryAggregateStore()
    for event in events:
        assert count_event(aggregates, event, "Europe/Dublin")
    aggregates.put_marketing_spend(SpendRow(DAY, "newsletter", 3000, "EUR"))
    report = ReportService(
        aggregates=aggregates,
        store=InMemoryReportStore(),
        events=InMemoryReportEvents(),
        shop=ShopSettings(currency="EUR", timezone="Europe/Dublin", locale="en_IE"),
        template=ReportTemplate(html="{{ report.date }}", chart_js=""),
        clock=ReportClock(),
    ).build(DAY)
    channels = {c["channel"]: c for c in report["acquisition"]["day"]["channels"]}
    assert channels["newsletter"] == {"channel": "newsletter", "spend": 3000, "new_customers": 2, "cac": 1500}
    assert channels["unattributed"]["new_customers"] == 1
    assert report["acquisition"]["day"]["total"]["new_customers"] == 3


@pytest.fixture(scope="module")
def app() -> APIGatewayRestResolver:
    resolver = create_app(cors_origins=[])

    @resolver.post("/checkouts")
    def create(body: Annotated[CheckoutIn, Body()]) -> dict[str, Any]:
        return {"channel": body.channel}

    return resolver


def post(app: APIGatewayRestResolver, channel: Any) -> tuple[int, dict[str, Any]]:
    payload = body(("A", 1)).model_dump(mode="json", exclude_none=True)
    event = {
        "path": "/checkouts",
        "resource": "/checkouts",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({**payload, "channel": channel}),
        "requestContext": {},
    }
    response = handle(app, event, None, 64_000)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize("channel", ["Newsletter", "-ads", "", "a" * 41, "news letter", 7])
def test_a_bad_channel_is_422_naming_channel_in_words(app: APIGatewayRestResolver, channel: Any) -> None:
    status, problem = post(app, channel)
    assert status == 422, problem
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert list(messages) == ["channel"]
    if isinstance(channel, str):
        assert messages["channel"].startswith("must be 1 to 40 lower-case letters, digits")


def test_a_good_channel_is_accepted(app: APIGatewayRestResolver) -> None:
    assert post(app, "paid-social_2") == (200, {"channel": "paid-social_2"})
