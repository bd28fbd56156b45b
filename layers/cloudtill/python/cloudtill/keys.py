"""Key design of the single table (docs/data-model.md is the full picture). One place builds keys."""

from __future__ import annotations


def item_keys(
    primary: tuple[str, str],
    *,
    gsi1: tuple[str, str] | None = None,
    gsi2: tuple[str, str] | None = None,
) -> dict[str, str]:
    """The key attributes of one item (`PK`, `SK`, and `GSI1PK`/`GSI1SK`, `GSI2PK`/`GSI2SK` where the
    item is in that index), from the builders below: what an `ItemCodec`'s `keys` returns."""
    attributes = {"PK": primary[0], "SK": primary[1]}
    for index, pair in (("GSI1", gsi1), ("GSI2", gsi2)):
        if pair is not None:
            attributes[f"{index}PK"], attributes[f"{index}SK"] = pair
    return attributes


ACTIVE_PRODUCTS = "PRODUCTS"  # GSI1PK of every active product (sparse: removed on archive)


def product(product_id: str) -> tuple[str, str]:
    return f"PRODUCT#{product_id}", "PRODUCT"


def sku(sku_code: str) -> tuple[str, str]:
    """The SKU item: variant price copy and the stock counters (on hand, reserved, available)."""
    return f"SKU#{sku_code}", "SKU"


def category(slug: str) -> tuple[str, str]:
    return f"CATEGORY#{slug}", "CATEGORY"


def category_index(slug: str) -> str:
    """GSI2PK of the active products of a category."""
    return f"CATEGORY#{slug}"


# -- checkout domain ---------------------------------------------------------------------------------

HELD_RESERVATIONS = "RESERVATIONS#HELD"  # GSI1PK of every held reservation (sparse: removed on release)


def checkout(checkout_id: str) -> tuple[str, str]:
    return f"CHECKOUT#{checkout_id}", "CHECKOUT"


def reservation(checkout_id: str, sku_code: str) -> tuple[str, str]:
    """One per SKU of a checkout, next to the checkout item (same partition)."""
    return f"CHECKOUT#{checkout_id}", f"RESERVATION#{sku_code}"


def held_reservation_index(expires_at: str, checkout_id: str, sku_code: str) -> tuple[str, str]:
    """GSI1 keys of a held reservation: the expiry sweep queries `GSI1SK <= <now>`."""
    return HELD_RESERVATIONS, f"{expires_at}#{checkout_id}#{sku_code}"


# GSI1PK of checkouts paid and not yet settled (sparse): set with the payment outcome, removed when
# the order is confirmed or the settle-paid-checkouts sweep has refunded the payment.
PAID_CHECKOUTS = "CHECKOUTS#PAID"


def paid_checkout_index(paid_at: str, checkout_id: str) -> tuple[str, str]:
    """GSI1 keys of a paid checkout: the sweep queries those paid before `now - grace`."""
    return PAID_CHECKOUTS, f"{paid_at}#{checkout_id}"


def held_by_sku_index(sku_code: str, checkout_id: str) -> tuple[str, str]:
    """GSI2 keys of a held reservation: per-SKU reconciliation of the `reserved` counter."""
    return f"HELD#{sku_code}", checkout_id


def customer_index(email_hash: str, created_at: str, kind: str) -> tuple[str, str]:
    """GSI2 keys of a customer's checkouts/orders (`kind` CHECKOUT or ORDER); the email is hashed."""
    return f"EMAIL#{email_hash}", f"{kind}#{created_at}"


def promotion(code: str) -> tuple[str, str]:
    return f"PROMO#{code}", "PROMO"


def promotion_email(code: str, email_hash: str) -> tuple[str, str]:
    """Per-email redemption counter of a promotion."""
    return f"PROMO#{code}", f"EMAIL#{email_hash}"


# -- stock domain ------------------------------------------------------------------------------------

MOVEMENT_PREFIX = "MOVEMENT#"


def stock_movement(sku_code: str, at: str, movement_id: str) -> tuple[str, str]:
    """One ledger movement, in the SKU item's partition; SK sorts by time (then sequence)."""
    return f"SKU#{sku_code}", f"{MOVEMENT_PREFIX}{at}#{movement_id}"


def held_by_sku_partition(sku_code: str) -> str:
    """GSI2PK under which a SKU's held reservations are found (see `held_by_sku_index`)."""
    return held_by_sku_index(sku_code, "")[0]


# -- payments domain ---------------------------------------------------------------------------------

PAYMENT_ORPHANS = "PAYMENT_ORPHANS"  # GSI1PK of webhook events for PaymentIntents we do not know


def payment_event(event_id: str) -> tuple[str, str]:
    """Dedupe record of a Stripe webhook event (kept 35 days: Stripe retries for up to 3 days)."""
    return f"PAYMENT_EVENT#{event_id}", "EVENT"


