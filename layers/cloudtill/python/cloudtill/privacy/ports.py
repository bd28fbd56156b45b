"""The privacy domain's port: the records held about a customer and their erasure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cloudtill.outbox import DomainEvent


class CustomerRecords(Protocol):
    def records(self, email_hash: str) -> list[dict[str, Any]]:
        """Every item linked to the customer (checkouts, orders, notification records), as stored."""
        ...

    def suppressed(self, email_hash: str) -> bool: ...

    def erased_at(self, email_hash: str) -> str | None:
        """When the customer was erased (the erasure marker), or None."""
        ...

    def erase(self, email_hash: str, records: Sequence[dict[str, Any]], at: str, event: DomainEvent) -> None:
        """Pseudonymise `records`, unlink them from the customer, write the erasure marker and `event`.

        Raises `Conflict` if a record changed meanwhile (the caller may simply retry)."""
        ...
