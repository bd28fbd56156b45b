"""AWS adapters: SES v2 for e-mail, SNS for SMS, S3 presigned links to reports. Clients are created on
first use, once per process.

E-mails go out as raw MIME (multipart/alternative: text + HTML) so they can carry our own headers:
`List-Unsubscribe` on marketing mail and `X-Cloudtill-Event-Id` (what caused the message; the local
`GET /_local/emails` lists it). The configuration set routes bounces and complaints to SNS -> this
function; its message tags (event id, message) appear in those SES events too.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from cloudtill.clock import Clock
from cloudtill.notifications.ports import Email, ReportLink

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


# SigV4 presigned URLs live at most 7 days; the signer's own credentials usually end far sooner.
MAX_LINK_LIFETIME = timedelta(days=7)


@functools.cache
def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    # SigV4 explicitly: the only signature S3 accepts in every region (and the one moto checks locally).
    return boto3.client("s3", config=Config(signature_version="s3v4"))  # type: ignore[call-overload]


def _credentials_expiry(client: Any) -> datetime | None:
    """When the credentials that sign expire, if botocore knows (refreshable credentials: assumed roles,
    instance/container metadata). Lambda's role credentials come as plain environment variables with no
    expiry attached: then None, and the link may stop working before its own expiry."""
    credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    if credentials is None:
        return None
    # Refreshes credentials that are about to expire, as the signing would: the expiry read is theirs.
    credentials.get_frozen_credentials()
    expiry = getattr(credentials, "_expiry_time", None)
    return expiry if isinstance(expiry, datetime) else None


class S3ReportLinks:
    """Presigned GETs of report files: computed locally from the function's credentials (no API call).
    The function needs `s3:GetObject` on the object itself: S3 checks the signer's permissions when the
    link is used, not when it is made."""

    def __init__(self, bucket: str, lifetime: timedelta, clock: Clock, client: Any | None = None) -> None:
        self._bucket = bucket
        self._lifetime = min(lifetime, MAX_LINK_LIFETIME)
        self._clock = clock
        self._client = client

    def link(self, key: str) -> ReportLink:
        client = self._client or _s3_client()
        now = self._clock.now()
        lifetime = self._lifetime
        credentials_end = _credentials_expiry(client)
        if credentials_end is not None:
            # A URL signed with temporary credentials dies with them: never promise more than they last.
            lifetime = min(lifetime, credentials_end - now)
        seconds = max(int(lifetime.total_seconds()), 1)
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=seconds
        )
        return ReportLink(url=str(url), expires_at=now + timedelta(seconds=seconds))