def payment_intent(payment_intent_id: str) -> tuple[str, str]:
    """The payment record of a PaymentIntent: expected amount, status, refunds, disputes."""
    return f"PAYMENT_INTENT#{payment_intent_id}", "INTENT"


def payment_charge(charge_id: str) -> tuple[str, str]:
    """Charge -> PaymentIntent, for webhooks (disputes, old refunds) that name only the charge."""
    return f"PAYMENT_CHARGE#{charge_id}", "CHARGE"


def order(order_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", "ORDER"


# -- orders domain -----------------------------------------------------------------------------------

FULFILMENT_PREFIX = "FULFILMENT#"
RETURN_PREFIX = "RETURN#"


def orders_by_status(status: str) -> str:
    """GSI1PK of the orders in a status; GSI1SK is `<created_at>#<order id>` (by day: begins_with)."""
    return f"ORDERS#{status}"


def order_fulfilment(order_id: str, number: int) -> tuple[str, str]:
    return f"ORDER#{order_id}", f"{FULFILMENT_PREFIX}{number:04d}"


def order_return(order_id: str, number: int) -> tuple[str, str]:
    return f"ORDER#{order_id}", f"{RETURN_PREFIX}{number:04d}"


# -- reporting domain --------------------------------------------------------------------------------

DAY_TOTALS = "TOTALS"
AGG_SKU_PREFIX = "SKU#"
STOCK_SNAPSHOT = "STOCK"
STOCK_LEVELS = "AGG#STOCK"  # partition of the latest known stock level per SKU (from stock events)


def day_aggregates(day: str) -> str:
    """Partition of one local day's aggregates (`TOTALS`, `SKU#<sku>`, `STOCK`): a report is one Query."""
    return f"AGG#DAY#{day}"


def day_totals(day: str) -> tuple[str, str]:
    return day_aggregates(day), DAY_TOTALS


def day_sku(day: str, sku_code: str) -> tuple[str, str]:
    return day_aggregates(day), f"{AGG_SKU_PREFIX}{sku_code}"


def day_stock_snapshot(day: str) -> tuple[str, str]:
    """Stock levels as the first report run of the day saw them (so re-runs print the same)."""
    return day_aggregates(day), STOCK_SNAPSHOT


def day_order_lines_partition(day: str) -> str:
    """Partition of one day's order lines (one item per order), apart from the counters on purpose:
    the KPIs read a bounded number of items whatever the order volume; only the CSV export reads these."""
    return f"AGG#LINES#{day}"


def day_order_lines(day: str, confirmed_at: str, order_id: str) -> tuple[str, str]:
    return day_order_lines_partition(day), f"ORDER#{confirmed_at}#{order_id}"


def aggregate_event(event_id: str) -> tuple[str, str]:
    """Dedupe marker of an event counted into the aggregates (conditional put in the same transaction)."""
    return f"AGG#EVENT#{event_id}", "APPLIED"


def stock_level(sku_code: str) -> tuple[str, str]:
    return STOCK_LEVELS, f"{AGG_SKU_PREFIX}{sku_code}"


def customer_first_order(email_hash: str) -> tuple[str, str]:
    """A customer's state for the reports (first orders, active months), by account or email hash."""
    return f"CUSTOMER#{email_hash}", "FIRST_ORDER"


AGG_TAX_PREFIX = "TAX#"
COHORT_CELLS = "AGG#COHORTS"  # one partition: the cohort triangle is one Query, O(cells)
MARKETING_SPEND = "AGG#SPEND"


def day_tax(day: str, country: str) -> tuple[str, str]:
    """Tax collected and refunded for one destination country on one day."""
    return day_aggregates(day), f"{AGG_TAX_PREFIX}{country}"


def cohort_cell(cohort: str, month: str) -> tuple[str, str]:
    """Customers of the first-order month `cohort` active in `month` (both YYYY-MM)."""
    return COHORT_CELLS, f"CELL#{cohort}#{month}"


def marketing_spend(day: str, channel: str) -> tuple[str, str]:
    """Marketing spend of one channel on one day (sorted by day, so a window is one Query)."""
    return MARKETING_SPEND, f"DAY#{day}#{channel}"


# -- notifications domain ----------------------------------------------------------------------------


def notification(event_id: str, recipient_hash: str) -> tuple[str, str]:
    """One message of one event to one recipient (hash of channel + address): sent at most once."""
    return f"NOTIFICATION#{event_id}#{recipient_hash}", "SENT"


def erasure(email_hash: str) -> tuple[str, str]:
    """The erasure marker of a customer (by the hash checkouts and orders index them under)."""
    return f"ERASURE#{email_hash}", "ERASURE"


def suppression(email_hash: str) -> tuple[str, str]:
    """An address SES reported as bouncing or complaining: nothing is sent to it any more."""
    return f"SUPPRESSED#{email_hash}", "SUPPRESSED"
