"""Messages as files: Jinja2 templates `<message>.subject.txt`, `<message>.txt`, `<message>.html`
(and `<message>.sms.txt` for messages also sent as SMS) extending a shared base layout.

HTML templates are autoescaped (a product called `<script>` is shown, never run); text templates are
not (they are plain text, shown verbatim). Undefined variables fail the render (StrictUndefined), so a
template and its context cannot drift apart unnoticed. Amounts are formatted by Babel for the currency
(its own number of decimals) and the stack's locale: never by hand; moments (`datetime` filter) in the
shop's time zone, named, so "valid until" means the same to every reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, get_currency_precision
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


def format_money(amount: int, currency: str, locale: str) -> str:
    """Minor units -> `€12.34` / `12,34 €` / `¥1,234` as the locale writes the currency."""
    digits = get_currency_precision(currency)
    return format_currency(Decimal(amount) / (Decimal(10) ** digits), currency, locale=locale)


def format_moment(moment: datetime, timezone: str, locale: str) -> str:
    """An aware datetime -> `16 Jul 2026, 14:00:03 (Europe/Dublin)`: the locale's medium format in the
    shop's zone, with the zone's name (Babel's abbreviations are ambiguous, e.g. GMT for Irish summer)."""
    local = format_datetime(moment, "medium", tzinfo=ZoneInfo(timezone), locale=locale)
    return f"{local} ({timezone})"


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    sms: str | None = None


class Renderer:
    def __init__(self, templates_dir: Path, locale: str, shop: dict[str, Any], timezone: str = "UTC") -> None:
        self.locale = locale
        self.timezone = timezone
        self._templates_dir = templates_dir
        self._shop = shop
        self._env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            # Only .html is escaped: .txt templates are plain text and must stay verbatim.
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters["money"] = self._money
        self._env.filters["datetime"] = self._moment

    def _money(self, amount: int, currency: str) -> str:
        return format_money(amount, currency, self.locale)

    def _moment(self, moment: datetime) -> str:
        return format_moment(moment, self.timezone, self.locale)

    def has_sms(self, message: str) -> bool:
        return (self._templates_dir / f"{message}.sms.txt").is_file()

    def render(self, message: str, context: dict[str, Any]) -> RenderedMessage:
        values = {"shop": self._shop, **context}
        subject = self._env.get_template(f"{message}.subject.txt").render(values)
        sms = self._env.get_template(f"{message}.sms.txt").render(values) if self.has_sms(message) else None
        return RenderedMessage(
            # A subject is one line whatever the template's whitespace.
            subject=" ".join(subject.split()),
            text=self._env.get_template(f"{message}.txt").render(values),
            html=self._env.get_template(f"{message}.html").render(values),
            sms=" ".join(sms.split()) if sms is not None else None,
        )
