"""Notifications: bus rule -> SQS queue (+ DLQ) -> this function -> SES e-mail / SNS SMS.

Two entry points, one per trigger (two functions in the wiring):
- `queue_handler`, SQS records (EventBridge domain events): the batch's reads are done together (one
  BatchGetItem), then each record is handled on its own; a record whose messages could not all be sent
  is reported in `batchItemFailures`, so SQS delivers it again (after 3 receives: DLQ).
- `topic_handler`, SNS records (SES events via the configuration set's event destination): a Send
  marks the tagged notification record `sent`; bounced and complained addresses are put on the
  suppression list.

Logs carry event ids, message names and recipient hashes, never an address, and never a report link
(a presigned URL's signature is a credential).
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from babel import Locale
from cloudtill.batch import handle_sqs_batch
from cloudtill.clock import SystemClock
from cloudtill.notifications.aws import S3ReportLinks, SesMailer, SnsSmsSender
from cloudtill.notifications.dynamo import (
    DynamoContacts,
    DynamoNotificationLog,
    DynamoPrefetcher,
    DynamoSuppressions,
)
from cloudtill.notifications.feedback import record_feedback, record_sends
from cloudtill.notifications.incoming import IncomingEvent
from cloudtill.notifications.rendering import Renderer
from cloudtill.notifications.service import NotificationConfig, NotificationService
from cloudtill.notifications.settings import NotificationSettings
from cloudtill.observability import logger, metrics
from cloudtill.settings import get_settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

settings = get_settings()
notification_settings = NotificationSettings()


@functools.cache
def prefetcher() -> DynamoPrefetcher:
    return DynamoPrefetcher(settings.table_name)


@functools.cache
def suppressions() -> DynamoSuppressions:
    return DynamoSuppressions(settings.table_name, SystemClock(), prefetcher())


@functools.cache
def notification_log() -> DynamoNotificationLog:
    return DynamoNotificationLog(
        settings.table_name,
        SystemClock(),
        timedelta(seconds=notification_settings.resend_after_seconds),
        prefetcher(),
    )


@functools.cache
def service() -> NotificationService:
    shop = settings.shop_settings
    clock = SystemClock()
    return NotificationService(
        config=NotificationConfig(
            sender_email=shop.sender_email,
            ops_email=shop.ops_email,
            storefront_url=shop.storefront_url,
            shop_name=shop.shop_name,
        ),
        renderer=Renderer(
            TEMPLATES_DIR,
            shop.locale,
            {
                "name": shop.shop_name,
                "url": shop.storefront_url,
                "language": Locale.parse(shop.locale).language,
            },
            timezone=shop.timezone,
        ),
        mailer=SesMailer(shop.sender_email, notification_settings.ses_configuration_set, shop.shop_name),
        sms=SnsSmsSender(notification_settings.sms_sender_id),
        log=notification_log(),
        suppressions=suppressions(),
        contacts=DynamoContacts(settings.table_name, prefetcher()),
        prefetcher=prefetcher(),
        report_links=(
            S3ReportLinks(
                notification_settings.reports_bucket,
                timedelta(seconds=notification_settings.report_link_seconds),
                clock,
            )
            if notification_settings.reports_bucket
            else None
        ),
    )


def handle_queue_records(records: list[dict[str, Any]], notifications: NotificationService) -> dict[str, Any]:
    batch = handle_sqs_batch(records, IncomingEvent.model_validate_json, notifications.handle_batch)
    for handled in batch.handled:
        event = handled.value
        if isinstance(handled.outcome, Exception):
            logger.error(
                "notification failed; the queue redelivers it",
                extra={"event_id": event.event_id, "detail_type": event.detail_type},
                exc_info=handled.outcome,
            )
            metrics.add_metric(name="NotificationsFailed", unit="Count", value=1)
            continue
        for outcome in handled.outcome:
            logger.info(
                "notification",
                extra={
                    "event_id": event.event_id,
                    "detail_type": event.detail_type,
                    "notification": outcome.message,
                    "channel": outcome.channel,
                    "recipient_hash": outcome.recipient_hash,
                    "status": outcome.status,
                },
            )
            metrics.add_metric(name=f"Notifications_{outcome.status}", unit="Count", value=1)
    return batch.response()


@logger.inject_lambda_context
@metrics.log_metrics
def queue_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The `notifications` subscription's queue: domain events -> e-mails and SMS."""
    return handle_queue_records(event.get("Records", []), service())


@logger.inject_lambda_context
@metrics.log_metrics
def topic_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SES events (SNS): a Send confirms its notification record as `sent`; bounced and complained
    addresses go on the suppression list. SNS retries a failed invocation itself (then its DLQ):
    raising is the retry signal."""
    records = event.get("Records", [])
    confirmed = record_sends(records, notification_log())
    suppressed = record_feedback(records, suppressions())
    logger.info("SES feedback recorded", extra={"confirmed": confirmed, "suppressed": suppressed})
    metrics.add_metric(name="SendsConfirmed", unit="Count", value=confirmed)
    metrics.add_metric(name="AddressesSuppressed", unit="Count", value=suppressed)
    return {"confirmed": confirmed, "suppressed": suppressed}
