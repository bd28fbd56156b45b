"""The order lifecycle's tasks: what each state of `infra/statemachines/order_lifecycle.asl.json` does.

Every task is safe to run twice (Step Functions retries; Lambda may deliver twice): each write is
conditional, each refund is guarded by a claim on the item it belongs to, each Stripe cancel by a step
marker. A task raises `TransientError` for what a retry can fix; anything else is permanent and the
state machine takes its compensating branch.

Waiting tasks (`await_payment`, `await_order`) store their task token and THEN look whether what they
wait for has happened already (`await_order` decides from the item its token write returns: the store
and the look are one atomic step). Whoever makes it happen writes first and then takes the token:
the payments webhook reads the checkout after its commit; the admin routes take it from the read
their conditional write was based on, which is current because storing a token bumps the order's
version (a write based on an older read fails and reads again). One of the two always sees the other,
so the token is resumed whichever arrives first (docs/orders.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cloudtill import keys
from cloudtill.checkout.records import CheckoutRecord
from cloudtill.clock import Clock, SystemClock, iso
from cloudtill.errors import DomainError, ValidationFailed
from cloudtill.observability import logger
from cloudtill.orders import events, rules
from cloudtill.orders.ports import (
    NO_REFUND,
    CheckoutClosed,
    CheckoutExpirer,
    NothingToRefund,
    OrderRepository,
    OrderWrite,
    RefundClaim,
    RefundClaims,
    StaleOrder,
    StockWrite,
    TakenClaim,
    TransientError,
)
from cloudtill.orders.records import OrderRecord
from cloudtill.payments.ports import REFUND_CLAIM_METADATA, PaymentGateway, PaymentStore, RefundRef
from cloudtill.payments.records import PaymentRecord
from cloudtill.stock.events import stock_adjusted, stock_low_for
from cloudtill.stock.ports import StaleStock
from cloudtill.stock.rules import MovementRequest, StockState, apply_movement, commit_sale
from cloudtill.workflow import Workflow

WRITE_ATTEMPTS = 5
AWAITING_PAYMENT = "awaiting_payment"
COMPLETED = "completed"
PAYMENT_CANCELLED = "payment_cancelled_at"
LATE_REFUND = "late"
CANCEL_REFUND = "cancel"
# A refund claim still `requesting` this long after it was made belongs to an attempt that died
# between claim and settle: every function that claims refunds is stopped by Lambda at its timeout
# (orders 30 s, payments 10 s), so 5 minutes is 10x the longest, with room for clock differences
# between hosts, and still returns the money within minutes. Then a later attempt may take it over.
REFUND_CLAIM_STALE_AFTER = timedelta(minutes=5)
STUCK_REFUNDS_PER_SWEEP = 25
# A paid checkout still without an order this long after its payment has no workflow that will
# settle it: ConfirmOrder and then AbandonCheckout at their worst (every retry, each attempt running
# into the 30 s Lambda timeout) take about 9 minutes. The sweep's writes are conditional like the
# workflow's, so a slower workflow still refunds once; the grace only spares it a needless race.
PAID_CHECKOUT_GRACE = timedelta(minutes=15)
PAID_CHECKOUTS_PER_SWEEP = 25


def payment_outcome(record: PaymentRecord, checkout: CheckoutRecord) -> dict[str, Any]:
    """What AwaitPayment completes with: `paid`, or `mismatch` (flagged: never confirm it). `skus`
    (the checkout's reserved SKUs) lets ConfirmOrder read the checkout and their stock in one batch."""
    return {
        "outcome": "mismatch" if record.flagged_for_review else "paid",
        "payment_intent_id": record.payment_intent_id,
        "amount": record.paid_amount,
        "skus": list(checkout.reserved),
    }


def order_progress(order: OrderRecord) -> dict[str, Any]:
    """What AwaitFulfilment/AwaitDelivery complete with (the Choice states read it)."""
    return {
        "status": order.status,
        "fulfilments": order.fulfilment_count,
        "cancel_requested": order.cancel_requested,
    }


def _paid_in_full(paid: dict[str, Any] | None, payment_intent_id: str) -> bool:
    """True when AwaitPayment's output says this PaymentIntent succeeded with the expected amount
    (`payment_outcome` of a succeeded, unflagged record)."""
    if not paid:
        return False
    return paid.get("outcome") == "paid" and paid.get("payment_intent_id") == payment_intent_id


def _payment_intent_of(checkout: CheckoutRecord) -> str | None:
    payment = checkout.payment or {}
    value = payment.get("payment_intent_id")
    return str(value) if value else None


class OrderLifecycle:
    def __init__(
        self,
        orders: OrderRepository,
        checkouts: CheckoutExpirer,
        payments: PaymentStore,
        gateway: PaymentGateway,
        workflow: Workflow,
        clock: Clock,
    ) -> None:
        self._orders = orders
        self._checkouts = checkouts
        self._payments = payments
        self._gateway = gateway
        self._workflow = workflow
        self._clock = clock

    def run(self, task: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Dispatch one state machine task (the Lambda payload's `task`)."""
        handlers = {
            "await_payment": lambda: self.await_payment(payload["checkout_id"], payload["task_token"]),
            "expire_checkout": lambda: self.expire_checkout(payload["checkout_id"]),
            "confirm_order": lambda: self.confirm_order(payload["checkout_id"], payload.get("payment")),
            "abandon_checkout": lambda: self.abandon_checkout(payload["checkout_id"], payload["reason"]),
            "await_order": lambda: self.await_order(
                payload["order_id"],
                payload["task_token"],
                payload["waiting_for"],
                int(payload.get("fulfilments_seen") or 0),
            ),
            "cancel_order": lambda: self.cancel_order(payload["order_id"]),
            "complete_order": lambda: self.complete_order(payload["order_id"]),
            # Not state machine tasks: the `settle-stuck-refunds` and `settle-paid-checkouts`
            # schedules (infra/wiring.py).
            "settle_stuck_refunds": lambda: settle_stuck_refunds(
                self._orders,
                self._gateway,
                self._clock,
                stale_after=timedelta(
                    seconds=float(
                        payload.get("stale_after_seconds", REFUND_CLAIM_STALE_AFTER.total_seconds())
                    )
                ),
            ),
            "settle_paid_checkouts": lambda: self.settle_paid_checkouts(
                grace=timedelta(
                    seconds=float(payload.get("grace_seconds", PAID_CHECKOUT_GRACE.total_seconds()))
                )
            ),
        }
        if task not in handlers:
            raise ValueError(f"unknown order lifecycle task {task!r}")
        return handlers[task]()

    # -- payment -------------------------------------------------------------------------------------

    def await_payment(self, checkout_id: str, token: str) -> dict[str, Any]:
        checkout = self._orders.store_payment_token(checkout_id, token)
        if checkout is None:
            raise ValueError(f"no checkout {checkout_id}")
        if checkout.status != AWAITING_PAYMENT:
            # Expired by the sweep, cancelled, or (a redelivered start) completed: nothing to wait for.
            self._workflow.resume(token, {"outcome": "closed", "checkout_status": checkout.status})
            return {"waiting": False}
        payment_intent_id = _payment_intent_of(checkout)
        record = self._payments.get(payment_intent_id) if payment_intent_id else None
        if record is not None and record.status == "succeeded":
            # The webhook came before the token was stored: complete right away.
            self._workflow.resume(token, payment_outcome(record, checkout))
            return {"waiting": False}
        return {"waiting": True}

    def payment_succeeded(self, record: PaymentRecord) -> str:
        """The payments webhook's follow-up for `payment_intent.succeeded` (also on redeliveries),
        given the payment record as committed (or read): resume the checkout's workflow, or refund a
        payment that came after the checkout closed."""
        if record.status != "succeeded":
            return "ignored"
        # Read after the webhook's commit: the checkout's status and token in one read.
        found = self._orders.checkout_with_token(record.checkout_id)
        if found is None:
            return "ignored"
        checkout, token = found
        if checkout.status == AWAITING_PAYMENT:
            if token is None:
                return "waiting"  # AwaitPayment will see the payment when it stores its token
            if self._workflow.resume(token, payment_outcome(record, checkout)):
                return "resumed"
            checkout = self._checkouts.get(record.checkout_id) or checkout
        if checkout.status in {"expired", "cancelled"}:
            return "refunded" if self._refund_late_payment(checkout, record) else "refund_requested_before"
        if checkout.status == AWAITING_PAYMENT:
            # The token is stale: its wait timed out (ExpireCheckout sees the payment and refunds it)
            # or its execution is gone. A token resumed already looks the same while ConfirmOrder
            # runs, so this never closes the checkout itself: settle-paid-checkouts does, if no
            # order follows within PAID_CHECKOUT_GRACE.
            logger.warning("payment for a checkout no wait took", extra={"checkout_id": checkout.id})
            return "unwatched"
        return "ignored"

    def expire_checkout(self, checkout_id: str) -> dict[str, Any]:
        """Compensation for a payment that never came (or a checkout closed under the workflow)."""
        self._checkouts.expire(checkout_id)  # the checkout domain's expiry: stock back, CheckoutExpired
        checkout = self._checkouts.get(checkout_id)
        if checkout is None:
            raise ValueError(f"no checkout {checkout_id}")
        if checkout.status == AWAITING_PAYMENT and checkout.payment_outcome is not None:
            # Paid after the wait timed out: never "expired" (no such e-mail); cancelled and refunded.
            self._checkouts.cancel(checkout_id)
            checkout = self._checkouts.get(checkout_id) or checkout
        if checkout.status == AWAITING_PAYMENT:
            # The timer fired a moment before `expires_at` (expire_checkout refuses early): retry.
            raise TransientError(f"checkout {checkout_id} is not due to expire yet")
        if checkout.status == COMPLETED:
            return {"outcome": "completed"}
        return {"outcome": self._close_payment(checkout)}

    def abandon_checkout(self, checkout_id: str, reason: str) -> dict[str, Any]:
        """Compensation for a paid checkout that cannot become an order (amount mismatch, or a
        confirmation that failed for good): release its stock as cancelled and refund the payment."""
        self._checkouts.cancel(checkout_id)
        checkout = self._checkouts.get(checkout_id)
        if checkout is None:
            raise ValueError(f"no checkout {checkout_id}")
        if checkout.status == COMPLETED:
            # It became an order after all (a confirmation whose answer was lost): nothing to undo,
            # and the state machine goes on with the order.
            return {"outcome": "completed", "order_id": checkout.order_id}
        # `order_id` always present: the state machine's ResultSelector reads it.
        return {"outcome": self._close_payment(checkout), "reason": reason, "order_id": None}

    def settle_paid_checkouts(
        self, limit: int = PAID_CHECKOUTS_PER_SWEEP, grace: timedelta = PAID_CHECKOUT_GRACE
    ) -> dict[str, Any]:
        """The `settle-paid-checkouts` schedule: every checkout paid more than PAID_CHECKOUT_GRACE ago
        and still without an order gets its stock released as cancelled and its payment refunded, once
        (the same `late` claim on the checkout as every other "no order" path: whichever of the sweep,
        ExpireCheckout, AbandonCheckout, ConfirmOrder or the webhook gets there first refunds). A
        refund, not an order: no workflow watches such a checkout any more (its execution, named after
        the checkout, is over), so an order made here could never be cancelled or completed by it.
        Each checkout on its own: one that fails stays listed, is counted, and the next run retries.
        `grace` is shorter only where a test runs the schedule by hand."""
        paid_before = iso(self._clock.now() - grace)
        counts = {"refunded": 0, "ordered": 0, "refunded_before": 0, "failed": 0}
        for checkout_id in self._orders.paid_checkouts(paid_before, limit):
            try:
                counts[self._settle_paid_checkout(checkout_id)] += 1
            except Exception as error:  # isolated: counted and logged
                counts["failed"] += 1
                logger.warning(
                    "paid checkout not settled; retried by the next run",
                    extra={"checkout_id": checkout_id, "error": type(error).__name__},
                )
        return counts

    def _settle_paid_checkout(self, checkout_id: str) -> str:
        checkout = self._checkouts.get(checkout_id)
        if checkout is not None and checkout.status == AWAITING_PAYMENT:
            self._checkouts.cancel(checkout_id)  # conditional: a confirmation committing first wins
            checkout = self._checkouts.get(checkout_id)
        outcome = "refunded_before"
        if checkout is not None and checkout.status == COMPLETED:
            outcome = "ordered"
        elif checkout is not None:
            payment_intent_id = _payment_intent_of(checkout)
            record = self._payments.get(payment_intent_id) if payment_intent_id else None
            if record is not None and record.status == "succeeded":
                if self._refund_late_payment(checkout, record):
                    outcome = "refunded"
            else:
                self._close_payment(checkout)
        self._orders.forget_paid_checkout(checkout_id)
        return outcome

    def _close_payment(self, checkout: CheckoutRecord) -> str:
        """No order for this checkout: make sure no money stays taken (cancel, else refund)."""
        payment_intent_id = _payment_intent_of(checkout)
        if payment_intent_id is None:
            return "no_payment"
        record = self._payments.get(payment_intent_id)
        if record is not None and record.status == "succeeded":
            self._refund_late_payment(checkout, record)
            return "refunded"
        owner = keys.checkout(checkout.id)
        if self._orders.is_marked(owner, PAYMENT_CANCELLED):
            return "cancelled"
        try:
            self._gateway.cancel_payment_intent(payment_intent_id)
        except DomainError:
            # Stripe refuses to cancel a succeeded intent; its webhook may not be in yet. Retry: by
            # then the record shows the payment (refund) or Stripe answers (cancel).
            raise TransientError(f"could not cancel {payment_intent_id}") from None
        self._orders.mark(owner, PAYMENT_CANCELLED, iso(self._clock.now()))
        return "cancelled"

    def _refund_late_payment(self, checkout: CheckoutRecord, record: PaymentRecord) -> bool:
        """Refund everything a closed checkout was paid (once: a claim on the checkout item), and take
        it off the paid-checkout list: its payment is settled (a claim another attempt still holds is
        the stuck-refund sweep's if that attempt dies)."""
        refunded = self._refund(
            keys.checkout(checkout.id),
            LATE_REFUND,
            record.payment_intent_id,
            record.paid_amount,
            {"checkout_id": checkout.id, "reason": f"checkout {checkout.status}"},
            captured=record.paid_amount,
        )
        self._orders.forget_paid_checkout(checkout.id)
        return refunded

    def _refund(
        self,
        owner: tuple[str, str],
        claim: str,
        payment_intent_id: str,
        amount: int,
        metadata: dict[str, str],
        captured: int | None = None,
    ) -> bool:
        return request_refund_once(
            self._orders,
            self._gateway,
            owner,
            claim,
            payment_intent_id,
            amount,
            metadata,
            self._clock,
            captured=captured,
        )

    # -- confirmation --------------------------------------------------------------------------------

    def confirm_order(self, checkout_id: str, paid: dict[str, Any] | None = None) -> dict[str, Any]:
        """`paid`: what AwaitPayment completed with (the state machine passes it along). Its `paid`
        outcome was produced from a succeeded, unflagged payment record; both are final, so the record
        is only read when `paid` is missing or names another PaymentIntent."""
        record: PaymentRecord | None = None
        skus = [str(s) for s in (paid or {}).get("skus") or ()]
        for _ in range(WRITE_ATTEMPTS):
            checkout, stock = self._orders.checkout_and_stock(checkout_id, skus)
            if checkout is None:
                raise ValueError(f"no checkout {checkout_id}")
            if checkout.status == COMPLETED and checkout.order_id:
                return {"outcome": "confirmed", "order_id": checkout.order_id}  # a retry after success
            if checkout.status != AWAITING_PAYMENT:
                # Closed (expired by the sweep) between payment and confirmation: no stock, no order.
                return {"outcome": self._close_payment(checkout), "order_id": None}
            payment_intent_id = _payment_intent_of(checkout)
            if not payment_intent_id:
                raise ValueError(f"checkout {checkout_id} has no good payment to confirm")
            if not _paid_in_full(paid, payment_intent_id) and record is None:
                record = self._payments.get(payment_intent_id)
                if record is None or record.status != "succeeded" or record.flagged_for_review:
                    raise ValueError(f"checkout {checkout_id} has no good payment to confirm")
            try:
                order_id = self._confirm(checkout, payment_intent_id, stock)
            except (StaleStock, StaleOrder, CheckoutClosed):
                continue  # a SKU moved, or the checkout changed: read everything again
            return {"outcome": "confirmed", "order_id": order_id}
        raise TransientError(f"checkout {checkout_id}: stock kept changing while confirming")

    def _confirm(self, checkout: CheckoutRecord, payment_intent_id: str, read: dict[str, StockState]) -> str:
        now = self._clock.now()
        at = iso(now)
        stock: list[StockWrite] = []
        unit_costs: dict[str, int] = {}
        costs: dict[str, int] = {}
        for sku, quantity in checkout.reserved.items():
            state = read.get(sku) or self._orders.stock(sku)  # read with the checkout, if named
            if state is None:
                raise ValueError(f"SKU {sku} of checkout {checkout.id} does not exist")
            change = commit_sale(state, quantity, rules.order_id_for(checkout.id), at)
            assert change.movement is not None
            unit_costs[sku] = change.movement.cost_of_goods_sold // quantity
            costs[sku] = change.movement.cost_of_goods_sold
            sold = [stock_adjusted(change.after, change.movement, now)]
            if change.became_low:
                sold.append(stock_low_for(change.after, "reservation", now))
            stock.append(StockWrite(change, sold))
        order = rules.order_from_checkout(checkout, payment_intent_id, unit_costs, at)
        self._orders.write(
            OrderWrite(
                order=order,
                expected_version=None,
                events=[events.order_confirmed(order, now, costs)],
                stock=stock,
                checkout=checkout,
                reservations=dict(checkout.reserved),
            )
        )
        return order.id

    # -- after confirmation --------------------------------------------------------------------------

    def await_order(
        self, order_id: str, token: str, waiting_for: str, fulfilments_seen: int
    ) -> dict[str, Any]:
        # The order as of the token write (one atomic step: no separate read).
        order = self._orders.store_order_token(order_id, token)
        if order is None:
            raise ValueError(f"no order {order_id}")
        if waiting_for == "fulfilment":
            happened = (
                order.cancel_requested
                or order.fulfilment_count > fulfilments_seen
                or order.status not in {rules.CONFIRMED, rules.PARTIALLY_SHIPPED}
            )
        else:
            happened = order.status in {rules.DELIVERED, rules.COMPLETED}
        if happened:
            self._workflow.resume(token, order_progress(order))
        return {"waiting": not happened}

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        for _ in range(WRITE_ATTEMPTS):
            view = self._orders.get_order(order_id)
            if view is None:
                raise ValueError(f"no order {order_id}")
            order = view.order
            now = self._clock.now()
            cancelled = rules.cancel(order, iso(now))
            if cancelled is None:
                break  # cancelled by an earlier attempt: only the refund may be left to do
            try:
                self._orders.write(
                    OrderWrite(
                        order=cancelled,
                        expected_version=order.version,
                        events=[events.order_cancelled(cancelled, "cancelled_by_admin", now)],
                        stock=self._restock(order, rules.ordered_quantities(order), "order cancelled"),
                    )
                )
            except (StaleOrder, StaleStock):
                continue
            order = cancelled
            break
        else:
            raise TransientError(f"order {order_id} kept changing while cancelling")
        # Everything that remains of what was paid: the ledger takes out earlier refunds (admin, returns).
        self._refund(
            keys.order(order_id),
            CANCEL_REFUND,
            order.payment_intent_id,
            order.total,
            {"order_id": order_id, "checkout_id": order.checkout_id, "reason": "order cancelled"},
            captured=order.total,
        )
        return {"outcome": "cancelled"}

    def _restock(self, order: OrderRecord, quantities: dict[str, int], reason: str) -> list[StockWrite]:
        return restock_writes(self._orders, order, quantities, reason, self._clock.now())

    def complete_order(self, order_id: str) -> dict[str, Any]:
        # One conditional update, no read: completion depends on the status alone.
        status = self._orders.advance(order_id, rules.completion(iso(self._clock.now())))
        if status is None:
            raise ValueError(f"no order {order_id}")
        if status != rules.COMPLETED:
            raise rules.OrderStateConflict(f"Order {order_id} is {status}; it cannot be completed.")
        return {"outcome": rules.COMPLETED}


def request_refund_once(
    orders: RefundClaims,
    gateway: PaymentGateway,
    owner: tuple[str, str],
    claim: str,
    payment_intent_id: str,
    amount: int,
    metadata: dict[str, str],
    clock: Clock | None = None,
    captured: int | None = None,
) -> bool:
    """Ask Stripe for a refund exactly once per (`owner` item, `claim`): the claim is a conditional write
    on the item, so a retried task or a redelivered webhook never refunds twice (Stripe's idempotency
    key, derived from the same claim, is the second guard). The claim counts against the owner's
    refund ledger (`captured`, default `amount`, less every other claim requesting or settled): it
    refunds `amount` or, if less remains, what remains; nothing when nothing does. A failed request
    frees the claim and raises TransientError. An attempt that died between claim and settle leaves
    the claim `requesting`: after REFUND_CLAIM_STALE_AFTER any later attempt, or the stuck-refund
    sweep, takes it over and finishes it (docs/orders.md "Refunds"). True when this call requested
    the refund."""
    if amount <= 0:
        return False
    refund = RefundClaim(owner, claim, payment_intent_id, amount, dict(metadata), captured=captured)
    try:
        done = refund_with_claim(orders, gateway, refund, clock or SystemClock())
    except NothingToRefund:
        return False
    return done is not None and done.id != NO_REFUND


def refund_with_claim(
    orders: RefundClaims,
    gateway: PaymentGateway,
    refund: RefundClaim,
    clock: Clock,
    free_on_failure: bool = True,
) -> RefundRef | None:
    """The refund ledger's one entry point: claim `refund` against what remains refundable on its
    owner, ask Stripe, settle. Returns what Stripe refunded for the claim (amount 0: reconciled,
    nothing remained), None when the claim is held or settled already. Raises NothingToRefund when
    the ledger has no room, `ValidationFailed` (amount) when Stripe refuses an `exact` claim, and
    TransientError when Stripe failed (the claim is freed unless `free_on_failure` is False)."""
    return _request_refund(orders, gateway, refund, clock, free_on_failure)


def settle_stuck_refunds(
    orders: RefundClaims,
    gateway: PaymentGateway,
    clock: Clock,
    limit: int = STUCK_REFUNDS_PER_SWEEP,
    stale_after: timedelta = REFUND_CLAIM_STALE_AFTER,
) -> dict[str, Any]:
    """The `settle-stuck-refunds` schedule: finish every refund whose claim has been `requesting` for
    longer than REFUND_CLAIM_STALE_AFTER (its attempt died between claim and settle). Each is taken over
    with the same conditional write as any retry, so a sweep racing a retry refunds once. One that fails
    again stays pending (not freed: nothing else would retry it) and the next sweep tries again.
    `stale_after` is shorter only where a test runs the schedule by hand."""
    stale_before = iso(clock.now() - stale_after)
    settled = 0
    pending: list[str] = []
    for refund in orders.stuck_refund_claims(stale_before, limit):
        try:
            if _request_refund(
                orders, gateway, refund, clock, free_on_failure=False, stale_after=stale_after
            ):
                settled += 1
        except TransientError:
            pending.append(refund.idempotency_key)
        except ValidationFailed:
            # An exact (admin) refund Stripe refuses for good: freed, its caller saw a timeout.
            logger.warning("stuck refund refused by Stripe", extra={"claim": refund.idempotency_key})
    if pending:
        logger.warning("stuck refunds failed again; retried by the next sweep", extra={"claims": pending})
    return {"settled": settled, "still_pending": pending}


def _request_refund(
    orders: RefundClaims,
    gateway: PaymentGateway,
    refund: RefundClaim,
    clock: Clock,
    free_on_failure: bool,
    stale_after: timedelta = REFUND_CLAIM_STALE_AFTER,
) -> RefundRef | None:
    now = clock.now()
    at = iso(now)
    taken = orders.claim_refund(refund, at, iso(now - stale_after))
    if taken is None:
        return None  # requested already, or another attempt is at it right now
    return _request_held(orders, gateway, taken, at, free_on_failure)


def request_claimed_refund(
    orders: RefundClaims, gateway: PaymentGateway, refund: RefundClaim
) -> RefundRef | None:
    """Ask Stripe for a refund whose claim the caller's own write took (`OrderWrite.refund_claim`, at
    `refund.requested_at`), then settle it; failures as `refund_with_claim` (the claim is freed)."""
    return _request_held(orders, gateway, TakenClaim("first", refund), refund.requested_at, True)


def _request_held(
    orders: RefundClaims, gateway: PaymentGateway, taken: TakenClaim, at: str, free_on_failure: bool
) -> RefundRef | None:
    held = taken.refund  # with the amount the ledger counted for it
    key = held.idempotency_key
    metadata = {**held.metadata, REFUND_CLAIM_METADATA: key}
    try:
        # Taken again (an earlier attempt failed or died): that attempt may have reached Stripe, so
        # look for its refund first. Stripe's idempotency key would answer the same within 24 hours,
        # but not later, and localstripe ignores it.
        done = gateway.find_refund(held.payment_intent_id, key) if taken.how == "again" else None
        if done is None:
            try:
                done = gateway.refund(held.payment_intent_id, held.amount, held.reason, key, metadata)
            except ValidationFailed:
                # Stripe refuses the amount for good (more than remains on the charge, or refunded
                # already, e.g. from the dashboard): retrying cannot help. An exact claim is the
                # caller's error; any other settles from Stripe's own view of what remains.
                if held.exact:
                    orders.settle_refund_claim(held, at, None)
                    raise
                done = _refund_what_stripe_has_left(gateway, held, metadata)
    except DomainError as error:
        if isinstance(error, ValidationFailed) and held.exact:
            raise
        if free_on_failure:
            orders.settle_refund_claim(held, at, None)
        raise TransientError(f"refund of {held.payment_intent_id} failed") from None
    if done is None:
        orders.settle_refund_claim(held, at, NO_REFUND, 0)
        return RefundRef(NO_REFUND, 0, "", "none")
    orders.settle_refund_claim(held, at, done.id, done.amount)
    return done


def _refund_what_stripe_has_left(
    gateway: PaymentGateway, held: RefundClaim, metadata: dict[str, str]
) -> RefundRef | None:
    """A claim Stripe refused: refund what Stripe says remains of the charge, up to the claim's
    amount (None when nothing remains). The smaller request gets its own idempotency key (Stripe
    refuses a key reused with other parameters); its metadata still names the claim."""
    remaining = held.cap - gateway.refunded_total(held.payment_intent_id)
    amount = min(held.amount, remaining)
    if amount <= 0:
        return None
    key = f"{held.idempotency_key}-{amount}"
    return gateway.refund(held.payment_intent_id, amount, held.reason, key, metadata)


def restock_writes(
    orders: OrderRepository, order: OrderRecord, quantities: dict[str, int], reason: str, now: datetime
) -> list[StockWrite]:
    """Units back on hand through the stock ledger: an `adjust` at the FIFO cost they were sold at."""
    writes: list[StockWrite] = []
    for sku, quantity in quantities.items():
        line = order.line(sku)
        state = orders.stock(sku)
        if state is None or line is None or quantity <= 0:
            continue
        request = MovementRequest("adjust", quantity, reason, unit_cost=line.unit_cost, reference=order.id)
        change = apply_movement(state, request, now, iso(now))
        assert change.movement is not None
        emitted = [stock_adjusted(change.after, change.movement, now)]
        if change.became_low:
            emitted.append(stock_low_for(change.after, "movement", now))
        writes.append(StockWrite(change, emitted))
    return writes
