"""SES locally: the sender identity verified at startup (moto refuses unverified senders), sent e-mails
listed at `GET /_local/emails`, SES faults injected at `POST /_local/faults/ses`, and SES feedback
delivered to the SES feedback function as the configuration set's SNS topic does in AWS: a Send event
for every send moto accepts through `CONFIGURATION_SET` (asynchronously, with Lambda's two retries of
an asynchronous invocation), and a bounce/complaint on `POST /_local/ses/feedback`.

moto's SES v2 ignores configuration sets and message tags, so the set's event destination is ours:
the wiring's `EMAIL_FEEDBACK_EVENTS`, as in the stack.

moto runs in this process (localrt.emulator), so its SES backend is read and patched in-process. Local
only: nothing here is deployed.
"""

from __future__ import annotations

import email
import email.policy
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import SESBackend, ses_backends
from moto.sesv2.responses import SESV2Response

from infra.wiring import EMAIL_FEEDBACK_EVENTS, EMAIL_FEEDBACK_FUNCTION
from localrt.emulator import REGION, AwsEmulator
from localrt.functions import FunctionPool, InvocationError
from localrt.gateway import Gateway, LocalRequest, LocalResponse, json_response

EVENT_ID_HEADER = "X-Cloudtill-Event-Id"  # set by cloudtill.notifications.aws
MESSAGE_HEADER = "X-Cloudtill-Message"
NOTIFICATIONS_FUNCTION = EMAIL_FEEDBACK_FUNCTION  # the SNS-fed `topic` function of the wiring
# The configuration set the sending functions are told to use (their NOTIFICATIONS_SES_CONFIGURATION_SET).
CONFIGURATION_SET = "cloudtill-local"
FEEDBACK_TOPIC_ARN = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:cloudtill-ses-feedback"
# Lambda's asynchronous invocation (SNS -> Lambda): the first try, then two retries (1 and 2 minutes
# apart in AWS; seconds here).
ASYNC_RETRY_DELAYS_S = (0.0, 1.0, 2.0)


class SesFaults:
    """Makes moto's SES fail the next N sends (or all), optionally only to one recipient."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fail_next = 0
        self.fail_always = False
        self.recipient: str | None = None
        self.error = "TooManyRequestsException"
        self.injected = 0

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.fail_next = int(body.get("fail_next", 0))
            self.fail_always = bool(body.get("fail_always", False))
            self.recipient = (body.get("recipient") or "").lower() or None
            self.error = str(body.get("error", "TooManyRequestsException"))
            return self.state()

    def state(self) -> dict[str, Any]:
        return {
            "fail_next": self.fail_next,
            "fail_always": self.fail_always,
            "recipient": self.recipient,
            "error": self.error,
            "injected": self.injected,
        }

    def check(self, destinations: list[str]) -> None:
        with self._lock:
            wanted = self.recipient is None or any(self.recipient in d.lower() for d in destinations)
            if not wanted or not (self.fail_always or self.fail_next > 0):
                return
            if not self.fail_always:
                self.fail_next -= 1
            self.injected += 1
        error = JsonRESTError(self.error, "Injected by localrt (POST /_local/faults/ses)")
        error.code = 429 if self.error == "TooManyRequestsException" else 400
        raise error


def _patch_send(faults: SesFaults) -> None:
    """moto's SES v2 `SendEmail` with raw content (what cloudtill sends) ends in `send_raw_email`."""
    original: Callable[..., Any] = getattr(SESBackend.send_raw_email, "_cloudtill_original", None) or (
        SESBackend.send_raw_email
    )

    @functools.wraps(original)
    def send_raw_email(self: SESBackend, source: str, destinations: list[str], raw_data: str) -> Any:
        headers = email.message_from_string(raw_data)
        to = [a for _, a in getaddresses([headers.get("To", "")])]
        faults.check(list(destinations) + to)
        return original(self, source, destinations, raw_data)

    send_raw_email._cloudtill_original = original  # type: ignore[attr-defined]
    SESBackend.send_raw_email = send_raw_email  # type: ignore[method-assign]


def _patch_send_events(on_send: Callable[[dict[str, Any], str], None]) -> None:
    """After moto's SES v2 `SendEmail` accepted a message: `on_send(request, message_id)`."""
    original: Callable[..., str] = getattr(SESV2Response.send_email, "_cloudtill_original", None) or (
        SESV2Response.send_email
    )

    @functools.wraps(original)
    def send_email(self: SESV2Response) -> str:
        answer = original(self)  # raises when SES refuses: then no event, as in AWS
        on_send(json.loads(self.body), str(json.loads(answer)["MessageId"]))
        return answer

    send_email._cloudtill_original = original  # type: ignore[attr-defined]
    SESV2Response.send_email = send_email  # type: ignore[method-assign]


_DESTINATION_FIELDS = ("ToAddresses", "CcAddresses", "BccAddresses")


def send_event(request: dict[str, Any], message_id: str) -> dict[str, Any]:
    """SES's event-publishing record of an accepted send (`eventType: Send`), tags as SES lists them."""
    tags: dict[str, list[str]] = {"ses:configuration-set": [str(request.get("ConfigurationSetName"))]}
    for tag in request.get("EmailTags") or []:
        tags[str(tag["Name"])] = [str(tag["Value"])]
    destination = request.get("Destination") or {}
    return {
        "eventType": "Send",
        "mail": {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "source": request.get("FromEmailAddress"),
            "sendingAccountId": DEFAULT_ACCOUNT_ID,
            "messageId": message_id,
            "destination": [a for field in _DESTINATION_FIELDS for a in destination.get(field, [])],
            "tags": tags,
        },
        "send": {},
    }


