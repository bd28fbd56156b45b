"""The one wiring declaration: functions, routes, event subscriptions, schedules, state machines.

Plain data, no CDK import: the CDK stack builds AWS resources from it and the local runtime
(`localrt`) serves the very same thing, so local and deployed cannot drift. `tests/infra`
compares the synthesized template with what the local runtime serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Auth = Literal["public", "admin", "webhook"]


@dataclass(frozen=True)
class ItemAccess:
    """DynamoDB `actions` a function may call on the table `table` (a `TableSpec.logical_name`), or on
    its global secondary index `index` (Query only), limited to items whose partition key matches one
    of `key_prefixes` (IAM `dynamodb:LeadingKeys`, `*` wildcards; for an index: the index's partition
    key). No prefixes: any item, allowed only for reads that name no partition key (Scan) and for a
    table whose every item belongs to the function (checked by `Declaration.validate`).
    """

    table: str
    actions: tuple[str, ...]
    key_prefixes: tuple[str, ...] = ()
    index: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: code in `functions/<name>/`, entry point `handler.lambda_handler`."""

    name: str
    domain: str
    description: str
    memory_mb: int = 512
    timeout_seconds: int = 10
    # Only functions that call Stripe get the Stripe SDK layer and the Stripe secret.
    uses_stripe: bool = False
    # Every DynamoDB call the function's code makes, as IAM grants (CDK builds its policy from these;
    # `tests/infra/test_least_privilege.py` asserts them, the local runtime checks calls against them).
    table_access: tuple[ItemAccess, ...] = ()
    # The folder under functions/ with its code, when another function's (default: `name`). The same
    # code deployed twice, each with only the routes and grants its spec gives it.
    code: str = ""

    @property
    def code_folder(self) -> str:
        return self.code or self.name


@dataclass(frozen=True)
class Route:
    """An HTTP route of the REST API, in API Gateway path syntax (`/products/{product_id}`)."""

    method: str
    path: str
    function: str
    auth: Auth = "public"


@dataclass(frozen=True)
class Subscription:
    """EventBridge rule -> SQS queue (+ DLQ) -> consumer function with partial batch failures."""

    name: str
    function: str
    detail_types: tuple[str, ...]
    batch_size: int = 10
    # Seconds the event source mapping gathers messages before invoking (0: at once). A shop under
    # load then pays one invocation (and one batch of writes) for many orders' events.
    max_batching_window_seconds: int = 0


@dataclass(frozen=True)
class Schedule:
    """EventBridge Scheduler schedule invoking a function. `cron` is a Scheduler cron expression."""

    name: str
    function: str
    cron: str
    # None: the stack's time zone from the region settings.
    timezone: str | None = None
    payload: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamConsumer:
    """DynamoDB stream of a table -> function (event source mapping with partial batch failures)."""

    name: str
    function: str
    table: str
    # Only records whose NEW image has `entity` equal to one of these reach the function.
    entities: tuple[str, ...]
    batch_size: int = 100
    max_batching_window_seconds: int = 0


@dataclass(frozen=True)
class TableAccess:
    """DynamoDB calls a state machine makes itself (AWS SDK integration: no Lambda in between), e.g.
    storing a task token with `aws-sdk:dynamodb:updateItem.waitForTaskToken`.

    `${placeholder}` in the ASL becomes the name of the table `table` (a `TableSpec.logical_name`);
    the state machine may call `actions` on items whose partition key matches `key_prefixes` only.
    """

    placeholder: str
    table: str
    actions: tuple[str, ...]
    key_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class StateMachineSpec:
    """A Step Functions Standard state machine whose ASL lives in a JSON file under infra/statemachines/.

    `${Name}` placeholders in the file are substituted with the ARN of the function `tasks[Name]`, or
    with the name of the table of a `TableAccess` (CDK's definition substitutions in AWS; the local
    runtime does the same text substitution).
    """

    name: str
    definition_file: str
    tasks: dict[str, str] = field(default_factory=dict)
    tables: tuple[TableAccess, ...] = ()


