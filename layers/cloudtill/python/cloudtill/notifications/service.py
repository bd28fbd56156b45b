"""Who gets which message for an event, and sending each one exactly once per (event, recipient).

Per recipient the service follows a two-phase record (`NotificationLog`):

1. claim: the record becomes `sending` unless it is final (`sent`, `suppressed`, `no_consent`) or
   another delivery claimed it less than `resend_after` ago;
2. checks: marketing without recorded consent -> `no_consent`; a suppressed address -> `suppressed`;
3. send, then `sent` with the provider's message id; a failed send -> `failed` and the error is raised,
   so the SQS record fails in the batch response and is delivered again (after 3 receives: the DLQ).

`handle_batch` reads what a whole SQS batch needs first (checkouts, orders, suppression entries, the
existing records) through the `Prefetcher`: one round trip for the batch instead of one per read. A
record read as final skips its claim (a redelivered batch writes nothing); every other claim is still
the conditional write, which alone decides who sends.

Claiming *before* the send means a crash between the send and `sent` leaves a `sending` claim that a
redelivery takes over once stale; claiming *after* would lose the message on a failed send. Each e-mail
is tagged with its record, and SES's Send event (configuration set -> SNS -> feedback) marks the record
`sent` itself, so the redelivery finds it final. Only a Send event later than the resend window still
lets a second e-mail out (docs/notifications.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cloudtill.notifications import incoming
from cloudtill.notifications.deliveries import (
    MONEY_SUMMARY_FIELDS,
    OPS_EVENTS,
    Delivery,
    DeliveryFailed,
    DeliveryInProgress,
    NotificationConfig,
    Outcome,
    RecipientUnknown,
)
from cloudtill.notifications.ports import (
    FINAL_STATUSES,
    NOTIFICATION_TAG,
    Contact,
    Contacts,
    Email,
    Mailer,
    NoPrefetch,
    NotificationLog,
    Prefetcher,
    ReadAhead,
    ReportLinks,
    SmsSender,
    Suppressions,
    notification_tag,
    recipient_hash,
)
from cloudtill.notifications.rendering import Renderer
from cloudtill.privacy.service import ERASED_EMAIL


class NotificationService:
    def __init__(
        self,
        *,
        config: NotificationConfig,
        renderer: Renderer,
        mailer: Mailer,
        sms: SmsSender,
        log: NotificationLog,
        suppressions: Suppressions,
        contacts: Contacts,
        prefetcher: Prefetcher | None = None,
        report_links: ReportLinks | None = None,
    ) -> None:
        self._config = config
        self._report_links = report_links
        self._prefetcher: Prefetcher = prefetcher or NoPrefetch()
        self._renderer = renderer
        self._mailer = mailer
        self._sms = sms
        self._log = log
        self._suppressions = suppressions
        self._contacts = contacts
        self._planners: dict[str, Callable[[Any], list[Delivery]]] = {
            "OrderConfirmed": self._order_confirmed,
            "OrderShipped": self._order_shipped,
            "OrderDelivered": self._order_delivered,
            "OrderCancelled": self._order_cancelled,
            "PaymentFailed": self._payment_failed,
            "RefundIssued": self._refund_issued,
            "CheckoutExpired": self._checkout_expired,
            "StockLow": self._stock_low,
            "ReportReady": self._report_ready,
        }

    # -- entry point ---------------------------------------------------------------------------------

    def handle(self, event: incoming.IncomingEvent) -> list[Outcome]:
        """Sends what `event` calls for, each message once. Raises if any message must be retried."""
        (result,) = self.handle_batch([event])
        if isinstance(result, Exception):
            raise result
        return result

    def handle_batch(self, events: Sequence[incoming.IncomingEvent]) -> list[list[Outcome] | Exception]:
        """`handle` for each event, in order, with the reads of the whole batch done up front. Per event:
        its outcomes, or the exception that means it must be retried (the others are unaffected)."""
        try:
            details: list[Any | Exception] = [self._detail(event) for event in events]
            self._prefetcher.prefetch(self._known_reads(events, details))
            plans: list[list[Delivery] | Exception] = [
                self._plan(event, detail) for event, detail in zip(events, details, strict=True)
            ]
            # Addresses found only in checkouts/orders, and SMS recipients: a second read, if any.
            self._prefetcher.prefetch(self._delivery_reads(events, plans))
            return [
                plan if isinstance(plan, Exception) else self._deliver_all(event.event_id, plan)
                for event, plan in zip(events, plans, strict=True)
            ]
        finally:
            self._prefetcher.forget()

    def _detail(self, event: incoming.IncomingEvent) -> Any | Exception | None:
        model = incoming.DETAIL_MODELS.get(event.detail_type)
        if model is None or event.detail_type not in self._planners:
            return None
        try:
            return model.model_validate({**event.detail, "event_id": event.event_id})
        except ValueError as error:  # an invalid detail fails its own record only
            return error

    def _plan(
        self, event: incoming.IncomingEvent, detail: Any | Exception | None
    ) -> list[Delivery] | Exception:
        if detail is None or isinstance(detail, Exception):
            return detail or []
        try:
            return self._planners[event.detail_type](detail)
        except Exception as error:  # e.g. RecipientUnknown: this record to the DLQ, not the batch
            return error

    def _known_reads(self, events: Sequence[incoming.IncomingEvent], details: Sequence[Any]) -> ReadAhead:
        """What planning and delivering will read, as far as the events tell before anything is read."""
        checkouts, orders, emails, records = set(), set(), set(), set()
        for event, detail in zip(events, details, strict=True):
            if detail is None or isinstance(detail, Exception):
                continue
            checkout_id = getattr(detail, "checkout_id", None)
            order_id = getattr(detail, "order_id", None)
            email = getattr(detail, "email", None)
            if event.detail_type in OPS_EVENTS:
                email = self._config.ops_email
            elif checkout_id:
                checkouts.add(checkout_id)
                if order_id and not email:
                    orders.add(order_id)
            if email:
                emails.add(email)
                records.add((event.event_id, recipient_hash("email", email)))
        return ReadAhead(frozenset(checkouts), frozenset(orders), frozenset(emails), frozenset(records))

    @staticmethod
    def _delivery_reads(
        events: Sequence[incoming.IncomingEvent], plans: Sequence[list[Delivery] | Exception]
    ) -> ReadAhead:
        emails, records = set(), set()
        for event, plan in zip(events, plans, strict=True):
            if isinstance(plan, Exception):
                continue
            for delivery in plan:
                if delivery.erased:
                    continue
                records.add((event.event_id, _hash(delivery)))
                if delivery.channel == "email":
                    emails.add(delivery.address)
        return ReadAhead(emails=frozenset(emails), records=frozenset(records))

    def _deliver_all(self, event_id: str, deliveries: list[Delivery]) -> list[Outcome] | Exception:
        outcomes: list[Outcome] = []
        errors: list[Exception] = []
        for delivery in deliveries:
            try:
                outcomes.append(self._deliver(event_id, delivery))
            except Exception as error:  # every message gets its chance; reported below
                errors.append(error)
                outcomes.append(Outcome(delivery.message, delivery.channel, _hash(delivery), "failed"))
        if errors:
            failed = DeliveryFailed(f"{len(errors)} message(s) of event {event_id} failed")
            failed.__cause__ = errors[0]
            return failed
        return outcomes

    def _deliver(self, event_id: str, delivery: Delivery) -> Outcome:
        recipient = _hash(delivery)

        def outcome(status: str) -> Outcome:
            return Outcome(delivery.message, delivery.channel, recipient, status)

        if delivery.erased:
            # Not even a record: a notification record would be new data about an erased customer.
            return outcome("erased")
        claim = self._log.claim(event_id, recipient, delivery.message, delivery.channel)
        if not claim.proceed:
            if claim.status in FINAL_STATUSES:
                return outcome("duplicate")
            raise DeliveryInProgress(f"{delivery.message} for event {event_id} is being sent")
        if delivery.marketing and not delivery.consent:
            self._log.finish(event_id, recipient, "no_consent", {})
            return outcome("no_consent")
        if delivery.channel == "email" and self._suppressions.is_suppressed(delivery.address):
            self._log.finish(event_id, recipient, "suppressed", {})
            return outcome("suppressed")
        try:
            provider_id = self._send(event_id, delivery)
        except Exception as error:
            self._log.finish(event_id, recipient, "failed", {"error": type(error).__name__})
            raise
        self._log.finish(event_id, recipient, "sent", {"provider_message_id": provider_id})
        return outcome("sent")

    def _send(self, event_id: str, delivery: Delivery) -> str:
        rendered = self._renderer.render(delivery.message, delivery.context)
        if delivery.channel == "sms":
            assert rendered.sms is not None
            return self._sms.send(delivery.address, rendered.sms)
        headers = dict(self._config.extra_headers)
        if delivery.marketing:
            # RFC 2369/8058: mail clients show an unsubscribe button for marketing mail.
            headers["List-Unsubscribe"] = f"<{delivery.context['unsubscribe_url']}>"
        return self._mailer.send(
            Email(
                to=delivery.address,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                headers=headers,
                tags={
                    "event_id": event_id,
                    "message": delivery.message,
                    NOTIFICATION_TAG: notification_tag(event_id, _hash(delivery)),
                },
            )
        )

    # -- recipients and contexts ---------------------------------------------------------------------

    def _checkout_contact(self, checkout_id: str) -> Contact:
        contact = self._contacts.of_checkout(checkout_id)
        if contact is None:
            raise RecipientUnknown(f"checkout {checkout_id} not found")
        return contact

    def _customer(
        self,
        message: str,
        context: dict[str, Any],
        *,
        checkout_id: str,
        order_id: str | None = None,
        email: str | None = None,
        marketing: bool = False,
    ) -> list[Delivery]:
        """The shopper's e-mail (from the event, else the order, else the checkout) and, where the
        message has an SMS version, an SMS when the checkout has a phone and the shopper opted in."""
        contact = self._contacts.of_checkout(checkout_id)
        address = email or (self._contacts.email_of_order(order_id) if order_id else None)
        address = address or (contact.email if contact else None)
        if address is None:
            raise RecipientUnknown(f"no e-mail address for checkout {checkout_id}")
        if address == ERASED_EMAIL or (contact is not None and contact.email == ERASED_EMAIL):
            # Erased since (or before) the event was emitted: an event from before the erasure still
            # carries the real address, the erased checkout no longer does. Never the placeholder.
            return [Delivery(message, "email", ERASED_EMAIL, marketing, False, {}, erased=True)]
        consent = bool(contact and contact.marketing_consent)
        context = {
            **context,
            "checkout_id": checkout_id,
            "order_id": order_id,
            "order_url": f"{self._config.storefront_url}/orders/{order_id}" if order_id else None,
        }
        deliveries = [Delivery(message, "email", address, marketing, consent, context)]
        if contact and contact.phone and contact.marketing_consent and self._renderer.has_sms(message):
            deliveries.append(Delivery(message, "sms", contact.phone, marketing, consent, context))
        return deliveries

    def _ops(self, message: str, context: dict[str, Any]) -> list[Delivery]:
        return [Delivery(message, "email", self._config.ops_email, False, True, context)]

    def _order_confirmed(self, d: incoming.OrderConfirmed) -> list[Delivery]:
        context = {"order": d.model_dump(), "lines": [ln.model_dump() for ln in d.lines]}
        return self._customer(
            "order_confirmed", context, checkout_id=d.checkout_id, order_id=d.order_id, email=d.email
        )

    def _order_shipped(self, d: incoming.OrderShipped) -> list[Delivery]:
        context = {"shipment": d.model_dump()}
        return self._customer(
            "order_shipped", context, checkout_id=d.checkout_id, order_id=d.order_id, email=d.email
        )

    def _order_delivered(self, d: incoming.OrderDelivered) -> list[Delivery]:
        return self._customer(
            "order_delivered", {}, checkout_id=d.checkout_id, order_id=d.order_id, email=d.email
        )

    def _order_cancelled(self, d: incoming.OrderCancelled) -> list[Delivery]:
        context = {"cancellation": d.model_dump()}
        return self._customer(
            "order_cancelled", context, checkout_id=d.checkout_id, order_id=d.order_id, email=d.email
        )

    def _payment_failed(self, d: incoming.PaymentFailed) -> list[Delivery]:
        contact = self._checkout_contact(d.checkout_id)
        context = {
            "payment": d.model_dump(),
            "currency": contact.currency,
            "total": contact.total,
            "retry_url": f"{self._config.storefront_url}/checkout/{d.checkout_id}",
        }
        return self._customer("payment_failed", context, checkout_id=d.checkout_id, order_id=contact.order_id)

    def _refund_issued(self, d: incoming.RefundIssued) -> list[Delivery]:
        contact = self._checkout_contact(d.checkout_id)
        return self._customer(
            "refund_issued", {"refund": d.model_dump()}, checkout_id=d.checkout_id, order_id=contact.order_id
        )

    def _checkout_expired(self, d: incoming.CheckoutExpired) -> list[Delivery]:
        contact = self._checkout_contact(d.checkout_id)
        context = {
            "lines": [vars(line) for line in contact.lines],
            "currency": contact.currency,
            "total": contact.total,
            "shop_url": self._config.storefront_url,
            "unsubscribe_url": f"mailto:{self._config.sender_email}?subject=unsubscribe",
        }
        return self._customer("checkout_reminder", context, checkout_id=d.checkout_id, marketing=True)

    def _stock_low(self, d: incoming.StockLow) -> list[Delivery]:
        return self._ops("stock_low", {"stock": d.model_dump()})

    def _report_ready(self, d: incoming.ReportReady) -> list[Delivery]:
        # Signed here, just before this invocation sends, and never stored: the event (outbox, bus, DLQ)
        # carries only the key, and a redelivery signs afresh. Without a bucket: the key, no link.
        link = self._report_links.link(d.html_key) if self._report_links and d.html_key else None
        periods = [
            {
                "name": f"{kind.capitalize()} {found['label']} to date",
                "html_key": found["html"],
                "link": self._report_links.link(found["html"]) if self._report_links else None,
            }
            for kind in ("week", "month")
            if (found := d.periods.get(kind)) and found.get("html")
        ]
        context = {
            "report": d.model_dump(),
            "money_fields": MONEY_SUMMARY_FIELDS,
            "link": link,
            "periods": periods,
        }
        return self._ops("report_ready", context)


def _hash(delivery: Delivery) -> str:
    return recipient_hash(delivery.channel, delivery.address)
