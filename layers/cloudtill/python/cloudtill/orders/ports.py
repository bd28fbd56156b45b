"""The orders domain's ports. `dynamo.py` implements `OrderRepository`; the workflow port is
`cloudtill.workflow.Workflow`; payments are the payments domain's `PaymentGateway`/`PaymentStore`;
unit tests use the in-memory fakes of `tests/fakes.py`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.errors import TransientError as TransientError  # shared by every domain
from cloudtill.orders.records import Fulfilment, OrderRecord, OrderReturn, OrderView
from cloudtill.orders.rules import StatusStep
from cloudtill.outbox import DomainEvent
from cloudtill.stock.rules import StockChange, StockState


class StaleOrder(Exception):
    """The order changed since it was read (version condition failed): read again and re-plan."""


@dataclass(frozen=True)
class StockWrite:
    """One SKU's stock change (sale or restock) and the stock events that go with it."""

    change: StockChange
    events: Sequence[DomainEvent] = ()


@dataclass(frozen=True)
class OrderWrite:
    """Everything one order change commits in ONE transaction."""

    order: OrderRecord
    expected_version: int | None  # None: the order is new (put if absent)
    events: Sequence[DomainEvent] = ()
    stock: Sequence[StockWrite] = ()
    fulfilment: Fulfilment | None = None
    order_return: OrderReturn | None = None
    # Confirmation only: the checkout completes and its reservations are committed in the same write.
    checkout: CheckoutRecord | None = None
    reservations: dict[str, int] = field(default_factory=dict)
    # A refund this change owes (a return's), claimed on the order in the same write with its
    # `requested_at`: a crash right after the write leaves it pending, and the stuck-refund sweep
    # requests it. Nothing is written if the ledger has no room left for it (StaleOrder: read again).
    refund_claim: RefundClaim | None = None


ClaimTaken = Literal["first", "again"]
# A claim settled without a Stripe refund: reconciled against Stripe, nothing remained to refund.
NO_REFUND = "none"


@dataclass(frozen=True)
class RefundClaim:
    """A refund requested at most once per (`owner` item, `claim`), with everything needed to request
    it again after a crash (the stuck-refund sweep reads it back from the pending list).

    Every claim on an owner counts against the owner's refund ledger (`refunded_amount` on the item:
    the sum of its claims that are requesting or settled), which never exceeds `captured`. `exact`:
    this amount or nothing (an admin refund of a stated amount). Otherwise `amount` is an upper bound:
    the claim takes what remains of it (a cancel asks for everything and gets the rest)."""

    owner: tuple[str, str]  # (PK, SK) of the item carrying the claim: the order or the checkout
    claim: str  # e.g. `cancel`, `late`, `return_2`
    payment_intent_id: str
    amount: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    reason: str = "requested_by_customer"
    requested_at: str = ""  # as listed: when its current holder claimed it
    captured: int | None = None  # what the payment captured: the ledger's cap (None: `amount`)
    exact: bool = False

    @property
    def cap(self) -> int:
        return self.amount if self.captured is None else self.captured

    @property
    def idempotency_key(self) -> str:
        """Stripe's idempotency key, also kept in the refund's metadata (`refund_claim`) so a retry
        can find the refund of an earlier attempt (`PaymentGateway.find_refund`)."""
        return f"{self.claim}-{self.owner[0]}"


def keyed_claim(idempotency_key: str) -> str:
    """The claim of a refund asked for with an idempotency key (the admin route's `Idempotency-Key`;
    a return's refund is `return-<n>`): the same key is the same claim, so a retry refunds once.
    Hashed: keys are client text of up to 255 characters, and Stripe's own key must stay short."""
    return "key_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TakenClaim:
    """A claim this attempt holds: `refund.amount` is what the ledger counted for it."""

    how: ClaimTaken
    refund: RefundClaim


@dataclass(frozen=True)
class ClaimState:
    """A claim as stored: `requesting`, `failed`, NO_REFUND or the Stripe refund id; its amount."""

    state: str
    amount: int | None
    requested_at: str | None


class NothingToRefund(Exception):
    """The owner's ledger has less room than the claim needs: `remaining` is what is left."""

    def __init__(self, remaining: int) -> None:
        super().__init__(f"{remaining} remains to refund")
        self.remaining = remaining


