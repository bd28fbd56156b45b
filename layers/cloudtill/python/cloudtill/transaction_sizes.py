"""How many items the transactions that grow with a checkout's SKUs write, and so how many distinct SKUs
a checkout may have: every checkout the shop accepts must fit each of them, in the worst case.

The checkout's limit (`cloudtill.checkout.api.MAX_DISTINCT_SKUS`), the orders adapter's size guard
and the SKUs one product update may touch (`MAX_SKUS_PER_PRODUCT_UPDATE`) all come from here, and unit
tests build each transaction with its adapter and count it (`tests/unit/test_transaction_sizes.py`),
so the counts below cannot drift from the code.
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

# Updating a product (`DynamoProductRepository.replace`) writes the product and, when its category
# changes, the category item...
PRODUCT_UPDATE_FIXED_ITEMS = 2
# ...and one item per SKU it touches: each kept SKU is repriced, each new one claimed, each dropped one
# retired.
PRODUCT_UPDATE_ITEMS_PER_SKU = 1


def product_update_items(touched_skus: int) -> int:
    """Worst-case items of a product update touching `touched_skus` SKUs (kept + added + removed)."""
    return PRODUCT_UPDATE_FIXED_ITEMS + PRODUCT_UPDATE_ITEMS_PER_SKU * touched_skus


# 98: a product of 50 variants can have 48 of them replaced at once (50 + 48), or all 50 in two steps.
# Creating (product + SKUs + category) and archiving (product + SKUs) a product of at most 50 variants
# stay far below.
MAX_SKUS_PER_PRODUCT_UPDATE = _max_skus(PRODUCT_UPDATE_FIXED_ITEMS, PRODUCT_UPDATE_ITEMS_PER_SKU)