# DynamoDB actions as IAM names them. Transactions need no action of their own: each item of a
# TransactWriteItems is authorized as Put/Update/Delete/ConditionCheckItem, of a TransactGetItems as GetItem.
GET, BATCH_GET, QUERY, SCAN = "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"
PUT, UPDATE, DELETE = "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
CONDITION_CHECK = "dynamodb:ConditionCheckItem"


def _main(actions: tuple[str, ...], *key_prefixes: str, index: str | None = None) -> ItemAccess:
    return ItemAccess("Main", actions, key_prefixes, index)


# Partition-key prefixes of the main table's items (built by cloudtill.keys, except REFUND_CLAIM#:
# cloudtill.orders.dynamo, and ERASURE#: cloudtill.privacy.dynamo; docs/data-model.md).
OUTBOX = "OUTBOX#*"  # every domain's events leave through the outbox (cloudtill.outbox)
PAYMENT_ITEMS = ("PAYMENT_INTENT#*", "PAYMENT_EVENT#*", "PAYMENT_CHARGE#*")
# A late payment's refund claim is `late-CHECKOUT#<id>` (RefundClaim.idempotency_key): on a checkout,
# never on an order.
LATE_PAYMENT_REFUND_CLAIMS = "REFUND_CLAIM#late-CHECKOUT#*"

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="catalog",
        domain="catalog",
        description="Catalog: products, variants, prices",
        table_access=(
            _main((GET,), "PRODUCT#*"),
            _main((QUERY,), "PRODUCTS", index="GSI1"),  # active products
            _main((QUERY,), "CATEGORY#*", index="GSI2"),  # a category's active products
            _main((BATCH_GET,), "SKU#*"),  # units available, for the product pages
            # A product's transaction: the product, its variants' SKU items, its category.
            _main((PUT, UPDATE), "PRODUCT#*", "SKU#*"),
            _main((PUT,), "CATEGORY#*"),
        ),
    ),
    FunctionSpec(
        name="checkout",
        domain="checkout",
        description="Checkout: priced checkouts reserving stock, shipping methods, promotions",
        timeout_seconds=15,
        uses_stripe=True,
        table_access=(
            _main((GET,), "CHECKOUT#*", "PROMO#*", "PAYMENT_INTENT#*"),
            _main((BATCH_GET,), "SKU#*"),
            _main((QUERY,), "RESERVATIONS#HELD", index="GSI1"),  # the expiry sweep
            # Create / release: the checkout and its reservations, the SKUs' counters, promotion
            # redemptions, outbox events; promotions admin puts PROMO# items.
            _main((PUT, UPDATE), "CHECKOUT#*", "PROMO#*"),
            _main((UPDATE,), "SKU#*"),
            _main((PUT,), OUTBOX),
            # The PaymentIntent's record, created before its client secret leaves (webhooks match it).
            _main((PUT,), "PAYMENT_INTENT#*"),
            # Powertools idempotency of POST /checkouts (records keyed `checkout.create#<hash>`).
            ItemAccess("Idempotency", (GET, PUT, UPDATE, DELETE), ("checkout.create#*",)),
        ),
    ),
    FunctionSpec(
        name="publisher",
        domain="events",
        description="Outbox publisher: table stream -> EventBridge",
        timeout_seconds=30,
        # No item access: it reads the stream (granted with its event source mapping) and writes nothing.
    ),
    FunctionSpec(
        name="payments",
        domain="payments",
        description="Payments: Stripe webhooks (signed, deduplicated)",
        uses_stripe=True,
        table_access=(
            # Webhooks: dedupe + payment record + charge link, the paid checkout.
            _main((GET,), *PAYMENT_ITEMS, "CHECKOUT#*"),
            _main((BATCH_GET,), "PAYMENT_EVENT#*", "PAYMENT_INTENT#*"),
            _main((PUT,), *PAYMENT_ITEMS, OUTBOX),
            # payment_outcome on the checkout, and the late-payment refund claim held on it.
            _main((UPDATE,), "CHECKOUT#*"),
            _main((PUT, DELETE), LATE_PAYMENT_REFUND_CLAIMS),
        ),
    ),
    FunctionSpec(
        name="stock",
        domain="stock",
        description="Stock: levels, movement ledger, FIFO valuation, low-stock alerts, reconciliation",
        table_access=(
            _main((GET, QUERY), "SKU#*"),  # a SKU and its movements (same partition)
            _main((QUERY,), "HELD#*", index="GSI2"),  # held reservations per SKU (reconciliation)
            # Reconciliation lists every SKU item: a Scan names no partition key, so it cannot be
            # limited by prefix (admin only, on demand). Read only.
            _main((SCAN,)),
            _main((PUT, UPDATE), "SKU#*"),  # the SKU item and its ledger movement
            _main((PUT,), OUTBOX),
        ),
    ),
    FunctionSpec(
        name="notifications",
        domain="notifications",
        description="Notifications: domain events -> e-mail (SES) and SMS (SNS); SES bounces -> suppressions",
        timeout_seconds=30,
        table_access=(
            # The shopper's contact from checkouts and orders, its own records (one BatchGetItem per
            # SQS batch; LeadingKeys is checked for every key in it).
            _main((GET, BATCH_GET), "CHECKOUT#*", "ORDER#*", "NOTIFICATION#*", "SUPPRESSED#*"),
            _main((UPDATE,), "NOTIFICATION#*", "SUPPRESSED#*"),
        ),
    ),
    FunctionSpec(
        name="orders",
        domain="orders",
        description="Orders: order lifecycle tasks, admin fulfilment/cancel/returns, shopper order view",
        timeout_seconds=30,
        # Refunds (cancel, returns, late payments) and cancelling PaymentIntents of expired checkouts.
        uses_stripe=True,
        table_access=(
            _main((GET,), "ORDER#*", "CHECKOUT#*", "SKU#*", "PAYMENT_INTENT#*"),
            _main((QUERY,), "ORDER#*"),  # an order with its fulfilments and returns
            _main((BATCH_GET,), "CHECKOUT#*", "SKU#*"),  # confirmation reads checkout and stock at once
            # Orders by status, pending refund claims, paid checkouts awaiting settlement.
            _main((QUERY,), "ORDERS#*", "REFUNDS#REQUESTING", "CHECKOUTS#PAID", index="GSI1"),
            # Orders and their children; on confirmation/expiry the checkout, its reservations, the
            # SKUs (ledger movements) and promotion give-backs; refund claims; outbox events.
            _main((PUT, UPDATE), "ORDER#*", "SKU#*"),
            _main((UPDATE,), "CHECKOUT#*", "PROMO#*"),
            _main((PUT, DELETE), "REFUND_CLAIM#*"),
            _main((PUT,), OUTBOX),
        ),
    ),
    FunctionSpec(
        name="order-view",
        domain="orders",
        code="orders",
        description="Orders: the shopper's order view (read only; the orders function's code)",
        # GET /orders/{order_id} is public: the function behind it can read an order (with its
        # payment's status), and nothing else.
        table_access=(_main((QUERY,), "ORDER#*"), _main((GET,), "PAYMENT_INTENT#*")),
    ),
    FunctionSpec(
        name="reporting",
        domain="reporting",
        description="Reporting: daily aggregates from events, the nightly report to S3, admin report routes",
        memory_mb=1024,
        timeout_seconds=120,
        table_access=(
            # Aggregates and dedupe markers (AGG#), first-order markers (CUSTOMER#); never an order,
            # checkout or stock item. ReportReady leaves through the outbox.
            _main((GET, QUERY, PUT, UPDATE, CONDITION_CHECK), "AGG#*", "CUSTOMER#*"),
            _main((PUT,), OUTBOX),
        ),
    ),
    FunctionSpec(
        name="privacy",
        domain="privacy",
        description="Privacy: a customer's data export and erasure (pseudonymised, financial records kept)",
        timeout_seconds=30,
        table_access=(
            _main((QUERY,), "EMAIL#*", index="GSI2"),  # the customer's checkouts and orders
            _main((GET,), "SUPPRESSED#*", "ERASURE#*"),
            # Pseudonymised in place (notification records too, once they carry GSI2 keys); the
            # erasure marker and the CustomerErased event close the last transaction.
            _main((UPDATE,), "CHECKOUT#*", "ORDER#*", "NOTIFICATION#*"),
            _main((PUT,), "ERASURE#*", OUTBOX),
        ),
    ),
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/products", "catalog"),
    Route("GET", "/products/{product_id}", "catalog"),
    Route("POST", "/admin/products", "catalog", auth="admin"),
    Route("PUT", "/admin/products/{product_id}", "catalog", auth="admin"),
    Route("DELETE", "/admin/products/{product_id}", "catalog", auth="admin"),
    Route("POST", "/webhooks/stripe", "payments", auth="webhook"),
    Route("POST", "/admin/orders/{order_id}/refunds", "orders", auth="admin"),
    Route("POST", "/checkouts", "checkout"),
    Route("GET", "/checkouts/{checkout_id}", "checkout"),
    Route("GET", "/shipping-methods", "checkout"),
    Route("POST", "/admin/promotions", "checkout", auth="admin"),
    Route("GET", "/admin/promotions/{code}", "checkout", auth="admin"),
    # The literal `reconciliation` before `{sku}`: the local gateway matches in this order.
    Route("GET", "/admin/stock/reconciliation", "stock", auth="admin"),
    Route("GET", "/admin/stock/{sku}", "stock", auth="admin"),
    Route("PUT", "/admin/stock/{sku}/settings", "stock", auth="admin"),
    Route("POST", "/admin/stock/{sku}/movements", "stock", auth="admin"),
    Route("GET", "/admin/stock/{sku}/movements", "stock", auth="admin"),
    Route("POST", "/admin/reports/{date}", "reporting", auth="admin"),
    Route("GET", "/admin/reports/{date}", "reporting", auth="admin"),
    Route("POST", "/admin/marketing-spend", "reporting", auth="admin"),
    Route("GET", "/admin/marketing-spend", "reporting", auth="admin"),
    # Public: its own read-only function (same code as orders), so no public function writes orders.
    Route("GET", "/orders/{order_id}", "order-view"),
    Route("GET", "/admin/orders", "orders", auth="admin"),
    Route("GET", "/admin/orders/{order_id}", "orders", auth="admin"),
    Route("POST", "/admin/orders/{order_id}/fulfillments", "orders", auth="admin"),
    Route("POST", "/admin/orders/{order_id}/delivered", "orders", auth="admin"),
    Route("POST", "/admin/orders/{order_id}/cancel", "orders", auth="admin"),
    Route("POST", "/admin/orders/{order_id}/returns", "orders", auth="admin"),
    Route("POST", "/admin/customers/{email}/export", "privacy", auth="admin"),
    Route("DELETE", "/admin/customers/{email}", "privacy", auth="admin"),
)

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    # Customer e-mails/SMS and ops alerts (cloudtill.notifications.incoming.CONSUMED_DETAIL_TYPES).
    Subscription(
        name="notifications",
        function="notifications",
        detail_types=(
            "OrderConfirmed",
            "OrderShipped",
            "OrderDelivered",
            "OrderCancelled",
            "PaymentFailed",
            "RefundIssued",
            "CheckoutExpired",
            "StockLow",
            "ReportReady",
        ),
        # Shoppers do not notice 2 s; batches share the consumer's one read of what they need.
        max_batching_window_seconds=2,
    ),
    # Daily aggregates for the nightly report (cloudtill.reporting.aggregates.CONSUMED_DETAIL_TYPES).
    Subscription(
        name="reporting-aggregates",
        function="reporting",
        detail_types=(
            "OrderConfirmed",
            "OrderCancelled",
            "OrderReturned",
            "RefundIssued",
            "CheckoutCreated",
            "CheckoutExpired",
            "StockReleased",
            "PaymentSucceeded",
            "PaymentFailed",
            "StockAdjusted",
            "StockLow",
        ),
        # Aggregates are read at night: gather up to 100 events for 5 s and apply them in one
        # transaction (cloudtill.reporting: merged counter updates per batch).
        batch_size=100,
        max_batching_window_seconds=5,
    ),
)

