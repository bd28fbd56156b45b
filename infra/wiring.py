"""The one wiring declaration: functions and what they need, routes, event subscriptions, schedules,
state machines, secrets and buckets.

Plain data, no CDK import: the CDK stack builds AWS resources from it and the local runtime
(`localrt`) serves the very same thing, so local and deployed cannot drift. `tests/infra`
compares the synthesized template with what the local runtime serves.

How to add...
- a route: decorate a function of the handler's resolver (`@app.get("/things/<thing_id>")` in
  `functions/<code>/handler.py`). The handler is the only place a route is written: `ROUTES` is read
  from it (`infra/routes.py`), and the path says who may call it (`/admin/...`: the admin group,
  `/webhooks/...`: the caller's signature, checked in the function; anything else: public).
- a function: a `FunctionSpec` below with its code folder, its trigger (`api`, `queue`, `schedule`,
  `stream`, `task`, `topic`: the handler module's `<trigger>_handler` is its Lambda entry point) and
  every need as a field: `table_access`, `secrets`, `buckets`, `workflows`, `puts_events`, `sends`.
  The stack grants exactly those; nothing is granted by the function's name or domain.
- a subscription: a `Subscription` naming a `queue` function and the detail types it consumes,
  imported from the consumer's module (its `CONSUMED_DETAIL_TYPES`), never copied here.
- a schedule: a `Schedule` naming a `schedule` function; a state machine task: a `task` function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cloudtill.notifications.incoming import CONSUMED_DETAIL_TYPES as NOTIFICATION_DETAIL_TYPES
from cloudtill.reporting.aggregates import CONSUMED_DETAIL_TYPES as AGGREGATE_DETAIL_TYPES

from infra.routes import Auth, auth_of, handler_routes

# What invokes a function; its Lambda entry point is `handler.<trigger>_handler`.
Trigger = Literal["api", "queue", "schedule", "stream", "task", "topic"]
# What a function sends to people (SES e-mail, SNS SMS).
Channel = Literal["email", "sms"]


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
class BucketAccess:
    """S3 object `actions` on the objects under the bucket `bucket`'s prefix (a `BucketSpec.name`);
    `list`: also `s3:ListBucket`, limited to that prefix (so a missing object is NoSuchKey, not
    AccessDenied)."""

    bucket: str
    actions: tuple[str, ...]
    list: bool = False


@dataclass(frozen=True)
class WorkflowAccess:
    """Step Functions `actions` (IAM names) the function calls on the state machine `state_machine`
    (a `StateMachineSpec.name`); the function learns its ARN as `STATE_MACHINE_ARN`."""

    state_machine: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: code in `functions/<code_folder>/`, entry point `handler.<trigger>_handler`."""

    name: str
    domain: str
    description: str
    # What invokes it. One trigger per function: each has its own entry point, timeout and alarms.
    trigger: Trigger = "api"
    memory_mb: int = 512
    timeout_seconds: int = 10
    # Every DynamoDB call the function's code makes, as IAM grants (CDK builds its policy from these;
    # `tests/infra/test_least_privilege.py` asserts them, the local runtime checks calls against them).
    table_access: tuple[ItemAccess, ...] = ()
    # Secrets it reads (`SecretSpec.name`s): their ARN variable, read access, and the layer each brings.
    secrets: tuple[str, ...] = ()
    # Objects it reads or writes in the stack's buckets (their name reaches it as `BucketSpec.variable`).
    buckets: tuple[BucketAccess, ...] = ()
    # The state machine it drives (at most one: it has one STATE_MACHINE_ARN).
    workflows: tuple[WorkflowAccess, ...] = ()
    # Puts events on the stack's bus itself (every other function's events leave through the outbox).
    puts_events: bool = False
    # Sends e-mail (the region's SES identity and configuration set) and/or SMS.
    sends: tuple[Channel, ...] = ()
    # The folder under functions/ with its code, when another function's (default: `name`). The same
    # code deployed twice, each with only the trigger and grants its spec gives it.
    code: str = ""

    @property
    def code_folder(self) -> str:
        return self.code or self.name

    @property
    def handler(self) -> str:
        """The function's Lambda entry point, a top-level callable of `functions/<code>/handler.py`."""
        return f"{self.trigger}_handler"

    @property
    def state_machine(self) -> str | None:
        return self.workflows[0].state_machine if self.workflows else None


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

