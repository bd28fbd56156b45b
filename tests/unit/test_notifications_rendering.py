"""Every message template rendered with realistic data: HTML escaped, text verbatim, money by Babel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cloudtill.notifications.rendering import Renderer, format_money
from cloudtill.notifications.service import MONEY_SUMMARY_FIELDS

TEMPLATES = Path(__file__).resolve().parents[2] / "functions" / "notifications" / "templates"
XSS = "<script>alert(1)</script>"
SHOP = {"name": "Demo & Co", "url": "https://shop.example", "language": "en"}

ORDER: dict[str, Any] = {
    "order_id": "ord_0123456789abcdef",
    "checkout_id": "chk_" + "a" * 32,
    "email": "ada@example.com",
    "currency": "EUR",
    "subtotal": 5998,
    "discount": 600,
    "shipping": 495,
    "tax": 1009,
    "total": 5893,
    "promo_code": "WELCOME10",
    "shipping_method": "standard",
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "1 Analytical Row",
        "line2": None,
        "city": "Dublin",
        "postal_code": "D02 X285",
        "country": "IE",
    },
}
LINES = [
    {"sku": "MUG-1", "name": XSS, "quantity": 2, "unit_price": 1999, "line_total": 3998},
    {"sku": "TEE-M", "name": "T-shirt (M)", "quantity": 1, "unit_price": 2000, "line_total": 2000},
]
COMMON = {
    "checkout_id": ORDER["checkout_id"],
    "order_id": ORDER["order_id"],
    "order_url": "https://shop.example/orders/ord_0123456789abcdef",
}

CONTEXTS: dict[str, dict[str, Any]] = {
    "order_confirmed": {**COMMON, "order": ORDER, "lines": LINES},
    "order_shipped": {
        **COMMON,
        "shipment": {
            "order_id": ORDER["order_id"],
            "carrier": "An Post",
            "tracking_number": "LX123456789IE",
            "tracking_url": "https://track.example/LX123456789IE?x=1&y=2",
            "fully_shipped": True,
        },
    },
    "order_delivered": COMMON,
    "order_cancelled": {
        **COMMON,
        "cancellation": {
            "order_id": ORDER["order_id"],
            "reason": "customer request",
            "currency": "EUR",
            "refund_amount": 5893,
        },
    },
    "payment_failed": {
        **COMMON,
        "payment": {"retryable": True, "failure_code": "card_declined"},
        "currency": "EUR",
        "total": 5893,
        "retry_url": "https://shop.example/checkout/chk_x",
    },
    "refund_issued": {
        **COMMON,
        "refund": {"amount": 1999, "currency": "EUR", "refunded_total": 1999, "fully_refunded": False},
    },
    "checkout_reminder": {
        **COMMON,
        "lines": LINES,
        "currency": "EUR",
        "total": 5998,
        "shop_url": "https://shop.example",
        "unsubscribe_url": "mailto:shop@example.com?subject=unsubscribe",
    },
    "stock_low": {
        "stock": {
            "sku": XSS,
            "on_hand": 3,
            "reserved": 1,
            "available": 2,
            "low_stock_threshold": 5,
            "cause": "movement",
        }
    },
    "report_ready": {
        "report": {
            "date": "2026-11-22",
            "url": "https://reports.example/2026-11-22.html",
            "currency": "EUR",
            "summary": {"orders": 12, "gross": 123456, "refunds": 1999},
        },
        "money_fields": MONEY_SUMMARY_FIELDS,
        "link": None,  # no signed link (no reports bucket): tests/unit/test_notifications_report_link.py
        "periods": [
            {"name": "Week 2026-W47 to date", "html_key": "reports/2026-W47/report.html", "link": None}
        ],
    },
}


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(TEMPLATES, "en_IE", SHOP)


def test_every_message_has_subject_text_and_html_templates() -> None:
    for message in CONTEXTS:
        for suffix in (".subject.txt", ".txt", ".html"):
            assert (TEMPLATES / f"{message}{suffix}").is_file(), f"{message}{suffix} missing"


@pytest.mark.parametrize("message", sorted(CONTEXTS))
def test_each_template_renders_a_realistic_message(renderer: Renderer, message: str) -> None:
    rendered = renderer.render(message, CONTEXTS[message])

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and rendered.html.strip()
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    assert "Demo &amp; Co" in rendered.html  # shop name escaped in the layout
    assert "Demo & Co" in rendered.text


def test_order_confirmation_shows_lines_totals_and_address(renderer: Renderer) -> None:
    rendered = renderer.render("order_confirmed", CONTEXTS["order_confirmed"])

    assert rendered.subject == "Your order ord_0123456789abcdef is confirmed"
    for text in (rendered.text, rendered.html):
        assert "€58.93" in text  # total
        assert "€19.99" in text and "€39.98" in text  # unit price and line total
        assert "-€6.00" in text and "WELCOME10" in text
        assert "D02 X285" in text and "Dublin" in text
        assert "T-shirt (M)" in text
    assert rendered.sms is not None and "€58.93" in rendered.sms


def test_product_name_with_markup_is_escaped_in_html_and_verbatim_in_text(renderer: Renderer) -> None:
    rendered = renderer.render("order_confirmed", CONTEXTS["order_confirmed"])

    assert XSS not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert XSS in rendered.text


def test_ops_message_escapes_sku_in_html(renderer: Renderer) -> None:
    rendered = renderer.render("stock_low", CONTEXTS["stock_low"])

    assert XSS not in rendered.html and "&lt;script&gt;" in rendered.html
    assert XSS in rendered.text and XSS in rendered.subject


def test_shipped_message_carries_the_tracking_link(renderer: Renderer) -> None:
    rendered = renderer.render("order_shipped", CONTEXTS["order_shipped"])

    assert "https://track.example/LX123456789IE?x=1&y=2" in rendered.text
    assert 'href="https://track.example/LX123456789IE?x=1&amp;y=2"' in rendered.html
    assert rendered.sms is not None and "track.example" in rendered.sms


def test_marketing_reminder_has_an_unsubscribe_link(renderer: Renderer) -> None:
    rendered = renderer.render("checkout_reminder", CONTEXTS["checkout_reminder"])

    assert "Unsubscribe" in rendered.html and "mailto:shop@example.com?subject=unsubscribe" in rendered.html
    assert "mailto:shop@example.com?subject=unsubscribe" in rendered.text


def test_report_summary_amounts_are_money_and_counts_are_numbers(renderer: Renderer) -> None:
    rendered = renderer.render("report_ready", CONTEXTS["report_ready"])

    assert "Gross: €1,234.56" in rendered.text
    assert "Orders: 12" in rendered.text
    assert "https://reports.example/2026-11-22.html" in rendered.html


def test_a_missing_context_value_fails_the_render(renderer: Renderer) -> None:
    from jinja2 import UndefinedError

    context = dict(CONTEXTS["order_shipped"])
    del context["shipment"]
    with pytest.raises(UndefinedError):
        renderer.render("order_shipped", context)


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (123456, "EUR", "en_IE", "€1,234.56"),
        (123456, "EUR", "de_DE", "1.234,56\xa0€"),
        (123456, "JPY", "en_IE", "JP¥123,456"),  # no minor unit
        (123456, "KWD", "en_IE", "KWD123.456"),  # three decimals
        (5, "GBP", "en_GB", "£0.05"),
    ],
)
def test_money_is_formatted_by_babel_for_currency_and_locale(
    amount: int, currency: str, locale: str, expected: str
) -> None:
    assert format_money(amount, currency, locale) == expected


def test_locale_changes_the_rendered_amounts() -> None:
    german = Renderer(TEMPLATES, "de_DE", SHOP).render("order_confirmed", CONTEXTS["order_confirmed"])

    assert "58,93\xa0€" in german.text
