"""ReportReady e-mails link to the report: notifications signs the link when it sends (the event carries
only the key), the text and HTML show it (escaped in HTML) with the moment it stops working, and the
S3 adapter never promises a link longer than the credentials that sign it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from cloudtill.notifications.aws import S3ReportLinks
from cloudtill.notifications.incoming import IncomingEvent
from cloudtill.notifications.ports import ReportLink
from cloudtill.notifications.rendering import Renderer, format_moment
from cloudtill.notifications.service import NotificationConfig, NotificationService
from cloudtill.notifications.settings import NotificationSettings

from tests.fakes import (
    FakeMailer,
    FakeSmsSender,
    FixedClock,
    InMemoryContacts,
    InMemoryNotificationLog,
    InMemorySuppressions,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "functions" / "notifications" / "templates"
SAMPLE = json.loads((ROOT / "events" / "samples" / "ReportReady.json").read_text())
HTML_KEY = SAMPLE["detail"]["html_key"]
# A presigned URL has `&` between its parameters; `<"` would break out of the attribute if unescaped.
SIGNATURE = "0123456789abcdef" * 4
URL = (
    "https://reports.example/cloudtill-reports/reports/2026/07/15/report.html"
    f'?X-Amz-Expires=43200&X-Amz-Signature={SIGNATURE}&x=<"'
)
NOW = datetime(2026, 7, 16, 1, 0, tzinfo=UTC)


class FakeReportLinks:
    def __init__(self) -> None:
        self.signed: list[str] = []

    def link(self, key: str) -> ReportLink:
        self.signed.append(key)
        return ReportLink(url=URL, expires_at=NOW + timedelta(hours=12))


def service(links: FakeReportLinks | None) -> tuple[NotificationService, FakeMailer]:
    clock = FixedClock(NOW)
    mailer = FakeMailer()
    notifications = NotificationService(
        config=NotificationConfig(
            sender_email="shop@example.com",
            ops_email="ops@example.com",
            storefront_url="https://shop.example",
            shop_name="Demo",
        ),
        renderer=Renderer(
            TEMPLATES,
            "en_IE",
            {"name": "Demo", "url": "https://shop.example", "language": "en"},
            timezone="Europe/Dublin",
        ),
        mailer=mailer,
        sms=FakeSmsSender(),
        log=InMemoryNotificationLog(clock, timedelta(seconds=60)),
        suppressions=InMemorySuppressions(),
        contacts=InMemoryContacts(),
        report_links=links,
    )
    return notifications, mailer


def report_ready(event_id: str = "rep-1") -> IncomingEvent:
    return IncomingEvent.model_validate(
        {
            "id": f"bus-{event_id}",
            "detail-type": "ReportReady",
            "source": "cloudtill.reporting",
            "detail": {**SAMPLE["detail"], "event_id": event_id},
        }
    )


def test_the_email_links_to_the_report_html_in_text_and_html_with_its_expiry() -> None:
    links = FakeReportLinks()
    notifications, mailer = service(links)

    notifications.handle(report_ready())

    # The link is signed for the HTML report the event names (the event itself carries no URL)
    assert links.signed == [HTML_KEY]
    [sent] = mailer.sent
    expiry = "16 Jul 2026, 14:00:00 (Europe/Dublin)"  # 13:00 UTC, Irish summer time
    assert format_moment(NOW + timedelta(hours=12), "Europe/Dublin", "en_IE") == expiry
    # Text: the URL verbatim on its own line, when it stops working, and the key for afterwards
    assert f"\n{URL}\n" in sent.text
    assert f"the link works until {expiry}" in sent.text
    assert HTML_KEY in sent.text
    # HTML: the URL escaped inside the href (`&` -> `&amp;`, nothing breaks out of the attribute)
    escaped = URL.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&#34;")
    assert f'<a href="{escaped}">Open the full report</a>' in sent.html
    assert URL not in sent.html and '<"' not in sent.html
    assert f"the link works until {expiry}" in sent.html
    assert HTML_KEY in sent.html
    assert "Total sales: €84.95" in sent.text


def test_the_email_links_the_weekly_and_monthly_reports_too() -> None:
    links = FakeReportLinks()
    notifications, mailer = service(links)
    week = {"label": "2026-W29", "json": "reports/weekly/2026-W29/report.json"}
    month = {"label": "2026-07", "json": "reports/monthly/2026-07/report.json"}
    week["html"], month["html"] = "reports/weekly/2026-W29/report.html", "reports/monthly/2026-07/report.html"
    event = report_ready()
    event.detail["periods"] = {"week": week, "month": month}

    notifications.handle(event)

    # Each is signed when the e-mail is sent, as the day's report is
    assert links.signed == [HTML_KEY, week["html"], month["html"]]
    [sent] = mailer.sent
    assert "Week 2026-W29 to date" in sent.text and "Month 2026-07 to date" in sent.text
    assert sent.text.count(f"\n{URL}\n") == 3
    assert "Week 2026-W29 to date" in sent.html
    assert "Gross margin: €" in sent.text


def test_without_a_reports_bucket_the_email_names_the_key() -> None:
    notifications, mailer = service(None)

    notifications.handle(report_ready())

    [sent] = mailer.sent
    assert f"Full report: {HTML_KEY} in the reports bucket" in sent.text
    assert "http" not in sent.text.split("Full report:")[1]


def test_a_redelivered_event_is_not_sent_again() -> None:
    links = FakeReportLinks()
    notifications, mailer = service(links)

    notifications.handle(report_ready())
    assert [o.status for o in notifications.handle(report_ready())] == ["duplicate"]

    assert len(mailer.sent) == 1


def test_a_report_link_never_shows_its_url_in_a_repr() -> None:
    # Reprs end up in tracebacks and debug logs; the URL's signature is a credential.
    link = ReportLink(url=URL, expires_at=NOW)
    assert SIGNATURE not in repr(link) and "X-Amz" not in repr(link)


# -- the S3 adapter --------------------------------------------------------------------------------


class _Credentials:
    def __init__(self, expiry: datetime | None) -> None:
        if expiry is not None:
            self._expiry_time = expiry
        self.frozen = 0

    def get_frozen_credentials(self) -> None:
        self.frozen += 1


class _Signer:
    def __init__(self, credentials: _Credentials) -> None:
        self._credentials = credentials


class StubS3:
    """Only what S3ReportLinks uses of a boto3 S3 client (presigning is local: no call is made)."""

    def __init__(self, credentials_expiry: datetime | None) -> None:
        self._request_signer = _Signer(_Credentials(credentials_expiry))
        self.requests: list[dict[str, Any]] = []

    def generate_presigned_url(self, operation: str, Params: dict[str, str], ExpiresIn: int) -> str:  # noqa: N803
        self.requests.append({"operation": operation, **Params, "ExpiresIn": ExpiresIn})
        return f"https://s3.example/{Params['Bucket']}/{Params['Key']}?X-Amz-Expires={ExpiresIn}"


@pytest.mark.parametrize(
    ("credentials_expiry", "expected_seconds"),
    [
        (None, 12 * 3600),  # Lambda: plain environment credentials, expiry unknown
        (NOW + timedelta(days=1), 12 * 3600),  # credentials outlive the link
        (NOW + timedelta(hours=5), 5 * 3600),  # the link would outlive them: capped
    ],
)
def test_s3_links_are_a_get_of_the_key_capped_by_the_credentials(
    credentials_expiry: datetime | None, expected_seconds: int
) -> None:
    client = StubS3(credentials_expiry)
    links = S3ReportLinks("cloudtill-reports", timedelta(hours=12), FixedClock(NOW), client)

    link = links.link(HTML_KEY)

    assert client.requests == [
        {
            "operation": "get_object",
            "Bucket": "cloudtill-reports",
            "Key": HTML_KEY,
            "ExpiresIn": expected_seconds,
        }
    ]
    assert link.expires_at == NOW + timedelta(seconds=expected_seconds)
    assert parse_qs(urlsplit(link.url).query)["X-Amz-Expires"] == [str(expected_seconds)]


def test_s3_links_never_exceed_what_sigv4_allows() -> None:
    client = StubS3(None)
    S3ReportLinks("b", timedelta(days=30), FixedClock(NOW), client).link(HTML_KEY)
    assert client.requests[0]["ExpiresIn"] == 7 * 24 * 3600


def test_a_real_boto3_client_presigns_without_a_request() -> None:
    # Network is blocked in unit tests: presigning is a local computation from the credentials.
    client = boto3.client(
        "s3",
        region_name="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(signature_version="s3v4"),
    )
    link = S3ReportLinks("cloudtill-reports", timedelta(hours=12), FixedClock(NOW), client).link(HTML_KEY)

    query = parse_qs(urlsplit(link.url).query)
    assert urlsplit(link.url).path.endswith("/reports/2026/07/15/report.html")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["43200"]
    assert len(query["X-Amz-Signature"][0]) == 64


def test_the_settings_read_the_shared_reports_bucket_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTS_BUCKET", "cloudtill-reports")
    monkeypatch.setenv("NOTIFICATIONS_REPORT_LINK_SECONDS", "3600")
    settings = NotificationSettings()
    assert settings.reports_bucket == "cloudtill-reports" and settings.report_link_seconds == 3600
    monkeypatch.delenv("REPORTS_BUCKET")
    assert NotificationSettings().reports_bucket is None
