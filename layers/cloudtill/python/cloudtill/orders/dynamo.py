"""DynamoDB adapter of the orders port (single table, keys in `cloudtill.keys`).

Items (docs/data-model.md, docs/orders.md):
* the order `ORDER#<id>` / `ORDER` (entity `order`), GSI1 `ORDERS#<status>` / `<created_at>#<id>`
  (admin list by status and day), GSI2 `EMAIL#<hash>` / `ORDER#<created_at>`; versioned, every change
  conditional on the version read. Written with Update (never a whole Put after creation) so the
  workflow's bookkeeping attributes on it (task token, refund claims) survive;
* fulfilments `ORDER#<id>` / `FULFILMENT#<nnnn>` and returns `ORDER#<id>` / `RETURN#<nnnn>`, put once;
* on confirmation, in the same transaction: the checkout (`awaiting_payment -> completed`, `order_id`),
  each reservation (`held -> committed`, index keys removed) and the stock sale of each SKU (the stock
  domain's own transaction parts: counters, ledger movement, StockAdjusted/StockLow).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.checkout.dynamo import checkout_record_from_item as checkout_from_item
from cloudtill.checkout.records import CheckoutRecord
from cloudtill.orders.ports import (
    CheckoutClosed,
    ClaimState,
    NothingToRefund,
    OrderWrite,
    RefundClaim,
    StaleOrder,
    TakenClaim,
    TransientError,
)
from cloudtill.orders.records import (
    Fulfilment,
    OrderLine,
    OrderRecord,
    OrderReturn,
    OrderView,
    TimelineEntry,
)
from cloudtill.orders.rules import StatusStep
from cloudtill.outbox import outbox_put
from cloudtill.stock.dynamo import DynamoStockRepository, state_from_item
from cloudtill.stock.ports import StaleStock
from cloudtill.stock.rules import StockState

# Attribute names of the stored Step Functions task tokens (not secrets: names).
PAYMENT_TOKEN = "payment_task_token"  # noqa: S105
ORDER_TOKEN = "wait_task_token"  # noqa: S105
_CONDITION_FAILED = "ConditionalCheckFailed"
# Refund claims: `refund_<claim>` on the owner item is `requesting` (with `refund_<claim>_at`), then the
# refund id, or `failed` (free again). While requesting, a pending item lists it for the stuck-refund
# sweep, in its own partition (the order's partition is read whole by `get`).
_REFUND_REQUESTING = "requesting"
_REFUND_FAILED = "failed"
PENDING_REFUNDS = "REFUNDS#REQUESTING"  # GSI1PK of pending refund claims; GSI1SK `<requested_at>#<PK>`
# The owner's refund ledger: the sum of its claims that are requesting or settled (`refund_<claim>_amount`
# each). Only claims change it (ADD, conditioned on the value read), never a whole-order write.
_LEDGER = "refunded_amount"
_LEDGER_ATTEMPTS = 10


def _pending_refund_key(refund: RefundClaim) -> tuple[str, str]:
    return f"REFUND_CLAIM#{refund.idempotency_key}", "CLAIM"


def _claim_names(claim: str, ledger: bool = False) -> dict[str, str]:
    names = {"#claim": f"refund_{claim}", "#at": f"refund_{claim}_at", "#amount": f"refund_{claim}_amount"}
    if ledger:
        names["#ledger"] = _LEDGER
    return names


def _with_refund_claim(operation: dict[str, Any], refund: RefundClaim) -> dict[str, Any]:
    """The order's versioned update, also claiming `refund` (never claimed before, room left in the
    ledger) and counting it: the claim and the change it belongs to commit together or not at all."""
    update = dict(operation["Update"])
    expression = str(update["UpdateExpression"])
    assert expression.startswith("SET ")
    claim_names = {f"#rc_{k[1:]}": v for k, v in _claim_names(refund.claim, ledger=True).items()}
    update["UpdateExpression"] = (
        "SET #rc_claim = :rc_requesting, #rc_at = :rc_at, #rc_amount = :rc_amount, "
        + expression.removeprefix("SET ")
        + " ADD #rc_ledger :rc_amount"
    )
    update["ConditionExpression"] = (
        f"({update['ConditionExpression']}) AND attribute_not_exists(#rc_claim)"
        " AND (attribute_not_exists(#rc_ledger) OR #rc_ledger <= :rc_room)"
    )
    update["ExpressionAttributeNames"] = {**update["ExpressionAttributeNames"], **claim_names}
    update["ExpressionAttributeValues"] = {
        **update["ExpressionAttributeValues"],
        **ddb.to_values(
            {
                ":rc_requesting": _REFUND_REQUESTING,
                ":rc_at": refund.requested_at,
                ":rc_amount": refund.amount,
                ":rc_room": refund.cap - refund.amount,
            }
        ),
    }
    return {"Update": update}


def _claim_condition_failed(error: ClientError) -> bool:
    """The claim's condition failed (False to the caller). Two transactions on the same owner item at
    the same moment cancel one another: that one is worth a retry (TransientError), not a no."""
    if not ddb.is_transaction_cancelled(error):
        return False
    codes = ddb.cancellation_codes(error)
    if _CONDITION_FAILED in codes:
        return True
    if "TransactionConflict" in codes:
        raise TransientError("a refund claim changed at the same moment") from None
    return False


def _order_fields(order: OrderRecord) -> dict[str, Any]:
    gsi2pk, gsi2sk = keys.customer_index(order.email_hash, order.created_at, "ORDER")
    return {
        "entity": "order",
        "id": order.id,
        "checkout_id": order.checkout_id,
        "token_hash": order.token_hash,
        "status": order.status,
        "email": order.email,
        "email_hash": order.email_hash,
        "lines": [
            {
                "sku": ln.sku,
                "name": ln.name,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "line_total": ln.line_total,
                "discount": ln.discount,
                "tax": ln.tax,
                "unit_cost": ln.unit_cost,
                "shipped": ln.shipped,
                "returned": ln.returned,
            }
            for ln in order.lines
        ],
        "currency": order.currency,
        "subtotal": order.subtotal,
        "discount": order.discount,
        "shipping": order.shipping,
        "tax": order.tax,
        "total": order.total,
        "prices_include_tax": order.prices_include_tax,
        "shipping_method": order.shipping_method,
        "shipping_address": {k: v for k, v in order.shipping_address.items() if v is not None},
        "promo_code": order.promo_code,
        "payment_intent_id": order.payment_intent_id,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "timeline": [{"at": e.at, "event": e.event} for e in order.timeline],
        "fulfilment_count": order.fulfilment_count,
        "return_count": order.return_count,
        "cancel_requested": order.cancel_requested,
        "refunded_amount": order.refunded_amount,
        "version": order.version,
        "GSI1PK": keys.orders_by_status(order.status),
        "GSI1SK": f"{order.created_at}#{order.id}",
        "GSI2PK": gsi2pk,
        "GSI2SK": gsi2sk,
    }


def order_from_item(item: dict[str, Any]) -> OrderRecord:
    return OrderRecord(
        id=item["id"],
        checkout_id=item["checkout_id"],
        token_hash=item["token_hash"],
        status=item["status"],
        email=item["email"],
        email_hash=item["email_hash"],
        lines=tuple(
            OrderLine(
                sku=ln["sku"],
                name=ln["name"],
                quantity=ln["quantity"],
                unit_price=ln["unit_price"],
                line_total=ln["line_total"],
                discount=ln["discount"],
                tax=ln["tax"],
                unit_cost=ln.get("unit_cost", 0),
                shipped=ln.get("shipped", 0),
                returned=ln.get("returned", 0),
            )
            for ln in item["lines"]
        ),
        currency=item["currency"],
        subtotal=item["subtotal"],
        discount=item["discount"],
        shipping=item["shipping"],
        tax=item["tax"],
        total=item["total"],
        prices_include_tax=bool(item["prices_include_tax"]),
        shipping_method=item["shipping_method"],
        shipping_address=dict(item["shipping_address"]),
        promo_code=item.get("promo_code"),
        payment_intent_id=item["payment_intent_id"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        timeline=tuple(TimelineEntry(e["at"], e["event"]) for e in item.get("timeline", [])),
        fulfilment_count=int(item.get("fulfilment_count", 0)),
        return_count=int(item.get("return_count", 0)),
        cancel_requested=bool(item.get("cancel_requested", False)),
        refunded_amount=int(item.get("refunded_amount", 0)),
        version=int(item.get("version", 0)),
    )


def _fulfilment_from_item(item: dict[str, Any]) -> Fulfilment:
    return Fulfilment(
        number=int(item["number"]),
        carrier=item["carrier"],
        tracking_number=item["tracking_number"],
        tracking_url=item.get("tracking_url"),
        lines={k: int(v) for k, v in item["lines"].items()},
        at=item["at"],
    )


def _return_from_item(item: dict[str, Any]) -> OrderReturn:
    return OrderReturn(
        number=int(item["number"]),
        lines={k: int(v) for k, v in item["lines"].items()},
        restock=bool(item["restock"]),
        refund_amount=int(item["refund_amount"]),
        at=item["at"],
        refund_id=item.get("refund_id"),
    )


@ddb.transient_errors
class DynamoOrderRepository:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client or ddb.client()
        self._stock = DynamoStockRepository(table_name, self._client)

    # -- reads -----------------------------------------------------------------------------------------

    def get(self, order_id: str) -> OrderView | None:
        pk, _ = keys.order(order_id)
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": ddb.to_values({":pk": pk}),
            "ConsistentRead": True,
        }
        order: OrderRecord | None = None
        token: str | None = None
        fulfilments: list[Fulfilment] = []
        returns: list[OrderReturn] = []
        while True:
            page = self._client.query(**query)
            for raw in page.get("Items", []):
                item = ddb.from_item(raw)
                if item["SK"] == "ORDER":
                    order = order_from_item(item)
                    token = item.get(ORDER_TOKEN)
                elif item["SK"].startswith(keys.FULFILMENT_PREFIX):
                    fulfilments.append(_fulfilment_from_item(item))
                elif item["SK"].startswith(keys.RETURN_PREFIX):
                    returns.append(_return_from_item(item))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if order is None:
            return None
        return OrderView(order, tuple(fulfilments), tuple(returns), token)

    def get_order(self, order_id: str) -> OrderView | None:
        item = self._client.get_item(
            TableName=self._table, Key=ddb.key(*keys.order(order_id)), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = ddb.from_item(item)
        return OrderView(order_from_item(data), task_token=data.get(ORDER_TOKEN))

    def list_by_status(
        self, status: str, date: str | None, limit: int, cursor: str | None
    ) -> tuple[list[OrderRecord], str | None]:
        condition = "GSI1PK = :pk"
        values: dict[str, Any] = {":pk": keys.orders_by_status(status)}
        if date:
            condition += " AND begins_with(GSI1SK, :day)"
            values[":day"] = date
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI1",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": ddb.to_values(values),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        # A cursor starts inside this status partition and day (GSI1SK `<created_at>#<id>`), at an order.
        order_pk_prefix, order_sk = keys.order("")
        scope = ddb.CursorScope(
            equal={"GSI1PK": values[":pk"], "SK": order_sk},
            prefix={"PK": order_pk_prefix, "GSI1SK": date or ""},
        )
        start = ddb.decode_cursor(cursor, scope)
        if start is not None:
            query["ExclusiveStartKey"] = start
        page = self._client.query(**query)
        orders = [order_from_item(ddb.from_item(i)) for i in page.get("Items", [])]
        return orders, ddb.encode_cursor(page.get("LastEvaluatedKey"))

    def stock(self, sku: str) -> StockState | None:
        return self._stock.get(sku)

    def checkout_and_stock(
        self, checkout_id: str, skus: Sequence[str]
    ) -> tuple[CheckoutRecord | None, dict[str, StockState]]:
        checkout_key = ddb.key(*keys.checkout(checkout_id))
        wanted = [checkout_key, *(ddb.key(*keys.sku(s)) for s in dict.fromkeys(skus))]
        checkout: CheckoutRecord | None = None
        stock: dict[str, StockState] = {}
        for raw in ddb.batch_get(self._client, self._table, wanted, consistent=True):
            item = ddb.from_item(raw)
            if raw["PK"] == checkout_key["PK"]:
                checkout = checkout_from_item(item)
            else:
                state = state_from_item(item)
                stock[state.sku] = state
        return checkout, stock

    def advance(self, order_id: str, step: StatusStep) -> str | None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*keys.order(order_id)),
                UpdateExpression=(
                    "SET #status = :to, GSI1PK = :listed, updated_at = :at, "
                    "timeline = list_append(timeline, :entry) ADD #version :one"
                ),
                ConditionExpression=(
                    "#status = :from AND (attribute_not_exists(#cancel) OR #cancel = :false)"
                ),
                ExpressionAttributeNames={
                    "#status": "status",
                    "#version": "version",
                    "#cancel": "cancel_requested",
                },
                ExpressionAttributeValues=ddb.to_values(
                    {
                        ":to": step.to_status,
                        ":from": step.from_status,
                        ":listed": keys.orders_by_status(step.to_status),
                        ":at": step.at,
                        ":entry": [{"at": step.at, "event": step.event}],
                        ":one": 1,
                        ":false": False,
                    }
                ),
            )
        except ClientError as error:
            if not ddb.is_conditional_failure(error):
                raise
            # Not applicable (a retry after success, or another status): say where the order is.
            return self._attribute(keys.order(order_id), "status")
        return step.to_status

    # -- the one write -----------------------------------------------------------------------------

    def write(self, change: OrderWrite) -> None:
        operations: list[dict[str, Any]] = []
        roles: list[str] = []

        def add(role: str, operation: dict[str, Any]) -> None:
            roles.append(role)
            operations.append(operation)

        order = change.order
        if change.checkout is not None:
            add("checkout", self._complete_checkout(change.checkout.id, order.id, order.updated_at))
        operation = self._order_operation(order, change.expected_version)
        claim = change.refund_claim
        if claim is not None:
            operation = _with_refund_claim(operation, claim)
            pending = ddb.to_item(self._pending_item(claim, claim.requested_at))
            add("pending-refund", {"Put": {"TableName": self._table, "Item": pending}})
        add("order", operation)
        for sku, _quantity in change.reservations.items():
            add(
                "reservation",
                self._commit_reservation(
                    change.checkout.id if change.checkout else "", sku, order.updated_at
                ),
            )
        for stock_write in change.stock:
            parts = self._stock.transaction_items(stock_write.change, stock_write.events)
            add("sku", parts[0])
            for part in parts[1:]:
                add("stock-part", part)
        if change.fulfilment is not None:
            add("child", self._put_new(self._fulfilment_item(order.id, change.fulfilment)))
        if change.order_return is not None:
            add("child", self._put_new(self._return_item(order.id, change.order_return)))
        for event in change.events:
            add("event", outbox_put(self._table, event))
        try:
            self._client.transact_write_items(TransactItems=operations)  # type: ignore[arg-type]
        except ClientError as error:
            if not ddb.is_transaction_cancelled(error):
                raise
            codes = ddb.cancellation_codes(error)
            failed = {role for role, code in zip(roles, codes, strict=False) if code == _CONDITION_FAILED}
            if "checkout" in failed or "reservation" in failed:
                raise CheckoutClosed(order.checkout_id) from None
            if "order" in failed:
                raise StaleOrder(order.id) from None
            if "sku" in failed:
                raise StaleStock(order.id) from None
            if "TransactionConflict" in codes:
                raise StaleOrder(order.id) from None  # a concurrent transaction: read again, retry
            raise

    # -- task tokens, claims, markers --------------------------------------------------------------

    def store_payment_token(self, checkout_id: str, token: str) -> CheckoutRecord | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*keys.checkout(checkout_id)),
                UpdateExpression="SET #token = :token",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#token": PAYMENT_TOKEN},
                ExpressionAttributeValues=ddb.to_values({":token": token}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if ddb.is_conditional_failure(error):
                return None
            raise
        return checkout_from_item(ddb.from_item(response["Attributes"]))

    def checkout_with_token(self, checkout_id: str) -> tuple[CheckoutRecord, str | None] | None:
        item = self._client.get_item(
            TableName=self._table, Key=ddb.key(*keys.checkout(checkout_id)), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = ddb.from_item(item)
        token = data.get(PAYMENT_TOKEN)
        return checkout_from_item(data), str(token) if token else None

    def store_order_token(self, order_id: str, token: str) -> OrderRecord | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*keys.order(order_id)),
                # The version bump is what lets writers read the token once (see the port).
                UpdateExpression="SET #token = :token ADD #version :one",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#token": ORDER_TOKEN, "#version": "version"},
                ExpressionAttributeValues=ddb.to_values({":token": token, ":one": 1}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if ddb.is_conditional_failure(error):
                return None
            raise
        return order_from_item(ddb.from_item(response["Attributes"]))

    def claim_refund(self, refund: RefundClaim, at: str, stale_before: str) -> TakenClaim | None:
        # The usual case in one write: never claimed, and the ledger has room for the whole amount.
        if refund.amount <= refund.cap:
            first = "attribute_not_exists(#claim) AND (attribute_not_exists(#ledger) OR #ledger <= :room)"
            if self._claim_refund(refund, at, first, {":room": refund.cap - refund.amount}, refund.amount):
                return TakenClaim("first", refund)
        for _ in range(_LEDGER_ATTEMPTS):
            # Taken already, or the ledger is short: read the claim and the ledger, then decide.
            data = self._claim_item(refund.owner, refund.claim)
            state = data.get(f"refund_{refund.claim}")
            since = data.get(f"refund_{refund.claim}_at")
            stored = data.get(f"refund_{refund.claim}_amount")
            if state == _REFUND_REQUESTING:
                if str(since or "") >= stale_before:
                    return None  # held by an attempt that may still be running
                # Taken over on the holder's own timestamp: of two retriers, one wins. Its amount is
                # counted already. (A claim written before claims had a timestamp counts as old.)
                condition, values = (
                    ("#claim = :requesting AND #at = :since", {":since": since})
                    if since
                    else ("#claim = :requesting AND attribute_not_exists(#at)", {})
                )
                # A claim made before the ledger existed has no amount yet: it is counted now.
                amount = int(stored) if stored is not None else refund.amount
                count = 0 if stored is not None else amount
                held = replace(refund, amount=amount)
                taken = self._claim_refund(held, at, condition, values, count)
                return TakenClaim("again", held) if taken else None
            if state is not None and state != _REFUND_FAILED:
                return None  # settled
            # Free (never claimed, or failed): count it against what remains, conditioned on the
            # ledger as read, so a concurrent claim makes this one read again.
            ledger = int(data.get(_LEDGER, 0))
            wanted = int(stored) if state == _REFUND_FAILED and stored is not None else refund.amount
            remaining = refund.cap - ledger
            amount = wanted if refund.exact else min(wanted, remaining)
            if amount <= 0 or amount > remaining:
                raise NothingToRefund(max(remaining, 0))
            condition = ("attribute_not_exists(#claim)" if state is None else "#claim = :failed") + (
                " AND #ledger = :ledger" if _LEDGER in data else " AND attribute_not_exists(#ledger)"
            )
            values = {":ledger": ledger} if _LEDGER in data else {}
            if state is not None:
                values[":failed"] = _REFUND_FAILED
            held = replace(refund, amount=amount)
            if self._claim_refund(held, at, condition, values, amount):
                return TakenClaim("first" if state is None else "again", held)
        raise TransientError("the refund ledger kept changing while claiming")

    def settle_refund_claim(
        self, refund: RefundClaim, at: str, refund_id: str | None, refunded: int | None = None
    ) -> None:
        pk, sk = _pending_refund_key(refund)
        # Freed: it no longer counts. Settled for another amount (reconciled with Stripe): the
        # ledger follows what was refunded.
        counted = 0 if refund_id is None else refund.amount if refunded is None else refunded
        update = "SET #claim = :value, #amount = :counted"
        values: dict[str, Any] = {
            ":value": refund_id or _REFUND_FAILED,
            ":requesting": _REFUND_REQUESTING,
            ":at": at,
            ":counted": refund.amount if refund_id is None else counted,
        }
        if counted != refund.amount:
            update += " ADD #ledger :delta"
            values[":delta"] = counted - refund.amount
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": ddb.key(*refund.owner),
                            "UpdateExpression": update,
                            # Only the holder settles: an attempt that was taken over leaves it alone.
                            "ConditionExpression": "#claim = :requesting AND #at = :at",
                            "ExpressionAttributeNames": _claim_names(refund.claim, ledger=":delta" in values),
                            "ExpressionAttributeValues": ddb.to_values(values),
                        }
                    },
                    # Settled or freed: no longer the sweep's (a freed claim's caller gets the error).
                    {"Delete": {"TableName": self._table, "Key": ddb.key(pk, sk)}},
                ]
            )
        except ClientError as error:
            if not _claim_condition_failed(error):
                raise

    def refund_claim(self, owner: tuple[str, str], claim: str) -> ClaimState | None:
        data = self._claim_item(owner, claim)
        state = data.get(f"refund_{claim}")
        if state is None:
            return None
        amount = data.get(f"refund_{claim}_amount")
        since = data.get(f"refund_{claim}_at")
        return ClaimState(
            str(state), int(amount) if amount is not None else None, str(since) if since else None
        )

    def stuck_refund_claims(self, stale_before: str, limit: int) -> list[RefundClaim]:
        # GSI1SK = "<requested_at>#<PK>": every claim made before `stale_before` sorts below it.
        items = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pending AND GSI1SK < :before",
            ExpressionAttributeValues=ddb.to_values({":pending": PENDING_REFUNDS, ":before": stale_before}),
            Limit=limit,
        ).get("Items", [])
        claims: list[RefundClaim] = []
        for item in items:
            data = ddb.from_item(item)
            captured = data.get("captured")
            claims.append(
                RefundClaim(
                    owner=(str(data["owner_pk"]), str(data["owner_sk"])),
                    claim=str(data["claim"]),
                    payment_intent_id=str(data["payment_intent_id"]),
                    amount=int(data["amount"]),
                    metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
                    reason=str(data["reason"]),
                    requested_at=str(data["requested_at"]),
                    captured=int(captured) if captured is not None else None,
                    exact=bool(data.get("exact", False)),
                )
            )
        return claims

    def _claim_item(self, owner: tuple[str, str], claim: str) -> dict[str, Any]:
        item = self._client.get_item(
            TableName=self._table,
            Key=ddb.key(*owner),
            ProjectionExpression="#claim, #at, #amount, #ledger",
            ExpressionAttributeNames=_claim_names(claim, ledger=True),
            ConsistentRead=True,
        ).get("Item")
        return ddb.from_item(item) if item else {}

    @staticmethod
    def _pending_item(refund: RefundClaim, at: str) -> dict[str, Any]:
        """What the stuck-refund sweep needs to request a claim again, listed while `requesting`."""
        pk, sk = _pending_refund_key(refund)
        return {
            "PK": pk,
            "SK": sk,
            "entity": "refund_claim",
            "owner_pk": refund.owner[0],
            "owner_sk": refund.owner[1],
            "claim": refund.claim,
            "payment_intent_id": refund.payment_intent_id,
            "amount": refund.amount,
            "captured": refund.captured,
            "exact": refund.exact,
            "reason": refund.reason,
            "metadata": dict(refund.metadata),
            "requested_at": at,
            "GSI1PK": PENDING_REFUNDS,
            "GSI1SK": f"{at}#{pk}",
        }

    def _claim_refund(
        self, refund: RefundClaim, at: str, condition: str, values: dict[str, Any], count: int
    ) -> bool:
        """Set the claim `requesting` at `at` with its amount if `condition` holds, add `count` to the
        owner's ledger, and (re)write its pending item with everything the sweep needs to request it
        again: one transaction, so no claim is ever `requesting` without being listed and counted."""
        pending = self._pending_item(refund, at)
        update = "SET #claim = :requesting, #at = :at, #amount = :amount"
        if count:
            update += " ADD #ledger :count"
        uses_ledger = bool(count) or "#ledger" in condition
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": ddb.key(*refund.owner),
                            "UpdateExpression": update,
                            "ConditionExpression": f"attribute_exists(PK) AND ({condition})",
                            "ExpressionAttributeNames": _claim_names(refund.claim, ledger=uses_ledger),
                            "ExpressionAttributeValues": ddb.to_values(
                                {
                                    ":requesting": _REFUND_REQUESTING,
                                    ":at": at,
                                    ":amount": refund.amount,
                                    **({":count": count} if count else {}),
                                    **values,
                                }
                            ),
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": ddb.to_item(pending)}},
                ]
            )
        except ClientError as error:
            if _claim_condition_failed(error):
                return False
            raise
        return True

    def paid_checkouts(self, paid_before: str, limit: int) -> list[str]:
        # GSI1SK = "<paid at>#<checkout>": every checkout paid before `paid_before` sorts below it.
        items = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :paid AND GSI1SK < :before",
            ExpressionAttributeValues=ddb.to_values({":paid": keys.PAID_CHECKOUTS, ":before": paid_before}),
            ProjectionExpression="#id",
            ExpressionAttributeNames={"#id": "id"},
            Limit=limit,
        ).get("Items", [])
        return [str(ddb.from_item(item)["id"]) for item in items]

    def forget_paid_checkout(self, checkout_id: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*keys.checkout(checkout_id)),
                UpdateExpression="REMOVE GSI1PK, GSI1SK",
                ConditionExpression="attribute_exists(PK)",
            )
        except ClientError as error:
            if not ddb.is_conditional_failure(error):
                raise

    def mark(self, owner: tuple[str, str], flag: str, at: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ddb.key(*owner),
                UpdateExpression="SET #flag = :at",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#flag)",
                ExpressionAttributeNames={"#flag": flag},
                ExpressionAttributeValues=ddb.to_values({":at": at}),
            )
        except ClientError as error:
            if ddb.is_conditional_failure(error):
                return False
            raise
        return True

    def is_marked(self, owner: tuple[str, str], flag: str) -> bool:
        return self._attribute(owner, flag) is not None

    # -- parts -------------------------------------------------------------------------------------

    def _attribute(self, owner: tuple[str, str], name: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=ddb.key(*owner),
            ProjectionExpression="#n",
            ExpressionAttributeNames={"#n": name},
            ConsistentRead=True,
        ).get("Item")
        if not item or name not in item:
            return None
        return str(ddb.from_item(item)[name])

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": ddb.to_item(item),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _order_operation(self, order: OrderRecord, expected_version: int | None) -> dict[str, Any]:
        pk, sk = keys.order(order.id)
        fields = _order_fields(order)
        if expected_version is None:
            return self._put_new({"PK": pk, "SK": sk, **fields})
        del fields[_LEDGER]  # the refund ledger changes through claims only
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        # None values (e.g. no promo code) are stored as absent, like `ddb.to_item` does on Put.
        sets = [f"#f{i} = :f{i}" for i, v in enumerate(fields.values()) if v is not None]
        removes = [f"#f{i}" for i, v in enumerate(fields.values()) if v is None]
        values = {k: v for k, v in values.items() if v is not None}
        values[":expected"] = expected_version
        names["#version_read"] = "version"
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(pk, sk),
                "UpdateExpression": expression,
                "ConditionExpression": "#version_read = :expected",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }

    def _complete_checkout(self, checkout_id: str, order_id: str, at: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*keys.checkout(checkout_id)),
                # Off the paid-checkout list too: the order settles the payment.
                "UpdateExpression": (
                    "SET #status = :completed, order_id = :order, updated_at = :at "
                    "REMOVE #token, GSI1PK, GSI1SK"
                ),
                "ConditionExpression": "#status = :awaiting",
                "ExpressionAttributeNames": {"#status": "status", "#token": PAYMENT_TOKEN},
                "ExpressionAttributeValues": ddb.to_values(
                    {
                        ":completed": "completed",
                        ":order": order_id,
                        ":at": at,
                        ":awaiting": "awaiting_payment",
                    }
                ),
            }
        }

    def _commit_reservation(self, checkout_id: str, sku: str, at: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*keys.reservation(checkout_id, sku)),
                "UpdateExpression": "SET #status = :committed, committed_at = :at "
                "REMOVE GSI1PK, GSI1SK, GSI2PK, GSI2SK",
                "ConditionExpression": "#status = :held",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": ddb.to_values(
                    {":committed": "committed", ":held": "held", ":at": at}
                ),
            }
        }

    @staticmethod
    def _fulfilment_item(order_id: str, fulfilment: Fulfilment) -> dict[str, Any]:
        pk, sk = keys.order_fulfilment(order_id, fulfilment.number)
        return {
            "PK": pk,
            "SK": sk,
            "entity": "fulfilment",
            "order_id": order_id,
            "number": fulfilment.number,
            "carrier": fulfilment.carrier,
            "tracking_number": fulfilment.tracking_number,
            "tracking_url": fulfilment.tracking_url,
            "lines": dict(fulfilment.lines),
            "at": fulfilment.at,
        }

    @staticmethod
    def _return_item(order_id: str, order_return: OrderReturn) -> dict[str, Any]:
        pk, sk = keys.order_return(order_id, order_return.number)
        return {
            "PK": pk,
            "SK": sk,
            "entity": "order_return",
            "order_id": order_id,
            "number": order_return.number,
            "lines": dict(order_return.lines),
            "restock": order_return.restock,
            "refund_amount": order_return.refund_amount,
            "at": order_return.at,
        }
