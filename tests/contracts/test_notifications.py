"""Contract of `cloudtill.notifications.ports.NotificationLog` (the two-phase send guard) and
`Suppressions`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cloudtill.notifications.dynamo import DynamoNotificationLog, DynamoSuppressions
from cloudtill.notifications.ports import ClaimResult, NotificationLog, Suppressions

from tests.contracts.conftest import Backend
from tests.fakes import FixedClock, InMemoryNotificationLog, InMemorySuppressions

RESEND_AFTER = timedelta(seconds=60)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def log(backend: Backend, clock: FixedClock) -> NotificationLog:
    if backend.fake:
        return InMemoryNotificationLog(clock, RESEND_AFTER)  # type: ignore[return-value]
    return DynamoNotificationLog(backend.table, clock, RESEND_AFTER)


def claim(log: NotificationLog, event_id: str = "evt_1") -> ClaimResult:
    return log.claim(event_id, "r" * 64, "order_confirmed", "email")


def test_the_first_delivery_claims_the_send(log: NotificationLog) -> None:
    assert claim(log) == ClaimResult(True, "sending", 1)
    assert claim(log, "evt_2") == ClaimResult(True, "sending", 1)  # another event: its own record


def test_a_delivery_while_another_is_sending_does_not_send(log: NotificationLog, clock: FixedClock) -> None:
    claim(log)
    clock.advance(RESEND_AFTER.total_seconds() - 1)
    assert claim(log) == ClaimResult(False, "sending", 1)


def test_a_claim_left_sending_past_the_resend_delay_is_taken_again(
    log: NotificationLog, clock: FixedClock
) -> None:
    claim(log)
    clock.advance(RESEND_AFTER.total_seconds() + 1)
    assert claim(log) == ClaimResult(True, "sending", 2)


@pytest.mark.parametrize("final", ["sent", "suppressed", "no_consent"])
def test_a_final_record_never_sends_again(log: NotificationLog, clock: FixedClock, final: str) -> None:
    claim(log)
    log.finish("evt_1", "r" * 64, final, {"provider_id": "msg-1"} if final == "sent" else {})
    clock.advance(3600)
    assert claim(log) == ClaimResult(False, final, 1)


def test_a_failed_send_is_claimed_again(log: NotificationLog) -> None:
    claim(log)
    log.finish("evt_1", "r" * 64, "failed", {"error": "throttled"})
    assert claim(log) == ClaimResult(True, "sending", 2)


@pytest.fixture
def suppressions(backend: Backend, clock: FixedClock) -> Suppressions:
    if backend.fake:
        return InMemorySuppressions()
    return DynamoSuppressions(backend.table, clock)


def test_a_suppressed_address_is_suppressed_in_any_case_and_spacing(suppressions: Suppressions) -> None:
    assert not suppressions.is_suppressed("shopper@example.com")
    suppressions.suppress("Shopper@Example.com ", "bounce", "fb_1")
    suppressions.suppress("shopper@example.com", "complaint", "fb_2")  # idempotent
    assert suppressions.is_suppressed("shopper@example.com")
    assert suppressions.is_suppressed(" SHOPPER@example.COM")
    assert not suppressions.is_suppressed("other@example.com")


@pytest.mark.parametrize("before", ["sending", "failed"])
def test_ses_confirming_the_send_makes_the_record_sent(log: NotificationLog, before: str) -> None:
    claim(log)
    if before == "failed":
        log.finish("evt_1", "r" * 64, "failed", {"error": "ReadTimeoutError"})

    assert log.confirm_sent("evt_1", "r" * 64, "ses-1") is True
    assert claim(log) == ClaimResult(False, "sent", 1)
    # The sender's own `sent` after the confirmation: no error, the record stays sent.
    if before == "sending":
        log.finish("evt_1", "r" * 64, "sent", {"provider_message_id": "ses-1"})
        assert claim(log) == ClaimResult(False, "sent", 1)


@pytest.mark.parametrize("final", ["sent", "suppressed", "no_consent"])
def test_a_confirmation_never_changes_a_final_record(log: NotificationLog, final: str) -> None:
    claim(log)
    log.finish("evt_1", "r" * 64, final, {})

    assert log.confirm_sent("evt_1", "r" * 64, "ses-1") is False
    assert claim(log) == ClaimResult(False, final, 1)
    assert log.confirm_sent("evt_unknown", "r" * 64, "ses-2") is False  # no record: nothing made up