def sns_event(message: dict[str, Any]) -> dict[str, Any]:
    """What SNS hands a subscribed function for one published message."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": FEEDBACK_TOPIC_ARN,
                    "Message": json.dumps(message),
                },
            }
        ]
    }


def _bodies(message: Message) -> tuple[str | None, str | None]:
    text = html = None
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        charset = part.get_content_charset() or "utf-8"
        content = payload.decode(charset) if isinstance(payload, bytes) else None
        if part.get_content_type() == "text/plain" and text is None:
            text = content
        elif part.get_content_type() == "text/html" and html is None:
            html = content
    return text, html


def sent_emails() -> list[dict[str, Any]]:
    """Every e-mail moto's SES accepted, newest first."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    listed = []
    for sent in reversed(list(backend.sent_messages)):
        if hasattr(sent, "raw_data"):
            # The modern policy decodes headers: subjects read as sent, not MIME-encoded.
            parsed = email.message_from_string(sent.raw_data, policy=email.policy.default)
            text, html = _bodies(parsed)
            recipients = [a for _, a in getaddresses([parsed.get("To", "")])] or list(sent.destinations)
            listed.append(
                {
                    "id": sent.id,
                    "recipients": recipients,
                    "subject": str(parsed.get("Subject", "")),
                    "text": text,
                    "html": html,
                    "event_id": parsed.get(EVENT_ID_HEADER),
                    "message": parsed.get(MESSAGE_HEADER),
                    "headers": {k: str(v) for k, v in parsed.items()},
                }
            )
        else:  # a simple (non-raw) send by something else
            destinations = getattr(sent, "destinations", {}) or {}
            listed.append(
                {
                    "id": sent.id,
                    "recipients": [a for addresses in destinations.values() for a in addresses],
                    "subject": getattr(sent, "subject", None),
                    "text": getattr(sent, "body", None),
                    "html": None,
                    "event_id": None,
                    "message": None,
                    "headers": {},
                }
            )
    return listed


class LocalMail:
    def __init__(self, emulator: AwsEmulator, pools: dict[str, FunctionPool], sender_email: str) -> None:
        self._emulator = emulator
        self._pools = pools
        self._sender = sender_email
        self.faults = SesFaults()
        # Send events whose every delivery attempt failed (SNS's DLQ in AWS).
        self.undelivered: list[dict[str, Any]] = []

    def start(self) -> None:
        self._emulator.client("ses").verify_email_identity(EmailAddress=self._sender)
        _patch_send(self.faults)
        _patch_send_events(self._on_send)

    def _on_send(self, request: dict[str, Any], message_id: str) -> None:
        if request.get("ConfigurationSetName") != CONFIGURATION_SET or "SEND" not in EMAIL_FEEDBACK_EVENTS:
            return
        event = sns_event(send_event(request, message_id))
        # SNS invokes the function on its own time: never inside the sender's SendEmail.
        delivery = threading.Thread(target=self._deliver_async, args=(event,), name="ses-send", daemon=True)
        delivery.start()

    def _deliver_async(self, event: dict[str, Any]) -> None:
        errors: list[str] = []
        for delay in ASYNC_RETRY_DELAYS_S:
            time.sleep(delay)
            try:
                self._pools[NOTIFICATIONS_FUNCTION].invoke(event)
                return
            except Exception as error:  # a function error or a dead worker: Lambda retries, then the DLQ
                errors.append(str(error))
        self.undelivered.append({"event": event, "errors": errors})

    def add_local_routes(self, gateway: Gateway) -> None:
        gateway.add_local_route("GET", "/_local/emails", self._list)
        gateway.add_local_route("POST", "/_local/faults/ses", self._fault)
        gateway.add_local_route("POST", "/_local/ses/feedback", self._feedback)

    def _list(self, request: LocalRequest) -> LocalResponse:
        """`?recipient=` and `?event_id=` filter."""
        recipient = (request.query.get("recipient") or "").lower()
        event_id = request.query.get("event_id")
        items = [
            e
            for e in sent_emails()
            if (not recipient or recipient in [r.lower() for r in e["recipients"]])
            and (event_id is None or e["event_id"] == event_id)
        ]
        return json_response(200, {"items": items})

    def _fault(self, request: LocalRequest) -> LocalResponse:
        """`{"fail_next": N}` or `{"fail_always": true}`, optional `recipient`, `error`; `{}` clears."""
        return json_response(200, self.faults.configure(request.json()))

    def _feedback(self, request: LocalRequest) -> LocalResponse:
        """`{"type": "Bounce"|"Complaint", "recipients": [...]}` -> an SES event via SNS to the function."""
        body = request.json()
        kind = str(body.get("type", "Bounce"))
        recipients = [{"emailAddress": r} for r in body.get("recipients", [])]
        feedback_id = str(uuid.uuid4())
        detail: dict[str, Any]
        if kind == "Bounce":
            bounce = {"bounceType": "Permanent", "feedbackId": feedback_id, "bouncedRecipients": recipients}
            detail = {"bounce": bounce}
        else:
            detail = {"complaint": {"feedbackId": feedback_id, "complainedRecipients": recipients}}
        message = {"eventType": kind, "mail": {"source": self._sender}, **detail}
        try:
            result = self._pools[NOTIFICATIONS_FUNCTION].invoke(sns_event(message))
        except InvocationError as error:
            return json_response(502, {"detail": str(error)})
        return json_response(200, {"result": result})
