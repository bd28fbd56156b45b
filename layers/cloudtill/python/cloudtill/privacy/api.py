"""The privacy API's contract (OpenAPI is generated from these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cloudtill.clock import Timestamp


class CustomerExport(BaseModel):
    """Everything held about one customer, as stored (secrets and token hashes left out)."""

    email: str
    erased_at: Timestamp | None = Field(default=None, description="set when the customer's data was erased")
    checkouts: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    payments: list[dict[str, Any]] = Field(description="payment references: provider ids and statuses")
    notifications: list[dict[str, Any]]
    suppressed: bool = Field(description="e-mail suppressed after a bounce or complaint")


class ErasureOut(BaseModel):
    """What an erasure did. Repeating it changes nothing and says so (`already_erased`)."""

    erased_at: Timestamp
    already_erased: bool
    checkouts: int
    orders: int
    notifications: int