# One execution per checkout (named after it): payment -> order -> fulfilment -> delivery, with
# compensation on every failure branch (docs/orders.md; `STATE_MACHINES` below).
ORDER_LIFECYCLE = "order-lifecycle"
# What `cloudtill.workflow.StepFunctionsWorkflow` calls: `start` -> StartExecution, `resume` ->
# SendTaskSuccess. Nothing calls SendTaskFailure/Heartbeat, DescribeExecution or StopExecution.
START_EXECUTION = "states:StartExecution"
SEND_TASK_SUCCESS = "states:SendTaskSuccess"
# POST /checkouts starts the checkout's order lifecycle (one execution named after it).
STARTS_ORDER_LIFECYCLE = (WorkflowAccess(ORDER_LIFECYCLE, (START_EXECUTION,)),)
# Admin fulfilment/delivery/cancel/returns, the lifecycle's own tasks and the sweeps wake the waiting
# task; the `payment_intent.succeeded` webhook resumes AwaitPayment.
RESUMES_ORDER_LIFECYCLE = (WorkflowAccess(ORDER_LIFECYCLE, (SEND_TASK_SUCCESS,)),)

# The secret of every function calling Stripe (`SECRETS` below) and the reports bucket (`BUCKETS`).
STRIPE = "stripe"
REPORTS = "reports"

CHECKOUT_TABLE_ACCESS = (
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
)
ORDERS_TABLE_ACCESS = (
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
)
REPORTING_TABLE_ACCESS = (
    # Aggregates and dedupe markers (AGG#), first-order markers (CUSTOMER#); never an order,
    # checkout or stock item. ReportReady leaves through the outbox.
    _main((GET, QUERY, PUT, UPDATE, CONDITION_CHECK), "AGG#*", "CUSTOMER#*"),
    _main((PUT,), OUTBOX),
)
# Exactly what the report store does: put and get objects under reports/, and list them.
WRITES_REPORTS = (BucketAccess(REPORTS, ("s3:PutObject", "s3:GetObject"), list=True),)
NOTIFICATIONS_TABLE_ACCESS = (
    # The shopper's contact from checkouts and orders, its own records (one BatchGetItem per
    # SQS batch; LeadingKeys is checked for every key in it).
    _main((GET, BATCH_GET), "CHECKOUT#*", "ORDER#*", "NOTIFICATION#*", "SUPPRESSED#*"),
    _main((UPDATE,), "NOTIFICATION#*", "SUPPRESSED#*"),
)

