"""In-memory fakes of the domain ports, for unit tests (same contract as the DynamoDB adapters)."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from cloudtill.catalog.records import ProductRecord
from cloudtill.checkout.ports import ReservationRejected
from cloudtill.checkout.records import CheckoutRecord, SkuSnapshot
from cloudtill.errors import (
    Conflict,
    DuplicateSku,
    FieldError,
    InvalidCursor,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from cloudtill.outbox import DomainEvent
from cloudtill.payments.ports import NothingToRefund, PaymentIntentRef, RefundRef, StaleRecord, WebhookEffect
from cloudtill.payments.records import ClaimState, PaymentRecord, RefundClaim, TakenClaim
from cloudtill.promotions.records import StoredPromotion
from cloudtill.promotions.rules import Promotion
from cloudtill.stock.ports import StaleStock
from cloudtill.stock.rules import MovementRecord, StockChange, StockState


class FixedClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class InMemoryProductRepository:
    def __init__(self) -> None:
        self.products: dict[str, ProductRecord] = {}
        self.sku_owner: dict[str, str] = {}
        self.stock: dict[str, int] = {}

    def get(self, product_id: str) -> ProductRecord | None:
        return self.products.get(product_id)

    def list_active(
        self, category: str | None, limit: int, cursor: str | None
    ) -> tuple[list[ProductRecord], str | None]:
        active = sorted(
            (p for p in self.products.values() if not p.archived and category in (None, p.category)),
            key=lambda p: p.id,
        )
        listing = f"products:{category or ''}"
        after = "" if cursor is None else _position_of(cursor, listing)
        page = [p for p in active if p.id > after][:limit]
        more = len(page) == limit and any(p.id > page[-1].id for p in active)
        return page, _listing_cursor(listing, page[-1].id) if more else None

    def _claim(self, product: ProductRecord) -> None:
        taken = [
            (i, s) for i, s in enumerate(product.skus) if self.sku_owner.get(s, product.id) != product.id
        ]
        if taken:
            raise DuplicateSku(
                "taken", [FieldError(f"variants[{i}].sku", f"{s} already exists") for i, s in taken]
            )
        for sku in product.skus:
            self.sku_owner[sku] = product.id

    def _check_version(self, product_id: str, expected_version: int | None) -> None:
        """As the adapter's conditions: an archived (or unknown) product is not found, any other
        product not at `expected_version` (None: a product that must not exist yet) conflicts."""
        stored = self.products.get(product_id)
        if stored is None and expected_version is None:
            return
        if stored is None or stored.archived:
            raise NotFound(f"No product {product_id}.")
        if stored.version != expected_version:
            raise VersionConflict.stale(f"Product {product_id}", stored.version)

    def create(self, product: ProductRecord) -> None:
        self._check_version(product.id, None)
        self._claim(product)
        self.products[product.id] = product

    def replace(self, product: ProductRecord, expected_version: int, previous: ProductRecord) -> None:
        self._check_version(product.id, expected_version)
        self._claim(product)
        self.products[product.id] = product

    def archive(self, product: ProductRecord, archived_at: str) -> None:
        self._check_version(product.id, product.version)
        self.products[product.id] = replace(
            product, archived=True, updated_at=archived_at, version=product.version + 1
        )

    def available_units(self, skus: list[str]) -> dict[str, int]:
        return {s: self.stock.get(s, 0) for s in skus if s in self.sku_owner}


def _listing_cursor(listing: str, position: str) -> str:
    """A fake's opaque cursor: which listing issued it (its filters) and where the next page starts."""
    return base64.urlsafe_b64encode(f"{listing}\n{position}".encode()).decode()


def _position_of(cursor: str, listing: str) -> str:
    """Where a cursor of `listing` starts; InvalidCursor for anything else (malformed, or issued by
    another listing), as the adapters' `ddb.decode_cursor`."""
    try:
        issued_for, separator, position = base64.urlsafe_b64decode(cursor.encode()).decode().partition("\n")
    except ValueError:
        raise InvalidCursor("not a cursor this API issued") from None
    if not separator or issued_for != listing or not position:
        raise InvalidCursor("not a cursor of this listing (another filter, or not issued by this API)")
    return position


