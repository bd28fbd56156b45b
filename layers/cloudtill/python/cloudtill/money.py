"""Money: integer minor units plus an ISO 4217 currency code. All rounding happens here.

The one rounding rule: a fractional minor unit is rounded half away from zero
(`round_half_up`), applied once per computed amount (per line discount, per line tax).
Splitting an amount into parts uses the largest-remainder method, so parts always add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloudtill.errors import CurrencyMismatch


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return sign * quotient


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def fraction(self, numerator: int, denominator: int) -> Money:
        """self * numerator / denominator with the one rounding rule."""
        return Money(round_half_up(self.amount * numerator, denominator), self.currency)

    def basis_points(self, bps: int) -> Money:
        """self * bps / 10 000 (percentages and tax rates are basis points)."""
        return self.fraction(bps, 10_000)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split into parts proportional to weights; parts sum to exactly self (largest remainder)."""
        if not weights or any(w < 0 for w in weights):
            raise ValueError("weights must be non-negative and not empty")
        total = sum(weights)
        if total == 0:
            return [Money(self.amount, self.currency)] + [Money.zero(self.currency)] * (len(weights) - 1)
        sign = -1 if self.amount < 0 else 1
        magnitude = abs(self.amount)
        shares = [divmod(magnitude * w, total) for w in weights]
        parts = [q for q, _ in shares]
        leftover = magnitude - sum(parts)
        by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
        for i in by_remainder[:leftover]:
            parts[i] += 1
        return [Money(sign * p, self.currency) for p in parts]

    def to_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}


def total(amounts: Sequence[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
