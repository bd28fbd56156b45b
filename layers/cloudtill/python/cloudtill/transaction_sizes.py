"""How many items the transactions that grow with a checkout's SKUs write, and so how many distinct SKUs
a checkout may have: every checkout the shop accepts must fit each of them, in the worst case.

The checkout's limit (`cloudtill.checkout.models.MAX_DISTINCT_SKUS`) and the orders adapter's size
guard both come from here, and unit tests build each transaction with its adapter and count it
(`tests/unit/test_transaction_sizes.py`), so the counts below cannot drift from the code.
"""

from __future__ import annotations

# DynamoDB: items in one TransactWriteItems.
TRANSACT_WRITE_LIMIT = 100

# Creating a checkout (`DynamoCheckoutRepository.create`) and releasing it (`release`, on expiry or
# cancellation) write the checkout, the promotion counter, the per-email counter and two outbox
# events (CheckoutCreated + StockReserved; StockReleased + CheckoutExpired/Cancelled)...
RESERVATION_FIXED_ITEMS = 5
# ...and per SKU its counters and its reservation item.
RESERVATION_ITEMS_PER_SKU = 2

# Confirming the order (`OrderLifecycle.confirm_order` -> `DynamoOrderRepository.write`) writes the
# checkout (-> completed), the order and OrderConfirmed...
CONFIRMATION_FIXED_ITEMS = 3
# ...and per SKU: the reservation (-> committed), the SKU's counters, its ledger movement,
# StockAdjusted and, when the sale takes it to its low-stock threshold, StockLow (worst case: all).
CONFIRMATION_ITEMS_PER_SKU = 5


def reservation_items(distinct_skus: int) -> int:
    """Worst-case items of creating (or releasing) a checkout with `distinct_skus` SKUs."""
    return RESERVATION_FIXED_ITEMS + RESERVATION_ITEMS_PER_SKU * distinct_skus


def confirmation_items(distinct_skus: int) -> int:
    """Worst-case items of confirming a checkout with `distinct_skus` SKUs."""
    return CONFIRMATION_FIXED_ITEMS + CONFIRMATION_ITEMS_PER_SKU * distinct_skus


def _max_skus(fixed: int, per_sku: int) -> int:
    return (TRANSACT_WRITE_LIMIT - fixed) // per_sku


# The widest checkout every one of its transactions still fits: 19 (confirmation: 3 + 5 x 19 = 98;
# the reservation alone would allow 47). The order's later writes (cancellation, restocking returns)
# take at most 4 items per SKU plus 2-3, within the same bound.
MAX_DISTINCT_SKUS = min(
    _max_skus(RESERVATION_FIXED_ITEMS, RESERVATION_ITEMS_PER_SKU),
    _max_skus(CONFIRMATION_FIXED_ITEMS, CONFIRMATION_ITEMS_PER_SKU),
)