class InMemoryStockRepository:
    """Stock port fake: `save` succeeds only if the stored state is still `change.before`, like the
    adapter's conditional transaction. `before_save` lets a test change the stock "concurrently"."""

    def __init__(self) -> None:
        self.states: dict[str, StockState] = {}
        self.movements: dict[str, list[MovementRecord]] = {}
        self.events: list[DomainEvent] = []
        self.before_save: Callable[[StockChange], None] | None = None
        self.saves = 0

    def get(self, sku: str) -> StockState | None:
        return self.states.get(sku)

    def save(self, change: StockChange, events: Sequence[DomainEvent]) -> None:
        if self.before_save is not None:
            self.before_save(change)
        if self.states.get(change.before.sku) != change.before:
            raise StaleStock(change.before.sku)
        self.saves += 1
        self.states[change.after.sku] = change.after
        if change.movement is not None:
            self.movements.setdefault(change.after.sku, []).append(change.movement)
        self.events += events

    def list_movements(
        self, sku: str, limit: int, cursor: str | None
    ) -> tuple[list[MovementRecord], str | None]:
        newest_first = list(reversed(self.movements.get(sku, [])))
        listing = f"movements:{sku}"
        offset = "0" if cursor is None else _position_of(cursor, listing)
        if not offset.isdigit():
            raise InvalidCursor("not a cursor of this listing")
        start = int(offset)
        page = newest_first[start : start + limit]
        more = start + limit < len(newest_first)
        return page, _listing_cursor(listing, str(start + limit)) if more else None


# -- checkout domain -----------------------------------------------------------------------------------


