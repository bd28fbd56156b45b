"""The order workflow's ports: its bookkeeping on the items it orchestrates (task tokens, step markers,
the paid-checkout list), the checkout as its compensations use it, and the one store its tasks run on
(the orders, the refund ledger and the bookkeeping). `dynamo.py` implements them; unit tests use the
in-memory fakes of `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.orders.ports import OrderStore
from cloudtill.orders.records import OrderRecord
from cloudtill.stock.rules import StockState


class WorkflowBookkeeping(Protocol):
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

    def checkout_and_stock(
        self, checkout_id: str, skus: Sequence[str]
    ) -> tuple[CheckoutRecord | None, dict[str, StockState]]:
        """The checkout and the stock of `skus`, strongly consistent, in one round trip (a batch);
        unknown SKUs are left out."""
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


class OrderWorkflowStore(OrderStore, WorkflowBookkeeping, Protocol):
    """What the workflow's tasks run on: the orders, the refund ledger and the bookkeeping."""


class CheckoutExpirer(Protocol):
    """The checkout domain's expiry and release (`CheckoutService.expire_checkout` and the
    repository's `release`), as the workflow's compensations call them."""

    def get(self, checkout_id: str) -> CheckoutRecord | None: ...

    def expire(self, checkout_id: str) -> bool: ...

    def cancel(self, checkout_id: str) -> bool: ...
