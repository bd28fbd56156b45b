"""Pure order rules: what confirming, shipping, delivering, cancelling and returning do to an order.

No I/O: the service reads the order, asks these functions for the next state, and the adapter writes
it on the condition that the order is still at the version read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.errors import Conflict, FieldError, ValidationFailed
from cloudtill.money import round_half_up
from cloudtill.orders.records import (
    Fulfilment,
    OrderLine,
    OrderRecord,
    OrderReturn,
    TimelineEntry,
    priced_line,
)

CONFIRMED = "confirmed"
PARTIALLY_SHIPPED = "partially_shipped"
SHIPPED = "shipped"
DELIVERED = "delivered"
COMPLETED = "completed"
CANCELLED = "cancelled"

# Carriers whose public tracking page we can link to; any other carrier is accepted without a link.
TRACKING_URLS: dict[str, str] = {
    "an_post": "https://www.anpost.com/Post-Parcels/Track/History?item={number}",
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "ups": "https://www.ups.com/track?tracknum={number}",
}


class OrderStateConflict(Conflict):
    type_slug = "order-state"
    title = "The order is not in a state that allows this"


def order_id_for(checkout_id: str) -> str:
    """One order per checkout, derived from its id, so a retried confirmation cannot make a second."""
    return "ord_" + checkout_id.removeprefix("chk_")


def tracking_url(carrier: str, number: str) -> str | None:
    template = TRACKING_URLS.get(carrier.strip().lower().replace(" ", "_"))
    return template.format(number=number) if template else None


def _stamp(order: OrderRecord, at: str, event: str, **changes: object) -> OrderRecord:
    return replace(
        order,
        updated_at=at,
        timeline=(*order.timeline, TimelineEntry(at, event)),
        version=order.version + 1,
        **changes,  # type: ignore[arg-type]
    )


def order_from_checkout(
    checkout: CheckoutRecord, payment_intent_id: str, unit_costs: Mapping[str, int], at: str
) -> OrderRecord:
    """The order a paid checkout becomes (lines, totals and address exactly as the shopper saw them)."""
    return OrderRecord(
        id=order_id_for(checkout.id),
        checkout_id=checkout.id,
        token_hash=checkout.token_hash,
        status=CONFIRMED,
        email=checkout.email,
        email_hash=checkout.email_hash,
        lines=tuple(
            OrderLine(**priced_line(ln), unit_cost=unit_costs.get(ln.sku, 0)) for ln in checkout.lines
        ),
        currency=checkout.currency,
        subtotal=checkout.subtotal,
        discount=checkout.discount,
        shipping=checkout.shipping,
        tax=checkout.tax,
        total=checkout.total,
        prices_include_tax=checkout.prices_include_tax,
        shipping_method=checkout.shipping_method,
        shipping_address=dict(checkout.shipping_address),
        promo_code=checkout.promo_code,
        payment_intent_id=payment_intent_id,
        channel=checkout.channel,
        created_at=at,
        updated_at=at,
        timeline=(
            TimelineEntry(checkout.created_at, "checkout_created"),
            TimelineEntry(at, "paid"),
            TimelineEntry(at, CONFIRMED),
        ),
    )


def _require_status(order: OrderRecord, allowed: Sequence[str], action: str) -> None:
    if order.status not in allowed or order.cancel_requested:
        state = "cancellation requested" if order.cancel_requested else order.status
        raise OrderStateConflict(
            f"Order {order.id} is {state}; it cannot be {action}.",
            [FieldError("order_id", f"order is {state}")],
            order_status=order.status,
        )


def _per_sku(order: OrderRecord, units: Callable[[OrderLine], int]) -> dict[str, int]:
    """`units` of each line summed per SKU, in order of first appearance. Checkouts merge lines per
    SKU, but an order may still hold several lines of one SKU: every per-SKU map sums them."""
    totals: dict[str, int] = {}
    for line in order.lines:
        totals[line.sku] = totals.get(line.sku, 0) + units(line)
    return totals


def ordered_quantities(order: OrderRecord) -> dict[str, int]:
    """Units ordered per SKU (what a cancellation restocks)."""
    return _per_sku(order, lambda ln: ln.quantity)


def _returnable(line: OrderLine) -> int:
    return line.shipped - line.returned


def _spread(order: OrderRecord, quantities: Mapping[str, int], room: Callable[[OrderLine], int]) -> list[int]:
    """Each SKU's quantity spread over its lines in order, each line taking at most its `room`: the
    units each line of `order` gets (0 for lines of other SKUs)."""
    left = dict(quantities)
    taken: list[int] = []
    for line in order.lines:
        take = min(left.get(line.sku, 0), max(room(line), 0))
        if take:
            left[line.sku] -= take
        taken.append(take)
    assert not any(left.values()), f"more units than the lines of {order.id} allow: {left}"
    return taken


def _quantities(order: OrderRecord, lines: Sequence[tuple[str, int]], limit_of: str) -> dict[str, int]:
    """Requested quantities per SKU, each within what the SKU's lines still allow together (`unshipped`
    or `returnable`); 422 naming every offending `lines[i]` field."""
    allowed = _per_sku(order, (lambda ln: ln.unshipped) if limit_of == "unshipped" else _returnable)
    errors: list[FieldError] = []
    wanted: dict[str, int] = {}
    for i, (sku, quantity) in enumerate(lines):
        if sku not in allowed:
            errors.append(FieldError(f"lines[{i}].sku", f"{sku!r} is not on this order"))
            continue
        wanted[sku] = wanted.get(sku, 0) + quantity
        if wanted[sku] > allowed[sku]:
            errors.append(
                FieldError(
                    f"lines[{i}].quantity",
                    f"at most {allowed[sku]} of {sku} can be {limit_of.removeprefix('un')}",
                )
            )
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    return wanted


def ship(
    order: OrderRecord, carrier: str, tracking_number: str, lines: Sequence[tuple[str, int]] | None, at: str
) -> tuple[OrderRecord, Fulfilment]:
    """A shipment of `lines` (default: everything not shipped yet)."""
    _require_status(order, (CONFIRMED, PARTIALLY_SHIPPED), "shipped")
    if lines is None:
        quantities = {sku: n for sku, n in _per_sku(order, lambda ln: ln.unshipped).items() if n > 0}
    else:
        quantities = _quantities(order, lines, "unshipped")
    shipped_lines = tuple(
        replace(ln, shipped=ln.shipped + n)
        for ln, n in zip(order.lines, _spread(order, quantities, lambda ln: ln.unshipped), strict=True)
    )
    number = order.fulfilment_count + 1
    fully = all(ln.shipped >= ln.quantity for ln in shipped_lines)
    status = SHIPPED if fully else PARTIALLY_SHIPPED
    fulfilment = Fulfilment(
        number, carrier, tracking_number, tracking_url(carrier, tracking_number), quantities, at
    )
    updated = _stamp(order, at, status, lines=shipped_lines, status=status, fulfilment_count=number)
    return updated, fulfilment


def deliver(order: OrderRecord, at: str) -> OrderRecord:
    _require_status(order, (SHIPPED,), "marked delivered")
    return _stamp(order, at, DELIVERED, status=DELIVERED)


@dataclass(frozen=True)
class StatusStep:
    """A transition that depends on the status alone (and no cancel request): the repository applies
    it as one conditional update, without reading the order first. Same effect as `_stamp`: status,
    `updated_at`, one timeline entry, version + 1."""

    from_status: str
    to_status: str
    event: str
    at: str


def completion(at: str) -> StatusStep:
    """delivered -> completed, as a `StatusStep` (what `complete` does, for the workflow's task)."""
    return StatusStep(DELIVERED, COMPLETED, COMPLETED, at)


def complete(order: OrderRecord, at: str) -> OrderRecord | None:
    """delivered -> completed; None when there is nothing to do (already completed)."""
    if order.status == COMPLETED:
        return None
    _require_status(order, (DELIVERED,), "completed")
    return _stamp(order, at, COMPLETED, status=COMPLETED)


def request_cancel(order: OrderRecord, at: str) -> OrderRecord:
    """Admin cancel: only before anything shipped. The workflow then refunds, restocks and closes it."""
    _require_status(order, (CONFIRMED,), "cancelled")
    if order.fulfilment_count:
        raise OrderStateConflict(
            f"Order {order.id} has shipped items; return them instead.",
            [FieldError("order_id", "already shipped")],
            order_status=order.status,
        )
    return _stamp(order, at, "cancel_requested", cancel_requested=True)


def cancel(order: OrderRecord, at: str) -> OrderRecord | None:
    """The workflow's cancellation: status cancelled (None: done already). Its refund is what the
    refund ledger has left (`lifecycle.cancel_order`)."""
    if order.status == CANCELLED:
        return None
    if not order.cancel_requested or order.status != CONFIRMED:
        raise OrderStateConflict(f"Order {order.id} cannot be cancelled in status {order.status}.")
    return _stamp(order, at, CANCELLED, status=CANCELLED)


def line_paid(line: OrderLine, prices_include_tax: bool) -> int:
    """What the shopper paid for a whole line: shelf total less its discount share, plus tax when
    prices exclude it."""
    return line.line_total - line.discount + (0 if prices_include_tax else line.tax)


def _line_refund(line: OrderLine, quantity: int, prices_include_tax: bool) -> int:
    """The refund of `quantity` more returned units of one line: its paid amount pro rata (half away
    from zero); the line's last units get the rest, so returning it all refunds exactly what was paid."""
    paid = line_paid(line, prices_include_tax)
    already = round_half_up(paid * line.returned, line.quantity)
    if line.returned + quantity >= line.quantity:
        return paid - already
    return round_half_up(paid * (line.returned + quantity), line.quantity) - already


def refund_for(order: OrderRecord, quantities: Mapping[str, int]) -> int:
    """The refund of returned units (per SKU, spread over the SKU's lines in order, each line refunded
    pro rata of what was paid for it)."""
    spread = _spread(order, quantities, _returnable)
    return sum(
        _line_refund(line, n, order.prices_include_tax)
        for line, n in zip(order.lines, spread, strict=True)
        if n
    )


def return_lines(
    order: OrderRecord, lines: Sequence[tuple[str, int]], restock: bool, refund: bool, at: str
) -> tuple[OrderRecord, OrderReturn]:
    """Shipped units coming back; optionally restocked, optionally refunded (pro rata, at most what
    the order's refund ledger has left: earlier refunds of any kind are taken out)."""
    _require_status(order, (PARTIALLY_SHIPPED, SHIPPED, DELIVERED, COMPLETED), "returned")
    quantities = _quantities(order, lines, "returnable")
    amount = min(refund_for(order, quantities), max(order.total - order.refunded_amount, 0)) if refund else 0
    returned_lines = tuple(
        replace(ln, returned=ln.returned + n)
        for ln, n in zip(order.lines, _spread(order, quantities, _returnable), strict=True)
    )
    number = order.return_count + 1
    record = OrderReturn(number, quantities, restock, amount, at)
    updated = _stamp(
        order,
        at,
        "returned",
        lines=returned_lines,
        return_count=number,
        refunded_amount=order.refunded_amount + amount,
    )
    return updated, record
