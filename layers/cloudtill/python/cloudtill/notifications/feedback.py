"""SES feedback: sends, bounces and complaints (configuration-set event publishing -> SNS -> this
function).

A Send event (SES accepted the message) marks the notification record named by the message's
`notification` tag `sent`: a sender that died between SES's answer and writing `sent` leaves a claim
that a redelivery would take over, and the record being final stops it sending a second e-mail.

A permanent bounce or any complaint puts the address on the suppression list; later sends to it are
recorded as `suppressed` instead of sent (a transient bounce, e.g. a full mailbox, suppresses nothing).
Both SES formats are read: event publishing (`eventType`) and identity notifications
(`notificationType`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cloudtill.notifications.ports import (
    NOTIFICATION_TAG,
    NotificationLog,
    Suppressions,
    parse_notification_tag,
)


@dataclass(frozen=True)
class Feedback:
    kind: str  # bounce | complaint
    addresses: tuple[str, ...]
    feedback_id: str


def parse_feedback(message: dict[str, Any]) -> Feedback | None:
    """The addresses an SES notification says must not be mailed again, or None if none must."""
    kind = str(message.get("eventType") or message.get("notificationType") or "").lower()
    if kind == "bounce":
        bounce = message.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return None
        recipients = bounce.get("bouncedRecipients") or []
        feedback_id = str(bounce.get("feedbackId") or "")
    elif kind == "complaint":
        complaint = message.get("complaint") or {}
        recipients = complaint.get("complainedRecipients") or []
        feedback_id = str(complaint.get("feedbackId") or "")
    else:
        return None
    addresses = tuple(str(r["emailAddress"]) for r in recipients if r.get("emailAddress"))
    return Feedback(kind, addresses, feedback_id) if addresses else None


def record_feedback(sns_records: list[dict[str, Any]], suppressions: Suppressions) -> int:
    """Suppresses every address the SNS-delivered SES notifications report; returns how many."""
    suppressed = 0
    for record in sns_records:
        feedback = parse_feedback(json.loads(record["Sns"]["Message"]))
        if feedback is None:
            continue
        for address in feedback.addresses:
            suppressions.suppress(address, feedback.kind, feedback.feedback_id)
            suppressed += 1
    return suppressed


@dataclass(frozen=True)
class SendConfirmation:
    event_id: str
    recipient: str  # the recipient hash of the notification record
    provider_message_id: str


def parse_send(message: dict[str, Any]) -> SendConfirmation | None:
    """The notification record an SES Send event confirms, or None (another event, or no/bad tag)."""
    if str(message.get("eventType") or "").lower() != "send":
        return None
    mail = message.get("mail") or {}
    values = (mail.get("tags") or {}).get(NOTIFICATION_TAG) or []
    message_id = str(mail.get("messageId") or "")
    record = parse_notification_tag(str(values[0])) if values and message_id else None
    return SendConfirmation(record[0], record[1], message_id) if record else None


def record_sends(sns_records: list[dict[str, Any]], log: NotificationLog) -> int:
    """Marks `sent` every record the SNS-delivered Send events confirm; returns how many changed."""
    confirmed = 0
    for record in sns_records:
        send = parse_send(json.loads(record["Sns"]["Message"]))
        if send is not None and log.confirm_sent(send.event_id, send.recipient, send.provider_message_id):
            confirmed += 1
    return confirmed
