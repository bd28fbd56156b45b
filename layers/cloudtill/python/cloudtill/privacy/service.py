"""Export and erasure rules. No AWS here: the records come through the `CustomerRecords` port."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

from cloudtill.clock import Clock, iso
from cloudtill.outbox import DomainEvent
from cloudtill.privacy.api import CustomerExport, ErasureOut
from cloudtill.privacy.ports import CustomerRecords
from cloudtill.privacy.records import ErasureRecord

ERASED = "erased"
ERASED_EMAIL = "erased@erased.invalid"  # `.invalid` is reserved (RFC 2606): never deliverable
# Personal fields of a stored address; `country` stays (it decided the tax charged: a financial fact).
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code")
# Never part of an export: keys, hashes, secrets, workflow tokens, housekeeping.
_INTERNAL = {"PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "token_hash", "email_hash", "ttl"}
_SECRET_SUFFIXES = ("_token", "client_secret")


def customer_hash(email: str) -> str:
    """The hash under which checkouts and orders index a customer (same normalisation as checkout)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def redacted_address(address: dict[str, Any] | None) -> dict[str, Any]:
    kept = {"country": address["country"]} if address and "country" in address else {}
    return {**{f: ERASED for f in ADDRESS_FIELDS if f != "line2"}, **kept}


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _public(v)
            for k, v in value.items()
            if k not in _INTERNAL and not any(k.endswith(s) for s in _SECRET_SUFFIXES)
        }
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def _payment_references(record: dict[str, Any]) -> list[dict[str, Any]]:
    refs = []
    payment = record.get("payment")
    if isinstance(payment, dict) and payment.get("payment_intent_id"):
        refs.append(
            {
                "checkout_id": record.get("id"),
                "provider": payment.get("provider", "stripe"),
                "payment_intent_id": payment["payment_intent_id"],
                "status": payment.get("status"),
            }
        )
    if record.get("entity") == "order" and record.get("payment_intent_id"):
        refs.append({"order_id": record.get("id"), "payment_intent_id": record["payment_intent_id"]})
    return refs


class PrivacyService:
    def __init__(self, records: CustomerRecords, clock: Clock) -> None:
        self._records = records
        self._clock = clock

    def export(self, email: str) -> CustomerExport:
        hashed = customer_hash(email)
        records = self._records.records(hashed)
        by_entity: dict[str, list[dict[str, Any]]] = {"checkout": [], "order": [], "notification": []}
        for record in records:
            by_entity.setdefault(str(record.get("entity")), []).append(_public(record))
        return CustomerExport(
            email=email.strip().lower(),
            erased_at=self._records.erased_at(hashed),
            checkouts=by_entity["checkout"],
            orders=by_entity["order"],
            payments=[ref for record in records for ref in _payment_references(record)],
            notifications=by_entity["notification"],
            suppressed=self._records.suppressed(hashed),
        )

    def erase(self, email: str) -> ErasureOut:
        hashed = customer_hash(email)
        records = self._records.records(hashed)
        previously = self._records.erased_at(hashed)
        if previously is not None and not records:
            return ErasureOut(
                erased_at=previously, already_erased=True, checkouts=0, orders=0, notifications=0
            )
        now = self._clock.now()
        counts = {
            kind: [r["id"] for r in records if r.get("entity") == kind and "id" in r]
            for kind in ("checkout", "order")
        }
        notifications = sum(1 for r in records if r.get("entity") == "notification")
        # The event names no one: consumers holding copies (mailing lists, CRM) match on the hash.
        erasure = ErasureRecord(hashed, iso(now), counts["checkout"], counts["order"], notifications)
        event = DomainEvent(detail_type="CustomerErased", domain="privacy", detail=asdict(erasure), time=now)
        self._records.erase(hashed, records, iso(now), event)
        return ErasureOut(
            erased_at=iso(now),
            already_erased=False,
            checkouts=len(counts["checkout"]),
            orders=len(counts["order"]),
            notifications=notifications,
        )
