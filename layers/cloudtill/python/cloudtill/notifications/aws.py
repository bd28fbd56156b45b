"""AWS adapters: SES v2 for e-mail, SNS for SMS. Clients are created on first use, once per process.

E-mails go out as raw MIME (multipart/alternative: text + HTML) so they can carry our own headers:
`List-Unsubscribe` on marketing mail and `X-Cloudtill-Event-Id` (what caused the message; the local
`GET /_local/emails` lists it). The configuration set routes bounces and complaints to SNS -> this
function; its message tags (event id, message) appear in those SES events too.
"""

from __future__ import annotations

import functools
import re
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from cloudtill.notifications.ports import Email

EVENT_ID_HEADER = "X-Cloudtill-Event-Id"
MESSAGE_HEADER = "X-Cloudtill-Message"
# SES message tag values: letters, digits, `_ - . @`; at most 256 characters.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


@functools.cache
def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Two attempts inside the invocation (throttling backs off); beyond that the SQS redelivery retries.
    config = Config(retries={"mode": "standard", "total_max_attempts": 2})
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def mime_message(email: Email, sender: str, sender_name: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    for name, value in email.headers.items():
        message[name] = value
    if "event_id" in email.tags:
        message[EVENT_ID_HEADER] = email.tags["event_id"]
    if "message" in email.tags:
        message[MESSAGE_HEADER] = email.tags["message"]
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message.as_bytes()


class SesMailer:
    def __init__(self, sender: str, configuration_set: str | None, sender_name: str | None = None) -> None:
        self._sender = sender
        self._sender_name = sender_name
        self._configuration_set = configuration_set

    def send(self, email: Email) -> str:
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Raw": {"Data": mime_message(email, self._sender, self._sender_name)}},
            "EmailTags": [
                {"Name": name, "Value": _TAG_UNSAFE.sub("_", value)[:256]}
                for name, value in sorted(email.tags.items())
            ],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return str(_client("sesv2").send_email(**request)["MessageId"])


class SnsSmsSender:
    def __init__(self, sender_id: str | None = None) -> None:
        self._sender_id = sender_id

    def send(self, phone: str, text: str) -> str:
        attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
        }
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sender_id}
        normalised = re.sub(r"[^0-9+]", "", phone)
        response = _client("sns").publish(PhoneNumber=normalised, Message=text, MessageAttributes=attributes)
        return str(response["MessageId"])