# Code that serves several triggers is deployed once per trigger (`code=`): each function has its own
# entry point, timeout and alarms, and (for now) the grants of the code it shares.
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
        table_access=CHECKOUT_TABLE_ACCESS,
        secrets=(STRIPE,),
        workflows=STARTS_ORDER_LIFECYCLE,
    ),
    FunctionSpec(
        name="checkout-expiry",
        domain="checkout",
        code="checkout",
        trigger="schedule",
        description="Checkout: the sweep giving expired checkouts' stock and promotions back",
        timeout_seconds=15,
        table_access=CHECKOUT_TABLE_ACCESS,
        secrets=(STRIPE,),
        workflows=STARTS_ORDER_LIFECYCLE,
    ),
    FunctionSpec(
        name="publisher",
        domain="events",
        trigger="stream",
        description="Outbox publisher: table stream -> EventBridge",
        timeout_seconds=30,
        # No item access: it reads the stream (granted with its event source mapping) and writes nothing.
        puts_events=True,
    ),
    FunctionSpec(
        name="payments",
        domain="payments",
        description="Payments: Stripe webhooks (signed, deduplicated)",
        table_access=(
            # Webhooks: dedupe + payment record + charge link, the paid checkout.
            _main((GET,), *PAYMENT_ITEMS, "CHECKOUT#*"),
            _main((BATCH_GET,), "PAYMENT_EVENT#*", "PAYMENT_INTENT#*"),
            _main((PUT,), *PAYMENT_ITEMS, OUTBOX),
            # payment_outcome on the checkout, and the late-payment refund claim held on it.
            _main((UPDATE,), "CHECKOUT#*"),
            _main((PUT, DELETE), LATE_PAYMENT_REFUND_CLAIMS),
        ),
        # The webhook signing secret (and the API key: late payments are refunded).
        secrets=(STRIPE,),
        workflows=RESUMES_ORDER_LIFECYCLE,
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
        trigger="queue",
        description="Notifications: domain events -> e-mail (SES) and SMS (SNS)",
        timeout_seconds=30,
        table_access=NOTIFICATIONS_TABLE_ACCESS,
        # ReportReady e-mails link to the report with a URL this function signs: it reads report files.
        buckets=(BucketAccess(REPORTS, ("s3:GetObject",)),),
        sends=("email", "sms"),
    ),
    FunctionSpec(
        name="notifications-feedback",
        domain="notifications",
        code="notifications",
        trigger="topic",
        description="Notifications: SES sends, bounces, complaints (via SNS) -> records, suppressions",
        timeout_seconds=30,
        table_access=NOTIFICATIONS_TABLE_ACCESS,
    ),
    FunctionSpec(
        name="orders",
        domain="orders",
        description="Orders: admin order routes (list, fulfil, deliver, cancel, returns, refunds)",
        timeout_seconds=30,
        table_access=ORDERS_TABLE_ACCESS,
        # Refunds (cancel, returns, late payments) and cancelling PaymentIntents of expired checkouts.
        secrets=(STRIPE,),
        workflows=RESUMES_ORDER_LIFECYCLE,
    ),
    FunctionSpec(
        name="order-tasks",
        domain="orders",
        code="orders",
        trigger="task",
        description="Orders: the order lifecycle's Lambda tasks",
        timeout_seconds=30,
        table_access=ORDERS_TABLE_ACCESS,
        secrets=(STRIPE,),
        workflows=RESUMES_ORDER_LIFECYCLE,
    ),
    FunctionSpec(
        name="order-sweeps",
        domain="orders",
        code="orders",
        trigger="schedule",
        description="Orders: the sweeps settling stuck refunds and paid checkouts without an order",
        timeout_seconds=30,
        table_access=ORDERS_TABLE_ACCESS,
        secrets=(STRIPE,),
        workflows=RESUMES_ORDER_LIFECYCLE,
    ),
    FunctionSpec(
        name="order-view",
        domain="orders",
        description="Orders: the shopper's order view (read only)",
        # GET /orders/{order_id} is public: the function behind it can read an order (with its
        # payment's status), and nothing else.
        table_access=(_main((QUERY,), "ORDER#*"), _main((GET,), "PAYMENT_INTENT#*")),
    ),
    FunctionSpec(
        name="reporting",
        domain="reporting",
        description="Reporting: admin report routes (build a day's report now, read it)",
        memory_mb=1024,
        timeout_seconds=120,
        table_access=REPORTING_TABLE_ACCESS,
        buckets=WRITES_REPORTS,
    ),
    FunctionSpec(
        name="reporting-aggregates",
        domain="reporting",
        code="reporting",
        trigger="queue",
        description="Reporting: daily aggregates from domain events",
        memory_mb=1024,
        timeout_seconds=120,
        table_access=REPORTING_TABLE_ACCESS,
        buckets=WRITES_REPORTS,
    ),
    FunctionSpec(
        name="reporting-nightly",
        domain="reporting",
        code="reporting",
        trigger="schedule",
        description="Reporting: the nightly report to S3",
        memory_mb=1024,
        timeout_seconds=120,
        table_access=REPORTING_TABLE_ACCESS,
        buckets=WRITES_REPORTS,
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

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    # Customer e-mails/SMS and ops alerts: the detail types the consumer's models read.
    Subscription(
        name="notifications",
        function="notifications",
        detail_types=NOTIFICATION_DETAIL_TYPES,
        # Shoppers do not notice 2 s; batches share the consumer's one read of what they need.
        max_batching_window_seconds=2,
    ),
    # Daily aggregates for the nightly report: the detail types the aggregation counts.
    Subscription(
        name="reporting-aggregates",
        function="reporting-aggregates",
        detail_types=AGGREGATE_DETAIL_TYPES,
        # Aggregates are read at night: gather up to 100 events for 5 s and apply them in one
        # transaction (cloudtill.reporting: merged counter updates per batch).
        batch_size=100,
        max_batching_window_seconds=5,
    ),
)

