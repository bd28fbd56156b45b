"""Log hygiene, last in the integration suite (pytest runs files alphabetically): the logs of every local
backend the suite started hold no customer personal data and no secret.

Everything the suite did — checkouts with emails and addresses, payments, webhooks, orders, the privacy
routes — went through these backends; this test adds one more paid checkout full of recognisable personal
data (so it means something when run alone), then greps every log with patterns for email addresses,
street addresses, phone numbers, Stripe client secrets and API keys / signing secrets.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from cloudtill.settings import ShopSettings

from tests.integration.checkout_support import make_skus
from tests.integration.conftest import RunningBackend
from tests.integration.stock_helpers import receive

PATTERNS = {
    "email address": re.compile(r"[A-Za-z0-9._%+'{}$-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "street address": re.compile(
        r"\b\d{1,5}[A-Za-z]? (?:[A-Z][a-z]+ )+(?:Street|St|Road|Rd|Avenue|Ave|Lane|Quay|Drive|Square|Place)\b"
    ),
    "phone number": re.compile(r"\+\d{1,3}[ ()-]{0,2}\d{1,4}(?:[ ()-]{0,2}\d{2,4}){2,}"),
    "Stripe client secret": re.compile(r"pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"),
    "Stripe API key": re.compile(r"\b[sr]k_(?:test|live)_[A-Za-z0-9]+"),
    "webhook signing secret": re.compile(r"whsec_[A-Za-z0-9_]+"),
    # A presigned URL (the ReportReady link) is a bearer credential while it is valid.
    "presigned URL signature": re.compile(r"X-Amz-Signature=[0-9a-f]{64}"),
}
# The shop's own addresses (configuration, not a customer's data) may appear in logs.
ALLOWED = {ShopSettings().sender_email, ShopSettings().ops_email}
PERSON = {
    "name": "Hygiene Tester",
    "street": "42 Hygiene Road",
    "postal_code": "D02 XY45",
    "phone": "+353 87 123 4567",
}


def _leaks(text: str) -> list[str]:
    found = []
    for line_number, line in enumerate(text.splitlines(), 1):
        for what, pattern in PATTERNS.items():
            for match in pattern.finditer(line):
                if match.group(0) not in ALLOWED:
                    found.append(f"line {line_number}: {what}: {match.group(0)!r} in {line[:200]!r}")
        for what, value in PERSON.items():
            if value in line:
                found.append(f"line {line_number}: {what}: {value!r} in {line[:200]!r}")
    return found


def _backend_logs(backend: RunningBackend, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The session backend's log and those of every other backend the suite started (start_backend
    writes `backend.log` into a directory made by tmp_path_factory)."""
    logs = {backend.log_path.resolve()}
    logs.update(p.resolve() for p in tmp_path_factory.getbasetemp().glob("**/backend.log"))
    return sorted(logs)


def _drive_personal_data_through(backend: RunningBackend, api: httpx.Client, admin: httpx.Client) -> None:
    unique = f"hy{time.time_ns() % 10**10:x}"
    sku = make_skus(admin, unique)[0]
    receive(backend, admin, sku, 5)
    body = {
        "email": f"hygiene.{unique}@example.com",
        "phone": PERSON["phone"],
        "lines": [{"sku": sku, "quantity": 1}],
        "shipping_address": {
            "name": PERSON["name"],
            "line1": PERSON["street"],
            "city": "Dublin",
            "postal_code": PERSON["postal_code"],
            "country": "IE",
        },
    }
    created = api.post("/checkouts", json=body)
    assert created.status_code == 201, created.text
    checkout = created.json()
    # Rejected input is logged by nobody either (the 422 echoes it to the caller only).
    assert (
        api.post(
            "/checkouts", json={**body, "shipping_address": {**body["shipping_address"], "country": "X"}}
        ).status_code
        == 422
    )
    paid = api.post(
        f"/_local/payments/{checkout['payment']['payment_intent_id']}/confirm",
        json={"card": "4242424242424242"},
    )
    assert paid.status_code == 200, paid.text

    # Let the webhook, the order workflow and the event consumers run (and log) before reading the logs:
    # the order exists, its confirmation e-mail went out and every queue is drained.
    def settled() -> bool:
        current = api.get(
            f"/checkouts/{checkout['id']}", headers={"X-Checkout-Token": checkout["token"]}
        ).json()
        if not current.get("order_id"):
            return False
        if not api.get("/_local/emails", params={"recipient": body["email"]}).json()["items"]:
            return False
        depths = api.get("/_local/queues").json()
        return all(depth == 0 for name, depth in depths.items() if not name.endswith("-dlq"))

    deadline = time.monotonic() + 30
    while not settled():
        assert time.monotonic() < deadline, "the paid checkout's order, e-mail and events did not settle"
        time.sleep(0.25)


def test_logs_hold_no_personal_data_and_no_secrets(
    backend: RunningBackend,
    api: httpx.Client,
    admin: httpx.Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _drive_personal_data_through(backend, api, admin)
    logs = _backend_logs(backend, tmp_path_factory)
    assert backend.log_path.resolve() in logs
    session_log = backend.log_text()
    assert '"level":"INFO"' in session_log  # handlers did log: we are checking real log lines
    problems = {str(path): _leaks(path.read_text(errors="replace")) for path in logs}
    problems = {path: found[:20] for path, found in problems.items() if found}
    assert not problems, "\n".join(f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items())


def test_the_patterns_catch_what_they_are_for() -> None:
    # The grep is only as good as its patterns: each kind of leak must be caught, the shop's address not.
    samples = [
        'extra={"email": "jane.doe+x@example.co.uk"}',
        "shipping to 12 Main Street",
        "call +353 87 123 4567",
        "secret pi_3Nabc123_secret_XyZ987",
        "key sk_test_51Habc",
        "signing whsec_abc_123",
        "link https://bucket.s3.amazonaws.com/reports/x?X-Amz-Signature=" + "ab12" * 16,
    ]
    for sample in samples:
        assert _leaks(sample), sample
    assert not _leaks(f"sender {ShopSettings().sender_email} at 2026-01-01 10:00:00,123+0000 id 1234567")
