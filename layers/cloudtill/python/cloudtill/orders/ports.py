"""The orders domain's ports. `dynamo.py` implements `OrderRepository`; refunds go through the payments
domain's refund ledger (`RefundClaims`); the workflow's own bookkeeping (task tokens, step markers) is
`cloudtill.order_workflow.ports`; unit tests use the in-memory fakes of `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.errors import TransientError as TransientError  # shared by every domain
from cloudtill.orders.records import Fulfilment, OrderRecord, OrderReturn, OrderView
from cloudtill.orders.rules import StatusStep
from cloudtill.outbox import DomainEvent
from cloudtill.payments.ports import RefundClaims
from cloudtill.payments.records import RefundClaim
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


class OrderRepository(Protocol):
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

    def advance(self, order_id: str, step: StatusStep) -> str | None:
        """Apply `step` if the order is in `step.from_status` (no cancel request); returns the order's
        status afterwards (`step.to_status` when applied), None when there is no such order."""
        ...


class CheckoutClosed(Exception):
    """The checkout to confirm is no longer awaiting payment (expired, cancelled or completed)."""


class OrderStore(OrderRepository, RefundClaims, Protocol):
    """The orders and the refund ledger their changes claim refunds in (a return's refund)."""