SCHEDULES: tuple[Schedule, ...] = (
    # Expired checkouts give their stock and promotion redemptions back within a minute.
    Schedule("release-expired-checkouts", "checkout", "rate(1 minute)"),
    # Yesterday's report at 02:00 in the stack's time zone (payload {}: the previous local day).
    Schedule("nightly-report", "reporting", "cron(0 2 * * ? *)"),
    # Refunds whose attempt died between claiming and settling (a claim `requesting` for over 5 min)
    # are finished here, so no payment stays taken without its refund (docs/orders.md "Refunds").
    Schedule("settle-stuck-refunds", "orders", "rate(5 minutes)", payload={"task": "settle_stuck_refunds"}),
    # Checkouts paid over 15 minutes ago and still without an order (their workflow failed or is gone)
    # are cancelled and refunded, once (docs/orders.md "Sweeps").
    Schedule("settle-paid-checkouts", "orders", "rate(5 minutes)", payload={"task": "settle_paid_checkouts"}),
)

# The transactional outbox: outbox items written with each state change reach EventBridge this way.
STREAM_CONSUMERS: tuple[StreamConsumer, ...] = (
    StreamConsumer(
        name="outbox",
        function="publisher",
        table="Main",
        entities=("outbox",),
        # One PutEvents per 10 events instead of one invocation per committed change.
        max_batching_window_seconds=1,
    ),
)

