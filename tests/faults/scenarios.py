"""The order flows the fault suite runs, each as `setup` (fresh SKUs and stock, never faulted) and `act`
(what a shopper, Stripe and ops do, faulted). `act` behaves as a patient client: it retries a 5xx or a
dropped connection a few times (with the same Idempotency-Key for a checkout) and carries on as far as
the system lets it; it asserts nothing, the reconciliation judges the outcome."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe

from localrt.stripe_emulator import API_KEY, WEBHOOK_SECRET
from tests.integration.checkout_support import checkout_body, make_skus
from tests.integration.conftest import RunningBackend
from tests.integration.stock_helpers import receive

GOOD_CARD = "4242424242424242"
CLIENT_ATTEMPTS = 4


@dataclass
class Flow:
    backend: RunningBackend
    api: httpx.Client
    admin: httpx.Client
    ttl_seconds: int


@dataclass
class Run:
    """One scenario run: its shopper (e-mail), SKUs, and how far the client got."""

    scenario: str
    email: str
    skus: list[str]
    checkout: dict[str, Any] | None = None
    order_id: str | None = None
    steps: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
    """A client that retries 5xx answers and broken connections; None if it never got an answer."""
    for attempt in range(CLIENT_ATTEMPTS):
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code < 500:
            return response
        time.sleep(0.5 * (attempt + 1))
    return response


def _poll(read: Callable[[], Any], until: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(0.3)
        value = read()
    return value


def _checkout_view(flow: Flow, run: Run) -> dict[str, Any]:
    assert run.checkout is not None
    response = _send(
        flow.api,
        "GET",
        f"/checkouts/{run.checkout['id']}",
        headers={"X-Checkout-Token": run.checkout["token"]},
    )
    return response.json() if response is not None and response.status_code == 200 else {}


def setup(flow: Flow, scenario: str, units: int = 5) -> Run:
    unique = uuid.uuid4().hex[:10]
    [sku] = make_skus(flow.admin, unique, ("A",), price=1500)
    receive(flow.backend, flow.admin, sku, units)
    return Run(scenario, f"shopper+{unique}@example.com", [sku])


def _create_checkout(flow: Flow, run: Run, quantity: int = 2) -> bool:
    body = checkout_body((run.skus[0], quantity), email=run.email)
    response = _send(flow.api, "POST", "/checkouts", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    if response is None or response.status_code != 201:
        run.steps.append(f"checkout refused: {response and response.status_code}")
        return False
    run.checkout = response.json()
    run.steps.append("checkout")
    return True


def _pay(flow: Flow, run: Run) -> bool:
    assert run.checkout is not None
    pi = run.checkout["payment"]["payment_intent_id"]
    response = _send(flow.api, "POST", f"/_local/payments/{pi}/confirm", json={"card": GOOD_CARD})
    ok = response is not None and response.status_code == 200 and response.json()["status"] == "succeeded"
    run.steps.append("paid" if ok else f"payment failed: {response and response.text[:80]}")
    return ok


def _wait_order(flow: Flow, run: Run) -> bool:
    view = _poll(lambda: _checkout_view(flow, run), lambda c: bool(c.get("order_id")), flow.ttl_seconds + 20)
    run.order_id = view.get("order_id")
    run.steps.append("order" if run.order_id else f"no order (checkout {view.get('status')})")
    return bool(run.order_id)


def _order(flow: Flow, run: Run) -> dict[str, Any]:
    response = _send(flow.admin, "GET", f"/admin/orders/{run.order_id}")
    return response.json() if response is not None and response.status_code == 200 else {}


def _admin_step(flow: Flow, run: Run, name: str, path: str, wanted: str, body: Any = None) -> bool:
    # The workflow may still be moving the order on (a resumed task): retry a 409 while it settles.
    response = _poll(
        lambda: _send(flow.admin, "POST", path, json=body),
        lambda r: r is not None and r.status_code != 409,
        15,
    )
    if response is None or response.status_code >= 300:
        run.steps.append(f"{name} refused: {response and response.status_code}")
        return False
    reached = _poll(lambda: _order(flow, run).get("status"), lambda s: s in wanted.split("|"), 20)
    run.steps.append(name if reached in wanted.split("|") else f"{name}: order {reached}")
    return reached in wanted.split("|")


def _ship(flow: Flow, run: Run) -> bool:
    body = {"carrier": "an_post", "tracking_number": "RX1IE"}
    return _admin_step(flow, run, "shipped", f"/admin/orders/{run.order_id}/fulfillments", "shipped", body)


def _deliver(flow: Flow, run: Run) -> bool:
    return _admin_step(
        flow, run, "delivered", f"/admin/orders/{run.order_id}/delivered", "delivered|completed"
    )


def deliver(flow: Flow, run: Run) -> None:
    """checkout -> pay -> confirm -> ship -> deliver (the workflow completes)."""
    if _create_checkout(flow, run) and _pay(flow, run) and _wait_order(flow, run) and _ship(flow, run):
        _deliver(flow, run)


def cancel(flow: Flow, run: Run) -> None:
    """checkout -> pay -> confirm -> admin cancel (refund in full, restock)."""
    if _create_checkout(flow, run) and _pay(flow, run) and _wait_order(flow, run):
        _admin_step(flow, run, "cancelled", f"/admin/orders/{run.order_id}/cancel", "cancelled")


def return_all(flow: Flow, run: Run) -> None:
    """checkout -> pay -> confirm -> ship -> deliver -> return everything (restock, refund)."""
    if not (_create_checkout(flow, run) and _pay(flow, run) and _wait_order(flow, run)):
        return
    if not (_ship(flow, run) and _deliver(flow, run)):
        return
    body = {"lines": [{"sku": run.skus[0], "quantity": 2}], "restock": True, "refund": True}
    response = _send(flow.admin, "POST", f"/admin/orders/{run.order_id}/returns", json=body)
    run.steps.append("returned" if response is not None and response.status_code == 201 else "return refused")


def expiry(flow: Flow, run: Run) -> None:
    """checkout -> no payment -> the reservation expires (intent cancelled, stock released)."""
    if _create_checkout(flow, run):
        view = _poll(
            lambda: _checkout_view(flow, run), lambda c: c.get("status") == "expired", flow.ttl_seconds + 20
        )
        run.steps.append(f"checkout {view.get('status')}")


def late_payment(flow: Flow, run: Run) -> None:
    """checkout -> paid, but the webhook is lost -> the checkout expires -> Stripe's retry of the webhook
    arrives late: the payment must be refunded in full, no order."""
    if not _create_checkout(flow, run):
        return
    assert run.checkout is not None
    pi = run.checkout["payment"]["payment_intent_id"]
    flow.api.post(
        "/_local/faults",
        json={
            "point": {
                "caller": "payments",
                "service": "stripe",
                "operation": "Webhook(payment_intent.succeeded)",
            },
            "kind": "drop",
            "first": True,
        },
    )
    if not _pay(flow, run):
        return
    view = _poll(
        lambda: _checkout_view(flow, run),
        lambda c: c.get("status") != "awaiting_payment",
        flow.ttl_seconds + 20,
    )
    run.steps.append(f"checkout {view.get('status')}")
    api_base = flow.api.get("/_local/stripe").json()["api_base"]
    intent = httpx.get(
        f"{api_base}/v1/payment_intents/{pi}", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()
    payload = json.dumps(
        {
            "id": f"evt_late_{uuid.uuid4().hex[:12]}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": intent},
        }
    )
    signature = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    # Through the Stripe proxy, as localstripe's own webhooks: this delivery is an injection point too.
    webhook_url = flow.api.get("/_local/faults").json()["stripe_webhook_url"]
    for _ in range(CLIENT_ATTEMPTS):  # Stripe retries until it gets a 2xx
        response = httpx.post(
            webhook_url,
            content=payload.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        )
        if response.status_code < 300:
            break
        time.sleep(1)
    run.steps.append(f"late webhook {response.status_code}")


SCENARIOS: dict[str, Callable[[Flow, Run], None]] = {
    "deliver": deliver,
    "cancel": cancel,
    "return": return_all,
    "expiry": expiry,
    "late_payment": late_payment,
}
