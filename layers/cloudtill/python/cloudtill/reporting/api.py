"""Reporting API request/response models (the contract; OpenAPI is generated from these)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Local day, YYYY-MM-DD")]
Channel = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Marketing channel, e.g. `ads`, `newsletter`"),
]


class ReportRun(BaseModel):
    date: str
    keys: dict[str, str]
    content_sha256: str
    summary: dict[str, Any]


class MarketingSpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Day
    channel: Channel
    amount: int = Field(strict=True, ge=0, le=10**12, description="Minor units of `currency`")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="The shop's currency (one stack, one currency)")

    @field_validator("date")
    @classmethod
    def _calendar_day(cls, value: str) -> str:
        datetime.date.fromisoformat(value)  # ValueError: a 422 naming `date`
        return value


class MarketingSpendOut(BaseModel):
    date: str
    channel: str
    amount: int
    currency: str


class MarketingSpendList(BaseModel):
    items: list[MarketingSpendOut]
