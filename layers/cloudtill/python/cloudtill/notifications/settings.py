"""The notifications function's own settings (the shop's sender/ops addresses are in ShopSettings)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from cloudtill.settings import EnvSettings


class NotificationSettings(EnvSettings):
    env_prefix: ClassVar[str] = "NOTIFICATIONS_"

    # The SES configuration set (bounce/complaint events -> SNS). None locally: moto has no use for it.
    ses_configuration_set: str | None = None
    # A `sending` claim older than this is taken over by a redelivery: the queue's visibility timeout.
    resend_after_seconds: int = Field(default=60, ge=1)
    sms_sender_id: str | None = None
    # The reports bucket (shared variable, no prefix): ReportReady e-mails link to the report in it.
    # None: the e-mail names the report's key instead of linking to it.
    reports_bucket: str | None = Field(default=None, validation_alias="REPORTS_BUCKET")
    # How long a report link works (at most; the signing credentials may end it sooner). 12 h: the
    # morning's e-mail still opens in the afternoon, and a forwarded link dies the same day.
    report_link_seconds: int = Field(default=12 * 3600, ge=60, le=7 * 24 * 3600)
