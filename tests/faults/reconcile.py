"""The reconciliation every fault run ends with: read everything back (DynamoDB, Stripe, Step Functions,
the mail outbox) and list the invariants that do not hold. Usable by any test that knows the shopper's
e-mail and the SKUs it used (`reconcile(backend, api, admin, email, skus)`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from cloudtill import ddb
from cloudtill.checkout.tokens import email_hash

from localrt.stripe_emulator import API_KEY
from tests.integration.orders_support import execution
from tests.integration.stock_helpers import TABLE, dynamodb

if TYPE_CHECKING:
    from tests.integration.conftest import RunningBackend

FINAL_CHECKOUT_STATUSES = ("completed", "expired", "cancelled")
# A confirmed order's workflow legitimately waits for ops (ship, deliver) with no deadline.
ORDER_STATUSES_AWAITING_OPS = ("confirmed", "partially_shipped", "shipped")
INVARIANTS = (
    "checkout_final",
    "paid_order_or_refund",
    "refunded_and_fulfilled",
    "refunds_within_captured",
    "ledger_matches_stripe",
    "open_intent_after_final",
    "stock_conserved",
    "reserved_matches_reservations",
    "one_email_per_event",
    "one_effect_per_event",
    "one_aggregate_per_event",
    "execution_ended",
)


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str


@dataclass
class Reading:
    """What the reconciliation read, for the report of a run."""

    checkouts: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    executions: dict[str, str] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    def fail(self, invariant: str, detail: str) -> None:
        self.violations.append(Violation(invariant, detail))


def _item(backend: RunningBackend, pk: str, sk: str) -> dict[str, Any] | None:
    raw = dynamodb(backend.aws_endpoint).get_item(TableName=TABLE, Key=ddb.key(pk, sk), ConsistentRead=True)
    return ddb.from_item(raw["Item"]) if "Item" in raw else None


def _query(backend: RunningBackend, **query: Any) -> list[dict[str, Any]]:
    client = dynamodb(backend.aws_endpoint)
    found: list[dict[str, Any]] = []
    while True:
        page = client.query(TableName=TABLE, **query)
        found += [ddb.from_item(i) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def customer_checkouts(backend: RunningBackend, email: str) -> list[dict[str, Any]]:
    """Every checkout of the shopper, also those whose creation the client never saw answered."""
    keys = _query(
        backend,
        IndexName="GSI2",
        KeyConditionExpression="GSI2PK = :pk AND begins_with(GSI2SK, :kind)",
        ExpressionAttributeValues={
            ":pk": {"S": f"EMAIL#{email_hash(email.strip().lower())}"},
            ":kind": {"S": "CHECKOUT#"},
        },
    )
    checkouts = [_item(backend, str(k["PK"]), str(k["SK"])) for k in keys]
    return [c for c in checkouts if c is not None]


def stripe_payment(api: httpx.Client, payment_intent_id: str) -> dict[str, Any]:
    """The intent as Stripe holds it: status, captured and refunded amounts."""
    api_base = api.get("/_local/stripe").json()["api_base"]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    intent = httpx.get(f"{api_base}/v1/payment_intents/{payment_intent_id}", headers=headers).json()
    captured = refunded = 0
    charge = intent.get("latest_charge")
    charge_id = charge.get("id") if isinstance(charge, dict) else charge
    if charge_id:
        found = httpx.get(f"{api_base}/v1/charges/{charge_id}", headers=headers).json()
        refunded = int(found.get("amount_refunded", 0))
        captured = int(found.get("amount_captured", found.get("amount", 0))) if found.get("paid") else 0
    if intent.get("status") == "succeeded" and not captured:
        captured = int(intent.get("amount_received") or intent.get("amount") or 0)
    return {"status": intent.get("status"), "captured": captured, "refunded": refunded}


def execution_status(backend: RunningBackend, checkout_id: str) -> str | None:
    try:
        return str(execution(backend, checkout_id)["status"])
    except Exception:  # no execution (never started)
        return None


def _movements(backend: RunningBackend, sku: str) -> list[dict[str, Any]]:
    return _query(
        backend,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :m)",
        ExpressionAttributeValues={":pk": {"S": f"SKU#{sku}"}, ":m": {"S": "MOVEMENT#"}},
        ConsistentRead=True,
    )


def _held(backend: RunningBackend, sku: str) -> int:
    items = _query(
        backend,
        IndexName="GSI2",
        KeyConditionExpression="GSI2PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"HELD#{sku}"}},
    )
    return sum(int(i["quantity"]) for i in items if i.get("status") == "held")


def read(
    backend: RunningBackend, api: httpx.Client, admin: httpx.Client, email: str, skus: list[str]
) -> Reading:
    """Reads the shopper's checkouts, orders, payments, executions, stock and e-mails and checks every
    invariant (INVARIANTS); call it once the backend is quiet."""
    reading = Reading()
    now = datetime.now(UTC)
    reading.checkouts = customer_checkouts(backend, email)
    sold: Counter[str] = Counter()
    restocked: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    confirmed_orders: Counter[str] = Counter()
    for checkout in reading.checkouts:
        cid = str(checkout["id"]) if "id" in checkout else str(checkout["PK"]).removeprefix("CHECKOUT#")
        status = checkout.get("status")
        if status not in FINAL_CHECKOUT_STATUSES:
            reading.fail("checkout_final", f"{cid} is {status} (expires {checkout.get('expires_at')})")
        order = None
        if checkout.get("order_id"):
            response = admin.get(f"/admin/orders/{checkout['order_id']}")
            order = response.json() if response.status_code == 200 else None
            if order is not None:
                reading.orders[str(order["id"])] = order
        payment = checkout.get("payment") or {}
        intent_id = payment.get("payment_intent_id") if isinstance(payment, dict) else None
        execution = execution_status(backend, cid)
        reading.executions[cid] = str(execution)
        waiting_for_ops = order is not None and order["status"] in ORDER_STATUSES_AWAITING_OPS
        if execution == "RUNNING" and not waiting_for_ops:
            reading.fail("execution_ended", f"{cid}: still RUNNING, order {order and order['status']}")
        if order is not None and order.get("cancel_requested") and order["status"] != "cancelled":
            # A requested cancellation gives the workflow a deadline: it must carry it out.
            reading.fail(
                "execution_ended", f"{cid}: cancel requested, order {order['status']}, execution {execution}"
            )
        if order is not None:
            for line in order["lines"]:
                sold[line["sku"]] += int(line["quantity"])
                confirmed_orders[line["sku"]] += 1
            if order["status"] == "cancelled":
                for line in order["lines"]:
                    restocked[line["sku"]] += int(line["quantity"]) - int(line["shipped"])
            for ret in order.get("returns", []):
                for line in ret["lines"]:
                    returned[line["sku"]] += int(line["quantity"])
                    if ret["restocked"]:
                        restocked[line["sku"]] += int(line["quantity"])
        if not intent_id:
            continue
        stripe = stripe_payment(api, str(intent_id))
        record = _item(backend, f"PAYMENT_INTENT#{intent_id}", "INTENT")
        _check_payment(reading, cid, status, order, stripe, record)
    _check_stock(reading, backend, skus, sold, restocked)
    _check_emails(reading, api, email)
    _check_aggregates(reading, backend, skus, sold, confirmed_orders, returned, now)
    return reading


def _check_payment(
    reading: Reading,
    cid: str,
    status: Any,
    order: dict[str, Any] | None,
    stripe: dict[str, Any],
    record: dict[str, Any] | None,
) -> None:
    captured, refunded = int(stripe["captured"]), int(stripe["refunded"])
    if stripe["status"] != "succeeded":
        if status in FINAL_CHECKOUT_STATUSES and order is None and stripe["status"] != "canceled":
            reading.fail("open_intent_after_final", f"{cid}: {status}, intent still {stripe['status']}")
        return
    if refunded > captured:
        reading.fail("refunds_within_captured", f"{cid}: {refunded} refunded of {captured} captured")
    ours = int((record or {}).get("refunded_amount", 0))
    if ours != refunded:
        reading.fail(
            "ledger_matches_stripe", f"{cid}: payment record says {ours} refunded, Stripe {refunded}"
        )
    if order is None:
        if refunded < captured:
            reading.fail("paid_order_or_refund", f"{cid}: paid {captured}, no order, {refunded} refunded")
        return
    if int(order["refunded_amount"]) != refunded:
        reading.fail(
            "ledger_matches_stripe",
            f"{cid}: order says {order['refunded_amount']} refunded, Stripe {refunded}",
        )
    if order["status"] == "cancelled" and refunded < captured:
        reading.fail("paid_order_or_refund", f"{cid}: order cancelled, {refunded} of {captured} refunded")
    kept = sum(int(ln["quantity"]) - int(ln["returned"]) for ln in order["lines"])
    if order["status"] != "cancelled" and refunded >= captured and kept > 0:
        reading.fail(
            "refunded_and_fulfilled", f"{cid}: order {order['status']} keeps {kept} units, fully refunded"
        )


def _check_stock(
    reading: Reading, backend: RunningBackend, skus: list[str], sold: Counter[str], restocked: Counter[str]
) -> None:
    for sku in skus:
        level = _item(backend, f"SKU#{sku}", "SKU") or {}
        moves = _movements(backend, sku)
        by_type: Counter[str] = Counter()
        for move in moves:
            kind = "restock" if move["type"] == "adjust" and move.get("reference") else str(move["type"])
            by_type[kind] += int(move["delta"])
        on_hand = int(level.get("on_hand", 0))
        if sum(by_type.values()) != on_hand:
            reading.fail(
                "stock_conserved",
                f"{sku}: ledger {dict(by_type)} sums to {sum(by_type.values())}, on hand {on_hand}",
            )
        if -by_type["sale"] != sold[sku]:
            reading.fail(
                "stock_conserved", f"{sku}: {-by_type['sale']} sold in the ledger, orders hold {sold[sku]}"
            )
        if by_type["restock"] != restocked[sku]:
            reading.fail(
                "stock_conserved",
                f"{sku}: {by_type['restock']} restocked in the ledger, orders say {restocked[sku]}",
            )
        reserved, held = int(level.get("reserved", 0)), _held(backend, sku)
        if reserved != held:
            reading.fail(
                "reserved_matches_reservations", f"{sku}: reserved {reserved}, held reservations {held}"
            )
        expected = on_hand + int(level.get("backorder_limit", 0)) - reserved
        if int(level.get("available", 0)) != expected:
            reading.fail(
                "reserved_matches_reservations", f"{sku}: available {level.get('available')} != {expected}"
            )


def _check_emails(reading: Reading, api: httpx.Client, email: str) -> None:
    items = api.get("/_local/emails", params={"recipient": email}).json()["items"]
    counts = Counter((e["event_id"], e.get("message")) for e in items)
    for (event_id, message), count in counts.items():
        if event_id and count > 1:
            reading.fail("one_email_per_event", f"{count} e-mails '{message}' for event {event_id}")


def _check_aggregates(
    reading: Reading,
    backend: RunningBackend,
    skus: list[str],
    sold: Counter[str],
    orders: Counter[str],
    returned: Counter[str],
    now: datetime,
) -> None:
    days = {(now + timedelta(days=d)).date().isoformat() for d in (-1, 0, 1)}
    for sku in skus:
        totals: dict[str, int] = defaultdict(int)
        for day in days:
            item = _item(backend, f"AGG#DAY#{day}", f"SKU#{sku}") or {}
            for name in ("units", "orders", "units_returned"):
                totals[name] += int(item.get(name, 0))
        want = {"units": sold[sku], "orders": orders[sku], "units_returned": returned[sku]}
        if dict(totals) != want:
            reading.fail("one_aggregate_per_event", f"{sku}: aggregates {dict(totals)}, orders say {want}")