class InMemoryCheckoutRepository:
    """Checkout port fake: SKU counters, promotions and checkouts in dicts, each `create`/`release`
    all-or-nothing like the DynamoDB transaction. `before_write` lets a test change the world between
    the service's reads and its write (a competing shopper)."""

    def __init__(self) -> None:
        self.sku_items: dict[str, SkuSnapshot] = {}
        self.promotions: dict[str, StoredPromotion] = {}
        self.email_counts: dict[tuple[str, str], int] = {}
        self.checkouts: dict[str, CheckoutRecord] = {}
        self.held: dict[tuple[str, str], int] = {}  # (checkout id, sku) -> quantity while held
        # What the payments webhooks recorded per PaymentIntent: (status, failure code).
        self.payment_states: dict[str, tuple[str, str | None]] = {}
        self.events: list[DomainEvent] = []
        self.before_write: Callable[[], None] | None = None
        self.contended_writes = 0  # answer this many creates with a TransactionConflict

    def add_sku(
        self,
        sku: str,
        price: int,
        on_hand: int = 0,
        *,
        backorder_limit: int = 0,
        active: bool = True,
        currency: str = "EUR",
    ) -> None:
        self.sku_items[sku] = SkuSnapshot(
            sku,
            product_name=f"Item {sku}",
            price=price,
            currency=currency,
            active=active,
            on_hand=on_hand,
            backorder_limit=backorder_limit,
        )

    def available(self, sku: str) -> int:
        s = self.sku_items[sku]
        return s.on_hand + s.backorder_limit - s.reserved

    # CheckoutRepository
    def skus(self, codes: Sequence[str]) -> dict[str, SkuSnapshot]:
        return {c: self.sku_items[c] for c in codes if c in self.sku_items}

    def promotion(self, code: str) -> StoredPromotion | None:
        return self.promotions.get(code)

    def email_redemptions(self, code: str, email_hash: str) -> int:
        return self.email_counts.get((code, email_hash), 0)

    def create(self, checkout: CheckoutRecord, events: Sequence[DomainEvent]) -> None:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()
        if self.contended_writes:
            self.contended_writes -= 1
            raise ReservationRejected(contended=True)
        backordered = {line.sku for line in checkout.lines if line.backordered}
        short = [
            sku
            for sku, qty in checkout.reserved.items()
            if sku not in self.sku_items
            or not self.sku_items[sku].active
            or self.available(sku) < qty
            or not self._plan_holds(sku, qty, checkout.backorder_limits.get(sku), sku in backordered)
        ]
        promotion_refused = False
        redemption = checkout.redemption
        if redemption is not None:
            stored = self.promotions.get(redemption.code)
            email_used = self.email_counts.get((redemption.code, redemption.email_hash), 0)
            promotion_refused = (
                stored is None
                or not stored.promotion.active
                or (redemption.max_redemptions is not None and stored.redeemed >= redemption.max_redemptions)
                or (redemption.max_per_email is not None and email_used >= redemption.max_per_email)
            )
        if short or promotion_refused:
            raise ReservationRejected(short, promotion_refused)
        assert checkout.id not in self.checkouts
        for sku, qty in checkout.reserved.items():
            item = self.sku_items[sku]
            self.sku_items[sku] = replace(item, reserved=item.reserved + qty)
            self.held[(checkout.id, sku)] = qty
        if redemption is not None:
            stored = self.promotions[redemption.code]
            self.promotions[redemption.code] = replace(stored, redeemed=stored.redeemed + 1)
            if redemption.max_per_email is not None:
                key = (redemption.code, redemption.email_hash)
                self.email_counts[key] = self.email_counts.get(key, 0) + 1
        # The plan's backorder limits are a condition of the write, not stored.
        self.checkouts[checkout.id] = replace(checkout, backorder_limits={})
        self.events += events

    def _plan_holds(self, sku: str, quantity: int, limit: int | None, backordered: bool) -> bool:
        """The reservation plan's choice still holds: the limit is the one read, and the units come
        from stock (or are backordered) as planned."""
        if limit is None:
            return True
        from_stock = self.available(sku) >= quantity + limit
        return self.sku_items[sku].backorder_limit == limit and from_stock != backordered

    def get(self, checkout_id: str) -> CheckoutRecord | None:
        return self.checkouts.get(checkout_id)

    def expired_checkout_ids(self, now: str, limit: int) -> list[str]:
        ids = {cid for (cid, _sku) in self.held if self.checkouts[cid].expires_at <= now}
        return sorted(ids)[:limit]

    def release(
        self,
        checkout: CheckoutRecord,
        new_status: str,
        at: str,
        events: Sequence[DomainEvent],
        *,
        unpaid_only: bool = False,
    ) -> bool:
        stored = self.checkouts.get(checkout.id)
        if stored is None or stored.status != "awaiting_payment":
            return False
        if unpaid_only and stored.payment_outcome is not None:
            return False
        for sku, qty in checkout.reserved.items():
            del self.held[(checkout.id, sku)]
            item = self.sku_items[sku]
            self.sku_items[sku] = replace(item, reserved=item.reserved - qty)
        redemption = checkout.redemption
        if redemption is not None:
            promo = self.promotions[redemption.code]
            self.promotions[redemption.code] = replace(promo, redeemed=promo.redeemed - 1)
            if redemption.max_per_email is not None:
                self.email_counts[(redemption.code, redemption.email_hash)] -= 1
        self.checkouts[checkout.id] = replace(stored, status=new_status, updated_at=at)
        self.events += events
        return True

    def attach_payment(self, checkout_id: str, payment: dict[str, str]) -> None:
        self.checkouts[checkout_id] = replace(self.checkouts[checkout_id], payment=payment)

    def payment_state(self, payment_intent_id: str) -> tuple[str, str | None] | None:
        return self.payment_states.get(payment_intent_id)


class FakePaymentStarter:
    """Payment starter fake: one intent per checkout id, or a provider outage when `down`."""

    def __init__(self) -> None:
        self.down = False
        self.started: dict[str, tuple[int, str]] = {}

    def start(self, checkout_id: str, amount: int, currency: str) -> dict[str, str]:
        from cloudtill.checkout.ports import PaymentStartFailed

        if self.down:
            raise PaymentStartFailed("provider down")
        self.started.setdefault(checkout_id, (amount, currency))
        return {
            "provider": "stripe",
            "payment_intent_id": f"pi_{checkout_id}",
            "client_secret": f"pi_{checkout_id}_secret_x",
            "status": "requires_payment_method",
        }


