"""Order use cases for the HTTP routes (admin and shopper). Knows nothing of Lambda or DynamoDB.

Admin changes are written first (one conditional transaction each: order, fulfilment/return item,
stock ledger, outbox event) and then handed to the order's workflow by resuming the task token it
stored, if it is waiting. The token is the one of the read the successful write was conditioned on:
storing a token bumps the order's version, so it is current (see `cloudtill.order_workflow.lifecycle`
for why this makes the hand-over race-free). Each change reads once: the order item alone, or the
whole order partition when the answer shows fulfilments and returns (built from that read and the
order just written). A cancellation is only *requested* here: the workflow's CancelOrder task
restocks and refunds, with retries and a compensation alarm, so a failing refund cannot leave a
cancelled order paid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, TypeVar

from cloudtill import keys
from cloudtill.checkout.tokens import token_matches
from cloudtill.clock import Clock, iso
from cloudtill.errors import DomainError, FieldError, NotFound
from cloudtill.order_workflow.contracts import order_progress
from cloudtill.orders import events, rules
from cloudtill.orders.api import (
    AdminOrderOut,
    FulfilmentIn,
    FulfilmentOut,
    OrderLineIn,
    OrderOut,
    OrderPageOut,
    OrderSummaryOut,
    ReturnIn,
    ReturnOut,
)
from cloudtill.orders.ports import OrderStore, OrderWrite, StaleOrder, TransientError
from cloudtill.orders.records import Fulfilment, OrderRecord, OrderReturn, OrderView
from cloudtill.orders.stock_writes import restock_writes
from cloudtill.payments.ports import PaymentGateway, PaymentProviderError, PaymentStore
from cloudtill.payments.records import RefundClaim, keyed_claim
from cloudtill.payments.refund_ledger import request_claimed_refund
from cloudtill.stock.ports import StaleStock
from cloudtill.stock.service import StockBusy
from cloudtill.workflow import Workflow

WRITE_ATTEMPTS = 5
T = TypeVar("T")


def return_refund_key(number: int) -> str:
    """The idempotency key of return `number`'s refund (its claim is `keyed_claim` of it)."""
    return f"return-{number}"


def _lines(quantities: dict[str, int]) -> list[OrderLineIn]:
    return [OrderLineIn(sku=sku, quantity=qty) for sku, qty in quantities.items()]


def fulfilment_out(f: Fulfilment) -> FulfilmentOut:
    return FulfilmentOut(
        number=f.number,
        carrier=f.carrier,
        tracking_number=f.tracking_number,
        tracking_url=f.tracking_url,
        lines=_lines(f.lines),
        shipped_at=f.at,
    )


def return_out(r: OrderReturn) -> ReturnOut:
    return ReturnOut(
        number=r.number,
        lines=_lines(r.lines),
        restocked=r.restock,
        refund_amount=r.refund_amount,
        returned_at=r.at,
    )


