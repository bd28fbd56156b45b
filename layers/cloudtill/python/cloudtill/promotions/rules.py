"""Promotion codes: the model, the applicability rules and the discount they give.

A promotion is either a `percentage` (value in basis points of the subtotal, 1..10 000) or a
`fixed` amount (value in minor units of the shop's currency). The discount never exceeds the
subtotal. Time windows are half open: `starts_at <= now < ends_at`. Emails are compared after
`normalize_email` (trimmed, lower case), so `Ann@Example.com` and `ann@example.com` share one
per-email allowance.

Counting redemptions is the caller's job (it needs storage); `check_applicable` only judges the
counts it is given. The redemption itself must still be a conditional write
(`redeemed < max_redemptions`) so two checkouts cannot both take the last redemption.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloudtill.clock import UtcDatetime
from cloudtill.errors import ValidationFailed
from cloudtill.money import Money

PROMO_FIELD = "promo_code"
PromotionKind = Literal["percentage", "fixed"]
MAX_PERCENTAGE_BPS = 10_000


def normalize_code(code: str) -> str:
    """Codes are stored upper case; shoppers may type them in any case."""
    return code.strip().upper()


def normalize_email(email: str) -> str:
    return email.strip().lower()


class _PromotionFields(BaseModel):
    code: str = Field(pattern=r"^[A-Z0-9_-]{3,32}$", examples=["SUMMER-10"])
    kind: PromotionKind
    value: int = Field(ge=1, description="basis points for `percentage`, minor units for `fixed`")
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="required for `fixed`, the shop's currency"
    )
    min_subtotal: int = Field(default=0, ge=0, description="minor units, before discount")
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = Field(default=None, description="exclusive")
    max_redemptions: int | None = Field(default=None, ge=1)
    max_per_email: int | None = Field(default=None, ge=1)
    active: bool = True

    @field_validator("code", mode="before")
    @classmethod
    def _upper_case_code(cls, value: object) -> object:
        return normalize_code(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> _PromotionFields:
        if self.kind == "percentage":
            if self.value > MAX_PERCENTAGE_BPS:
                raise ValueError("a percentage value is basis points, at most 10000 (100 %)")
            if self.currency is not None:
                raise ValueError("currency applies only to fixed promotions")
        elif self.currency is None:
            raise ValueError("a fixed promotion needs a currency")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class PromotionIn(_PromotionFields):
    """Body of `POST /admin/promotions`."""

    model_config = ConfigDict(extra="forbid")


class Promotion(_PromotionFields):
    """A stored promotion (validated against the shop's currency)."""

    model_config = ConfigDict(frozen=True)


class PromotionOut(_PromotionFields):
    """Response body for a promotion: its fields plus how often it was redeemed."""

    redeemed: int = Field(ge=0)

    @classmethod
    def from_promotion(cls, promotion: Promotion, redeemed: int) -> PromotionOut:
        return cls(**promotion.model_dump(), redeemed=redeemed)


def new_promotion(body: PromotionIn, shop_currency: str) -> Promotion:
    """The promotion an admin asked for; a fixed amount must be in the shop's currency."""
    if body.kind == "fixed" and body.currency != shop_currency:
        raise ValidationFailed.for_field("currency", f"must be the shop currency {shop_currency}")
    return Promotion(**body.model_dump())


def check_applicable(
    promo: Promotion,
    subtotal: Money,
    email: str | None,
    now: datetime,
    redemptions_so_far: int,
    redemptions_by_email: Mapping[str, int],
) -> None:
    """Raise ValidationFailed naming `promo_code` unless `promo` may be applied to this checkout.

    `redemptions_by_email` maps emails (any case) to their redemption counts for this promotion.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    def reject(message: str) -> ValidationFailed:
        return ValidationFailed.for_field(PROMO_FIELD, message)

    if not promo.active:
        raise reject("this code is not active")
    if promo.starts_at is not None and now < promo.starts_at:
        raise reject("this code is not valid yet")
    if promo.ends_at is not None and now >= promo.ends_at:
        raise reject("this code has expired")
    if promo.max_redemptions is not None and redemptions_so_far >= promo.max_redemptions:
        raise reject("this code has been used up")
    if promo.max_per_email is not None:
        if email is None:
            raise reject("this code needs an email address")
        wanted = normalize_email(email)
        used = sum(n for e, n in redemptions_by_email.items() if normalize_email(e) == wanted)
        if used >= promo.max_per_email:
            raise reject("this code has already been used with this email address")
    if promo.kind == "fixed" and promo.currency != subtotal.currency:
        raise reject(f"this code is not valid for {subtotal.currency}")
    if subtotal.amount < promo.min_subtotal:
        raise reject(f"needs a subtotal of at least {promo.min_subtotal} ({subtotal.currency} minor units)")


def discount_for(promo: Promotion, subtotal: Money) -> Money:
    """The discount on `subtotal`: 0 <= discount <= subtotal (for a non-negative subtotal)."""
    if subtotal.amount <= 0:
        return Money.zero(subtotal.currency)
    if promo.kind == "percentage":
        # value <= 10 000 bps, so the rounded percentage never exceeds the subtotal.
        return subtotal.basis_points(promo.value)
    discount = Money(promo.value, promo.currency or subtotal.currency)
    return discount if discount <= subtotal else subtotal