class InMemoryPromotionRepository:
    """Promotion port fake sharing its promotions with an InMemoryCheckoutRepository."""

    def __init__(self, checkouts: InMemoryCheckoutRepository) -> None:
        self._checkouts = checkouts

    def create(self, promotion: Promotion, created_at: str) -> None:
        if promotion.code in self._checkouts.promotions:
            raise Conflict("exists", [FieldError("code", f"{promotion.code} already exists")])
        self._checkouts.promotions[promotion.code] = StoredPromotion(
            promotion, redeemed=0, created_at=created_at
        )

    def get(self, code: str) -> StoredPromotion | None:
        return self._checkouts.promotions.get(code)


# -- payments -----------------------------------------------------------------------------------------


class InMemoryPaymentStore:
    """`PaymentStore` with the adapter's transaction semantics: dedupe + versioned record + outbox,
    all or nothing."""

    def __init__(self) -> None:
        self.records: dict[str, PaymentRecord] = {}
        self.processed: dict[str, WebhookEffect] = {}
        self.charges: dict[str, str] = {}
        self.outbox: list[DomainEvent] = []
        # Test hook: called before each commit (e.g. to simulate a concurrent writer).
        self.before_commit: Callable[[WebhookEffect], None] | None = None

    def create(self, record: PaymentRecord) -> PaymentRecord | None:
        if record.payment_intent_id in self.records:
            return self.records[record.payment_intent_id]
        self.records[record.payment_intent_id] = record
        return None

    def get(self, payment_intent_id: str) -> PaymentRecord | None:
        return self.records.get(payment_intent_id)

    def payment_intent_of_charge(self, charge_id: str) -> str | None:
        return self.charges.get(charge_id)

    def is_processed(self, event_id: str) -> bool:
        return event_id in self.processed

    def lookup(self, event_id: str, payment_intent_id: str | None) -> tuple[bool, PaymentRecord | None]:
        return self.is_processed(event_id), self.get(payment_intent_id) if payment_intent_id else None

    def commit(self, effect: WebhookEffect) -> bool:
        if self.before_commit is not None:
            self.before_commit(effect)
        if effect.event_id in self.processed:
            return False
        if effect.record is not None:
            stored = self.records.get(effect.record.payment_intent_id)
            if stored is None or stored.version != effect.expected_version:
                raise StaleRecord(effect.record.payment_intent_id)
            self.records[effect.record.payment_intent_id] = effect.record
        self.processed[effect.event_id] = effect
        if effect.charge_link is not None:
            self.charges[effect.charge_link[0]] = effect.charge_link[1]
        self.outbox.extend(effect.events)
        return True

    def outbox_of(self, detail_type: str) -> list[DomainEvent]:
        return [e for e in self.outbox if e.detail_type == detail_type]