class OrderService:
    def __init__(
        self,
        orders: OrderStore,
        payments: PaymentStore,
        gateway: PaymentGateway,
        workflow: Workflow,
        clock: Clock,
    ) -> None:
        self._orders = orders
        self._payments = payments
        self._gateway = gateway
        self._workflow = workflow
        self._clock = clock

    # -- reads -----------------------------------------------------------------------------------------

    def get_for_shopper(self, order_id: str, token: str | None) -> OrderOut:
        view = self._orders.get(order_id)
        # A wrong or missing token looks exactly like an unknown order.
        if view is None or not token_matches(token, view.order.token_hash):
            raise NotFound("No such order.")
        return self._out(view)

    def get_for_admin(self, order_id: str) -> AdminOrderOut:
        return self._admin_out(self._view(order_id))

    def list_orders(self, status: str, date: str | None, limit: int, cursor: str | None) -> OrderPageOut:
        orders, next_cursor = self._orders.list_by_status(status, date, limit, cursor)
        return OrderPageOut(
            items=[OrderSummaryOut.model_validate(o, from_attributes=True) for o in orders],
            next_cursor=next_cursor,
        )

    # -- admin changes ---------------------------------------------------------------------------------

    def fulfil(self, order_id: str, body: FulfilmentIn) -> FulfilmentOut:
        lines = [(ln.sku, ln.quantity) for ln in body.lines] if body.lines is not None else None

        def plan(order: OrderRecord, at: str) -> tuple[OrderWrite, Fulfilment]:
            shipped, fulfilment = rules.ship(order, body.carrier, body.tracking_number, lines, at)
            write = OrderWrite(
                order=shipped,
                expected_version=order.version,
                events=[events.order_shipped(shipped, fulfilment, self._clock.now())],
                fulfilment=fulfilment,
            )
            return write, fulfilment

        fulfilment, _ = self._change(order_id, plan)
        return fulfilment_out(fulfilment)

    def deliver(self, order_id: str) -> AdminOrderOut:
        def plan(order: OrderRecord, at: str) -> tuple[OrderWrite, None]:
            delivered = rules.deliver(order, at)
            write = OrderWrite(
                order=delivered,
                expected_version=order.version,
                events=[events.order_delivered(delivered, self._clock.now())],
            )
            return write, None

        _, view = self._change(order_id, plan, whole=True)
        return self._admin_out(view)

    def request_cancel(self, order_id: str) -> AdminOrderOut:
        def plan(order: OrderRecord, at: str) -> tuple[OrderWrite, None]:
            return OrderWrite(order=rules.request_cancel(order, at), expected_version=order.version), None

        _, view = self._change(order_id, plan, whole=True)
        return self._admin_out(view)

    def record_return(self, order_id: str, body: ReturnIn) -> ReturnOut:
        lines = [(ln.sku, ln.quantity) for ln in body.lines]

        def plan(order: OrderRecord, at: str) -> tuple[OrderWrite, tuple[OrderReturn, RefundClaim | None]]:
            updated, returned = rules.return_lines(order, lines, body.restock, body.refund, at)
            now = self._clock.now()
            stock = (
                restock_writes(self._orders, order, dict(returned.lines), "order return", now)
                if body.restock
                else []
            )
            # The refund is claimed in the return's own write: a crash after it leaves the claim
            # pending for the stuck-refund sweep, never a return whose refund nobody asks for.
            claim = (
                RefundClaim(
                    keys.order(order_id),
                    keyed_claim(return_refund_key(returned.number)),
                    order.payment_intent_id,
                    returned.refund_amount,
                    {"order_id": order_id, "return": str(returned.number)},
                    requested_at=iso(now),
                    captured=order.total,
                )
                if returned.refund_amount
                else None
            )
            write = OrderWrite(
                order=updated,
                expected_version=order.version,
                events=[events.order_returned(updated, returned, now)],
                stock=stock,
                order_return=returned,
                refund_claim=claim,
            )
            return write, (returned, claim)

        (returned, claim), _view = self._change(order_id, plan)
        if claim is not None:
            key = return_refund_key(returned.number)
            try:
                request_claimed_refund(self._orders, self._gateway, claim)
            except TransientError:
                # The return stands; retrying its refund with this key reuses its claim (and finds
                # the refund if Stripe made it after all): never a second refund.
                raise PaymentProviderError(
                    "The return was recorded but Stripe did not accept its refund; retry with "
                    f"POST /admin/orders/{order_id}/refunds and the header Idempotency-Key: {key}.",
                    idempotency_key=key,
                ) from None
        return return_out(returned)

    # -- internals -------------------------------------------------------------------------------------

    def _view(self, order_id: str) -> OrderView:
        view = self._orders.get(order_id)
        if view is None:
            raise NotFound(f"No order {order_id}.", [FieldError("order_id", "unknown order")])
        return view

    def _change(
        self,
        order_id: str,
        plan: Callable[[OrderRecord, str], tuple[OrderWrite, T]],
        whole: bool = False,
    ) -> tuple[T, OrderView]:
        """Read (the order item, or with `whole` its fulfilments and returns too), plan, write
        conditionally (re-read on a lost race), then wake the waiting workflow. Returns the plan's
        result and the view as written (children as read: a change adds at most the one it wrote)."""
        for _ in range(WRITE_ATTEMPTS):
            view = self._view(order_id) if whole else self._order(order_id)
            try:
                write, result = plan(view.order, iso(self._clock.now()))
            except DomainError:
                # A refusal may answer the retry of a request that committed and died before it
                # woke the workflow: wake the waiting task with the order as stored (a task that
                # sees nothing new simply waits again).
                if view.task_token is not None:
                    self._workflow.resume(view.task_token, order_progress(view.order))
                raise
            try:
                self._orders.write(write)
            except (StaleOrder, StaleStock):
                continue
            # The write was conditioned on the version of `view`, and storing a token bumps the
            # version: `view.task_token` is the token stored on the order when the write committed.
            if view.task_token is not None:
                # A stale token means no task is waiting right now; the next waiting task reads the order.
                self._workflow.resume(view.task_token, order_progress(write.order))
            return result, replace(view, order=write.order)
        raise StockBusy(f"Order {order_id} kept changing while this request was applied; try again.")

    def _order(self, order_id: str) -> OrderView:
        view = self._orders.get_order(order_id)
        if view is None:
            raise NotFound(f"No order {order_id}.", [FieldError("order_id", "unknown order")])
        return view

    def _payment_status(self, order: OrderRecord) -> str:
        record = self._payments.get(order.payment_intent_id)
        if record is None:
            return "unknown"
        refunded = record.refunded_amount
        if refunded <= 0:
            return "paid" if record.status == "succeeded" else record.status
        return "refunded" if refunded >= record.paid_amount else "partially_refunded"

    def _out(self, view: OrderView) -> OrderOut:
        return OrderOut.model_validate(self._out_fields(view))

    def _out_fields(self, view: OrderView) -> dict[str, Any]:
        """The order's own fields (its lines and timeline as their API models read them) and what
        the shopper sees besides: the payment's status and the fulfilments."""
        return {
            **asdict(view.order),
            "payment_status": self._payment_status(view.order),
            "fulfillments": [fulfilment_out(f) for f in view.fulfilments],
        }

    def _admin_out(self, view: OrderView) -> AdminOrderOut:
        return AdminOrderOut.model_validate(
            {
                **self._out_fields(view),
                "shipping_address": {k: str(v) for k, v in view.order.shipping_address.items()},
                "returns": [return_out(r) for r in view.returns],
            }
        )
