"""The stock side of an order, through the stock ledger: the sale of each SKU when a checkout becomes an
order, units back on hand when it is cancelled or returned."""

from __future__ import annotations

from datetime import datetime

from cloudtill.checkout.records import CheckoutRecord
from cloudtill.clock import iso
from cloudtill.orders import events, rules
from cloudtill.orders.ports import OrderRepository, OrderWrite, StockWrite
from cloudtill.orders.records import OrderRecord
from cloudtill.stock.events import stock_adjusted, stock_low_for
from cloudtill.stock.rules import MovementRequest, StockState, apply_movement, commit_sale


def confirmation_write(
    orders: OrderRepository,
    checkout: CheckoutRecord,
    payment_intent_id: str,
    read: dict[str, StockState],
    now: datetime,
) -> OrderWrite:
    """The order of a paid checkout, with the sale of each reserved SKU at its FIFO cost (`read`: the
    stock read with the checkout; a SKU not in it is read now), in one write with the checkout's
    completion and its reservations committed."""
    at = iso(now)
    stock: list[StockWrite] = []
    unit_costs: dict[str, int] = {}
    costs: dict[str, int] = {}
    for sku, quantity in checkout.reserved.items():
        state = read.get(sku) or orders.stock(sku)  # read with the checkout, if named
        if state is None:
            raise ValueError(f"SKU {sku} of checkout {checkout.id} does not exist")
        change = commit_sale(state, quantity, rules.order_id_for(checkout.id), at)
        assert change.movement is not None
        unit_costs[sku] = change.movement.cost_of_goods_sold // quantity
        costs[sku] = change.movement.cost_of_goods_sold
        sold = [stock_adjusted(change.after, change.movement, now)]
        if change.became_low:
            sold.append(stock_low_for(change.after, "reservation", now))
        stock.append(StockWrite(change, sold))
    order = rules.order_from_checkout(checkout, payment_intent_id, unit_costs, at)
    return OrderWrite(
        order=order,
        expected_version=None,
        events=[events.order_confirmed(order, now, costs)],
        stock=stock,
        checkout=checkout,
        reservations=dict(checkout.reserved),
    )


def restock_writes(
    orders: OrderRepository, order: OrderRecord, quantities: dict[str, int], reason: str, now: datetime
) -> list[StockWrite]:
    """Units back on hand through the stock ledger: an `adjust` at the FIFO cost they were sold at."""
    writes: list[StockWrite] = []
    for sku, quantity in quantities.items():
        line = order.line(sku)
        state = orders.stock(sku)
        if state is None or line is None or quantity <= 0:
            continue
        request = MovementRequest("adjust", quantity, reason, unit_cost=line.unit_cost, reference=order.id)
        change = apply_movement(state, request, now, iso(now))
        assert change.movement is not None
        emitted = [stock_adjusted(change.after, change.movement, now)]
        if change.became_low:
            emitted.append(stock_low_for(change.after, "movement", now))
        writes.append(StockWrite(change, emitted))
    return writes