# One execution per checkout (named after it): payment -> order -> fulfilment -> delivery, with
# compensation on every failure branch (docs/orders.md).
ORDER_LIFECYCLE = "order-lifecycle"
STATE_MACHINES: tuple[StateMachineSpec, ...] = (
    StateMachineSpec(
        name=ORDER_LIFECYCLE,
        definition_file="infra/statemachines/order_lifecycle.asl.json",
        tasks={"OrdersFunction": "orders"},
        # The waits store their task token on the checkout/order item themselves (and read it when
        # they lost a race), and CompleteOrder is one conditional update: four Lambda invocations
        # fewer per order (docs/orders.md).
        tables=(
            TableAccess(
                placeholder="MainTable",
                table="Main",
                actions=("dynamodb:GetItem", "dynamodb:UpdateItem"),
                key_prefixes=("CHECKOUT#*", "ORDER#*"),
            ),
        ),
    ),
)

# The event bus every domain event is published to (one per regional stack).
EVENT_SOURCE = "cloudtill"


def function_spec(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(f"no function named {name!r} in the wiring")


def routes_of(function: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.function == function)


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: string keys, string GSI keys, optional TTL attribute and stream."""

    logical_name: str
    partition_key: str
    sort_key: str | None = None
    # name -> (partition key, sort key), all projected ALL
    global_indexes: dict[str, tuple[str, str]] = field(default_factory=dict)
    ttl_attribute: str | None = None
    stream: bool = False


# The single application table (see docs/data-model.md) and Powertools' idempotency table.
MAIN_TABLE = TableSpec(
    logical_name="Main",
    partition_key="PK",
    sort_key="SK",
    global_indexes={"GSI1": ("GSI1PK", "GSI1SK"), "GSI2": ("GSI2PK", "GSI2SK")},
    ttl_attribute="ttl",
    stream=True,
)
IDEMPOTENCY_TABLE = TableSpec(
    logical_name="Idempotency",
    partition_key="id",
    ttl_attribute="expiration",
)
TABLES: tuple[TableSpec, ...] = (MAIN_TABLE, IDEMPOTENCY_TABLE)