class RefundClaims(Protocol):
    """The refund ledger's storage: what every refund path claims through (`request_refund_once`)."""

    def claim_refund(self, refund: RefundClaim, at: str, stale_before: str) -> TakenClaim | None:
        """Claim the right to request `refund` (claim `refund_<claim>` on the item `refund.owner`),
        recording `at` as its `requested_at`, count its amount in the owner's ledger, and list it as
        pending (the stuck-refund sweep's index), all in one conditional write, so concurrent claims
        never count more than `refund.cap`. The amount counted: `refund.amount` if it fits, else (not
        `exact`) what remains; a claim taken again keeps the amount it was first counted with.
        `first`: never claimed before. `again`: it had failed, or it was stuck `requesting` since
        before `stale_before` and is taken over (conditional on the old `requested_at`: of two
        retriers one wins). None: requested already, or another attempt holds it (younger than
        `stale_before`). Raises NothingToRefund when the ledger has no room for it."""
        ...

    def settle_refund_claim(
        self, refund: RefundClaim, at: str, refund_id: str | None, refunded: int | None = None
    ) -> None:
        """`refund_id` set: the refund was requested (no longer pending), for `refunded` (default
        `refund.amount`; the ledger follows when it differs). None: it failed, the claim may be taken
        again and no longer counts. Only the holder that claimed at `at` settles (a no-op otherwise)."""
        ...

    def refund_claim(self, owner: tuple[str, str], claim: str) -> ClaimState | None:
        """The claim as stored (strongly consistent), None when never claimed."""
        ...

    def stuck_refund_claims(self, stale_before: str, limit: int) -> list[RefundClaim]:
        """Pending refunds claimed before `stale_before` (oldest first, at most `limit`)."""
        ...


class OrderRepository(RefundClaims, Protocol):
    def get(self, order_id: str) -> OrderView | None:
        """The order with its fulfilments and returns (strongly consistent); None when unknown."""
        ...

    def get_order(self, order_id: str) -> OrderView | None:
        """The order item alone (strongly consistent, fulfilments and returns left empty): for the
        changes that only need the order itself."""
        ...

    def list_by_status(
        self, status: str, date: str | None, limit: int, cursor: str | None
    ) -> tuple[list[OrderRecord], str | None]:
        """Orders in `status` (created on `date`, if given), newest first, and the next cursor."""
        ...

    def write(self, change: OrderWrite) -> None:
        """Commit `change` atomically. Raises StaleOrder when the order is not at `expected_version`
        (or exists already), `cloudtill.stock.ports.StaleStock` when a SKU changed, and
        `CheckoutClosed` when a confirmation finds its checkout no longer awaiting payment."""
        ...

    def stock(self, sku: str) -> StockState | None: ...

    def checkout_and_stock(
        self, checkout_id: str, skus: Sequence[str]
    ) -> tuple[CheckoutRecord | None, dict[str, StockState]]:
        """The checkout and the stock of `skus`, strongly consistent, in one round trip (a batch);
        unknown SKUs are left out."""
        ...

    def advance(self, order_id: str, step: StatusStep) -> str | None:
        """Apply `step` if the order is in `step.from_status` (no cancel request); returns the order's
        status afterwards (`step.to_status` when applied), None when there is no such order."""
        ...

    # -- task tokens and markers (workflow bookkeeping; refund claims: RefundClaims) ---------------

    def store_payment_token(self, checkout_id: str, token: str) -> CheckoutRecord | None:
        """Keep the AwaitPayment token on the checkout; returns the checkout as of that write
        (atomically: no separate read), None when unknown."""
        ...

    def checkout_with_token(self, checkout_id: str) -> tuple[CheckoutRecord, str | None] | None:
        """The checkout and the AwaitPayment token stored on it, in one strongly consistent read."""
        ...

    def store_order_token(self, order_id: str, token: str) -> OrderRecord | None:
        """Keep the AwaitFulfilment/AwaitDelivery token on the order and bump its `version`, so a
        writer whose read predates the token fails its version condition and reads again (and then
        sees this token). Returns the order as of that write; None when unknown."""
        ...

    def paid_checkouts(self, paid_before: str, limit: int) -> list[str]:
        """Ids of checkouts paid before `paid_before` (oldest first, at most `limit`) and not yet
        settled: no order confirmed, not `forget_paid_checkout` since."""
        ...

    def forget_paid_checkout(self, checkout_id: str) -> None:
        """Take the checkout off the paid list (its payment is settled: an order, or a refund)."""
        ...

    def mark(self, owner: tuple[str, str], flag: str, at: str) -> bool:
        """Set a one-time step marker on an item; False when it was set already."""
        ...

    def is_marked(self, owner: tuple[str, str], flag: str) -> bool: ...


class CheckoutClosed(Exception):
    """The checkout to confirm is no longer awaiting payment (expired, cancelled or completed)."""


class CheckoutExpirer(Protocol):
    """The checkout domain's expiry and release (`CheckoutService.expire_checkout` and the
    repository's `release`), as the workflow's compensations call them."""

    def get(self, checkout_id: str) -> CheckoutRecord | None: ...

    def expire(self, checkout_id: str) -> bool: ...

    def cancel(self, checkout_id: str) -> bool: ...
