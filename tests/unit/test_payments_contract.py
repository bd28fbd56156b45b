"""Contract: Stripe's published example objects (fixtures3.json) parse through our models.

If Stripe's shapes drift from what the webhook logic reads, this fails before production does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cloudtill.payments.stripe_objects import Charge, Dispute, Event, PaymentIntent, Refund

ROOT = Path(__file__).resolve().parents[2]
# Stripe's published fixtures (stripe/openapi, fixtures3.json) live next to the repository, in the
# `shared/` directory beside its root; CLOUDTILL_SHARED names that directory when it is elsewhere.
SHARED = Path(os.environ.get("CLOUDTILL_SHARED") or ROOT.parent / "shared")
FIXTURES = SHARED / "reference" / "stripe" / "fixtures3.json"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    if not FIXTURES.exists():
        pytest.fail(
            f"{FIXTURES} is missing: Stripe's fixtures3.json belongs in ../shared/reference/stripe/ next to "
            "the repository (or set CLOUDTILL_SHARED to the directory holding reference/stripe/)"
        )
    return json.loads(FIXTURES.read_text())["resources"]


def test_payment_intent_parses(resources: dict[str, Any]) -> None:
    raw = resources["payment_intent"]
    intent = PaymentIntent.model_validate(raw)
    assert (intent.id, intent.amount, intent.currency, intent.status) == (
        raw["id"],
        raw["amount"],
        raw["currency"],
        raw["status"],
    )
    assert intent.received == raw["amount_received"]
    assert intent.latest_charge_id is None


def test_charge_parses_with_its_refund_list(resources: dict[str, Any]) -> None:
    raw = resources["charge"]
    charge = Charge.model_validate(raw)
    assert (charge.id, charge.amount, charge.amount_refunded) == (
        raw["id"],
        raw["amount"],
        raw["amount_refunded"],
    )
    assert charge.refunds is not None and charge.refunds.data == []
    assert charge.payment_intent_id == raw["payment_intent"]


def test_refund_parses(resources: dict[str, Any]) -> None:
    raw = resources["refund"]
    refund = Refund.model_validate(raw)
    assert (refund.id, refund.amount, refund.charge, refund.status) == (
        raw["id"],
        raw["amount"],
        raw["charge"],
        raw["status"],
    )


def test_dispute_parses(resources: dict[str, Any]) -> None:
    raw = resources["dispute"]
    dispute = Dispute.model_validate(raw)
    assert (dispute.id, dispute.amount, dispute.charge_id) == (raw["id"], raw["amount"], raw["charge"])


def test_event_envelope_parses_and_carries_the_object(resources: dict[str, Any]) -> None:
    raw = resources["event"]
    event = Event.model_validate(raw)
    assert (event.id, event.type, event.created) == (raw["id"], raw["type"], raw["created"])
    assert event.data.object == raw["data"]["object"]


@pytest.mark.parametrize(
    ("event_type", "resource", "model"),
    [
        ("payment_intent.succeeded", "payment_intent", PaymentIntent),
        ("charge.refunded", "charge", Charge),
        ("charge.dispute.created", "dispute", Dispute),
    ],
)
def test_events_of_handled_types_wrap_the_published_objects(
    resources: dict[str, Any], event_type: str, resource: str, model: type[Any]
) -> None:
    envelope = {**resources["event"], "type": event_type, "data": {"object": resources[resource]}}
    event = Event.model_validate(envelope)
    assert model.model_validate(event.data.object).id == resources[resource]["id"]