# SES events (the configuration set's event destination: an SNS topic) reach this `topic` function:
# a Send confirms the tagged notification record as `sent` (a sender that died after SES accepted the
# message is not repeated), bounces and complaints put the addresses on the suppression list.
EMAIL_FEEDBACK_FUNCTION = "notifications-feedback"
# The event types the destination publishes (names of SES's `EventType`): read by CDK and by localrt.
EMAIL_FEEDBACK_EVENTS = ("SEND", "BOUNCE", "COMPLAINT")

SCHEDULES: tuple[Schedule, ...] = (
    # Expired checkouts give their stock and promotion redemptions back within a minute.
    Schedule("release-expired-checkouts", "checkout-expiry", "rate(1 minute)"),
    # Yesterday's report at 02:00 in the stack's time zone (payload {}: the previous local day).
    Schedule("nightly-report", "reporting-nightly", "cron(0 2 * * ? *)"),
    # Refunds whose attempt died between claiming and settling (a claim `requesting` for over 5 min)
    # are finished here, so no payment stays taken without its refund (docs/orders.md "Refunds").
    Schedule(
        "settle-stuck-refunds", "order-sweeps", "rate(5 minutes)", payload={"task": "settle_stuck_refunds"}
    ),
    # Checkouts paid over 15 minutes ago and still without an order (their workflow failed or is gone)
    # are cancelled and refunded, once (docs/orders.md "Sweeps").
    Schedule(
        "settle-paid-checkouts",
        "order-sweeps",
        "rate(5 minutes)",
        payload={"task": "settle_paid_checkouts"},
    ),
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

STATE_MACHINES: tuple[StateMachineSpec, ...] = (
    StateMachineSpec(
        name=ORDER_LIFECYCLE,
        definition_file="infra/statemachines/order_lifecycle.asl.json",
        # The placeholder keeps its name: the task function is the orders code's `task` deployment.
        tasks={"OrdersFunction": "order-tasks"},
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


# Every route, read from the handlers of the `api` functions (their resolvers' decorators are the one
# place a route is written); who may call it follows from its path (`infra/routes.py`).
ROUTES: tuple[Route, ...] = tuple(
    Route(method, path, spec.name, auth_of(path))
    for spec in FUNCTIONS
    if spec.trigger == "api"
    for method, path in handler_routes(spec.code_folder)
)


@dataclass(frozen=True)
class SecretSpec:
    """A Secrets Manager secret of the stack, `cloudtill/<stage>/<name>`. Functions listing it in
    `FunctionSpec.secrets` get its ARN as `variable`, read access, and the layer `layer` (the SDK of
    the service the secret is for)."""

    name: str
    description: str
    variable: str
    # Why it is not rotated by Secrets Manager (cdk-nag AwsSolutions-SMG4).
    not_rotated_because: str
    layer: str | None = None


@dataclass(frozen=True)
class BucketSpec:
    """An S3 bucket of the stack: encrypted, private, TLS only, retained. Objects live under `prefix`
    (the only place functions are granted), move to Infrequent Access and then Glacier Instant
    Retrieval as they age. Built in the construct of `domain`; functions listing it in
    `FunctionSpec.buckets` learn its name as `variable`."""

    name: str
    domain: str
    prefix: str
    variable: str
    infrequent_access_after_days: int
    glacier_after_days: int


SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec(
        name=STRIPE,
        description="Stripe API key and webhook signing secret (JSON: api_key, webhook_secret)",
        variable="STRIPE_SECRET_ARN",
        not_rotated_because="The Stripe key is issued and rolled in the Stripe dashboard; Secrets Manager "
        "cannot rotate it. Operators roll it per the runbook in docs/infrastructure.md.",
        layer="stripe",
    ),
)
# reports/YYYY/MM/DD/{report.json, skus.csv, order-lines.csv, report.html} (docs/reporting.md).
BUCKETS: tuple[BucketSpec, ...] = (
    BucketSpec(
        name=REPORTS,
        domain="reporting",
        prefix="reports/",
        variable="REPORTS_BUCKET",
        infrequent_access_after_days=90,
        glacier_after_days=365,
    ),
)


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