class FakePaymentGateway:
    """`PaymentGateway` keeping what was asked; intents are keyed by checkout like Stripe's idempotency."""

    def __init__(self, captured: Mapping[str, int] | None = None) -> None:
        # `captured` (PaymentIntent -> amount) makes it refuse refunds beyond what remains, as
        # Stripe does (param `amount`), and a refund of a fully refunded charge.
        self.captured_amounts = dict(captured or {})
        self.intents: dict[str, PaymentIntentRef] = {}
        self.refunds: list[dict[str, object]] = []
        self.canceled: list[str] = []
        self.captured: list[tuple[str, int | None]] = []
        # Calls of `refund` per idempotency key (Stripe answers a repeated key with the first refund).
        self.refund_calls: Counter[str] = Counter()
        self.find_refund_calls = 0

    def create_payment_intent(
        self, checkout_id: str, amount: int, currency: str, capture_manual: bool
    ) -> PaymentIntentRef:
        if checkout_id not in self.intents:
            n = len(self.intents) + 1
            self.intents[checkout_id] = PaymentIntentRef(
                f"pi_fake{n}", f"pi_fake{n}_secret_x", "requires_payment_method"
            )
        return self.intents[checkout_id]

    def cancel_payment_intent(self, payment_intent_id: str) -> str:
        self.canceled.append(payment_intent_id)
        return "canceled"

    def capture(self, payment_intent_id: str, amount: int | None = None) -> str:
        self.captured.append((payment_intent_id, amount))
        return "succeeded"

    def refund(
        self,
        payment_intent_id: str,
        amount: int,
        reason: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundRef:
        self.refund_calls[idempotency_key] += 1
        for done in self.refunds:
            if done["idempotency_key"] == idempotency_key:
                return RefundRef(str(done["id"]), amount, "eur", "succeeded")
        if payment_intent_id in self.captured_amounts:
            left = self.captured_amounts[payment_intent_id] - self.refunded_total(payment_intent_id)
            if left <= 0:
                raise ValidationFailed.for_field("amount", "Charge has already been refunded.")
            if amount > left:
                raise ValidationFailed.for_field("amount", f"Refund amount exceeds unrefunded {left}")
        refund_id = f"re_fake{len(self.refunds) + 1}"
        self.refunds.append(
            {
                "id": refund_id,
                "payment_intent_id": payment_intent_id,
                "amount": amount,
                "reason": reason,
                "idempotency_key": idempotency_key,
                "metadata": dict(metadata or {}),
            }
        )
        return RefundRef(refund_id, amount, "eur", "succeeded")

    def refunded_total(self, payment_intent_id: str) -> int:
        return sum(int(str(r["amount"])) for r in self.refunds if r["payment_intent_id"] == payment_intent_id)

    def find_refund(self, payment_intent_id: str, refund_claim: str) -> RefundRef | None:
        self.find_refund_calls += 1
        for done in self.refunds:
            metadata = done["metadata"]
            assert isinstance(metadata, dict)
            same_intent = done["payment_intent_id"] == payment_intent_id
            if same_intent and metadata.get("refund_claim") == refund_claim:
                return RefundRef(str(done["id"]), int(str(done["amount"])), "eur", "succeeded")
        return None


class InMemoryRefundClaims:
    """`RefundClaims` (the refund ledger) in memory, with the DynamoDB adapter's rules: a claim counts
    against its owner's ledger from claim until freed, never beyond its cap; a claim taken again keeps
    its first amount; only the holder settles; a claim is listed as pending (stuck, once stale) from
    its claim until it is settled or freed."""

    def __init__(self) -> None:
        self.claims: dict[tuple[tuple[str, str], str], dict[str, object]] = {}
        self.ledger: Counter[tuple[str, str]] = Counter()
        self.pending: dict[tuple[tuple[str, str], str], RefundClaim] = {}

    def claim_refund(self, refund: RefundClaim, at: str, stale_before: str) -> TakenClaim | None:
        current = self.claims.get((refund.owner, refund.claim))
        how: Literal["first", "again"] = "first" if current is None else "again"
        amount = refund.amount
        if current is not None:
            stored = int(str(current["amount"]))
            if current["state"] == "requesting":
                if str(current["at"]) >= stale_before:
                    return None
                held = replace(refund, amount=stored)
                self.claims[(refund.owner, refund.claim)] = {
                    "state": "requesting",
                    "at": at,
                    "amount": stored,
                }
                self.pending[(refund.owner, refund.claim)] = replace(held, requested_at=at)
                return TakenClaim("again", held)
            if current["state"] != "failed":
                return None
            amount = stored
        remaining = refund.cap - self.ledger[refund.owner]
        amount = amount if refund.exact else min(amount, remaining)
        if amount <= 0 or amount > remaining:
            raise NothingToRefund(max(remaining, 0))
        self.ledger[refund.owner] += amount
        self.claims[(refund.owner, refund.claim)] = {"state": "requesting", "at": at, "amount": amount}
        self.pending[(refund.owner, refund.claim)] = replace(refund, amount=amount, requested_at=at)
        return TakenClaim(how, replace(refund, amount=amount))

    def settle_refund_claim(
        self, refund: RefundClaim, at: str, refund_id: str | None, refunded: int | None = None
    ) -> None:
        current = self.claims.get((refund.owner, refund.claim))
        if current is None or current["state"] != "requesting" or current["at"] != at:
            return
        counted = 0 if refund_id is None else refund.amount if refunded is None else refunded
        self.ledger[refund.owner] += counted - refund.amount
        current["state"] = refund_id or "failed"
        if refund_id is not None:
            current["amount"] = counted
        del self.pending[(refund.owner, refund.claim)]

    def refund_claim(self, owner: tuple[str, str], claim: str) -> ClaimState | None:
        current = self.claims.get((owner, claim))
        if current is None:
            return None
        return ClaimState(str(current["state"]), int(str(current["amount"])), str(current["at"]))

    def stuck_refund_claims(self, stale_before: str, limit: int) -> list[RefundClaim]:
        # Oldest first; claims of the same moment by their Stripe idempotency key, as the adapter's index.
        stuck = sorted(
            (r for r in self.pending.values() if r.requested_at < stale_before),
            key=lambda r: (r.requested_at, r.idempotency_key),
        )
        return stuck[:limit]


class InMemoryOrderPaymentLookup:
    def __init__(self, orders: dict[str, str] | None = None) -> None:
        self.orders = dict(orders or {})

    def payment_intent_of_order(self, order_id: str) -> str | None:
        return self.orders.get(order_id)


# -- notifications -----------------------------------------------------------------------------------


class FakeMailer:
    """Records sent e-mails; `fail_next` makes the next sends raise (as SES throttling would)."""

    def __init__(self) -> None:
        from cloudtill.notifications.ports import Email

        self.sent: list[Email] = []
        self.fail_next = 0

    def send(self, email: object) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("TooManyRequestsException (fake)")
        self.sent.append(email)  # type: ignore[arg-type]
        return f"msg-{len(self.sent)}"


class FakeSmsSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> str:
        self.sent.append((phone, text))
        return f"sms-{len(self.sent)}"


class InMemoryNotificationLog:
    """Same two-phase contract as DynamoNotificationLog (claim -> finish)."""

    def __init__(self, clock: FixedClock, resend_after: timedelta = timedelta(seconds=60)) -> None:
        self.records: dict[tuple[str, str], dict[str, object]] = {}
        self._clock = clock
        self._resend_after = resend_after

    def claim(self, event_id: str, recipient: str, message: str, channel: str) -> object:
        from cloudtill.notifications.ports import ClaimResult

        now = self._clock.now()
        record = self.records.get((event_id, recipient))
        if record is not None:
            stale = record["status"] == "sending" and record["claimed_at"] < now - self._resend_after  # type: ignore[operator]
            if record["status"] != "failed" and not stale:
                return ClaimResult(False, str(record["status"]), int(record["attempts"]))  # type: ignore[call-overload]
        attempts = int(record["attempts"]) + 1 if record else 1  # type: ignore[call-overload]
        self.records[(event_id, recipient)] = {
            "status": "sending",
            "message": message,
            "channel": channel,
            "claimed_at": now,
            "attempts": attempts,
        }
        return ClaimResult(True, "sending", attempts)

    def finish(self, event_id: str, recipient: str, status: str, details: Mapping[str, object]) -> None:
        record = self.records[(event_id, recipient)]
        if record["status"] == "sent":
            return  # SES's Send event was first: the record stays as it confirmed it
        assert record["status"] == "sending", "only the claimant finishes"
        record.update(status=status, **details)

    def confirm_sent(self, event_id: str, recipient: str, provider_message_id: str) -> bool:
        record = self.records.get((event_id, recipient))
        if record is None or record["status"] not in ("sending", "failed"):
            return False
        record.update(status="sent", provider_message_id=provider_message_id)
        return True

    def statuses(self) -> list[str]:
        return [str(r["status"]) for r in self.records.values()]


class InMemorySuppressions:
    def __init__(self) -> None:
        self.addresses: dict[str, str] = {}

    def is_suppressed(self, email: str) -> bool:
        return email.strip().lower() in self.addresses

    def suppress(self, email: str, reason: str, feedback_id: str) -> None:
        self.addresses.setdefault(email.strip().lower(), reason)


class InMemoryContacts:
    def __init__(self) -> None:
        from cloudtill.notifications.ports import Contact

        self.checkouts: dict[str, Contact] = {}
        self.order_emails: dict[str, str] = {}

    def of_checkout(self, checkout_id: str) -> object:
        return self.checkouts.get(checkout_id)

    def email_of_order(self, order_id: str) -> str | None:
        return self.order_emails.get(order_id)
