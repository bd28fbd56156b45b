"""The orders domain's items (docs/data-model.md), each one record through one codec:

* the order `ORDER#<id>` / `ORDER` (entity `order`), GSI1 `ORDERS#<status>` / `<created_at>#<id>`
  (admin list by status and day), GSI2 `EMAIL#<hash>` / `ORDER#<created_at>`; its lines and timeline
  as lists of maps;
* fulfilments `ORDER#<id>` / `FULFILMENT#<nnnn>` and returns `ORDER#<id>` / `RETURN#<nnnn>`, put once,
  each with its `order_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudtill import keys
from cloudtill.ddb_codec import Attr, ItemCodec, RecordCodec, without_none
from cloudtill.orders.records import Fulfilment, OrderLine, OrderRecord, OrderReturn


def _order_keys(order: OrderRecord) -> dict[str, str]:
    return keys.item_keys(
        keys.order(order.id),
        gsi1=(keys.orders_by_status(order.status), f"{order.created_at}#{order.id}"),
        gsi2=keys.customer_index(order.email_hash, order.created_at, "ORDER"),
    )


ORDER = ItemCodec(
    OrderRecord,
    entity="order",
    keys=_order_keys,
    # Lines stored before costs were kept have no `unit_cost`: restocked at cost 0.
    nested=[RecordCodec(OrderLine, attrs={"unit_cost": Attr(default=0)})],
    attrs={"shipping_address": Attr(encode=without_none)},
)


@dataclass(frozen=True)
class _StoredFulfilment:
    order_id: str
    fulfilment: Fulfilment


@dataclass(frozen=True)
class _StoredReturn:
    order_id: str
    order_return: OrderReturn


FULFILMENT = ItemCodec(
    _StoredFulfilment,
    entity="fulfilment",
    keys=lambda s: keys.item_keys(keys.order_fulfilment(s.order_id, s.fulfilment.number)),
    inline=("fulfilment",),
)
RETURN = ItemCodec(
    _StoredReturn,
    entity="order_return",
    keys=lambda s: keys.item_keys(keys.order_return(s.order_id, s.order_return.number)),
    inline=("order_return",),
)


def order_fields(order: OrderRecord) -> dict[str, Any]:
    """The order item without its primary key, None values kept (an update REMOVEs them)."""
    head = {k: v for k, v in _order_keys(order).items() if k not in {"PK", "SK"}}
    return {"entity": ORDER.entity, **ORDER.encode(order), **head}


def order_from_item(item: dict[str, Any]) -> OrderRecord:
    return ORDER.from_plain(item)


def fulfilment_item(order_id: str, fulfilment: Fulfilment) -> dict[str, Any]:
    return FULFILMENT.plain(_StoredFulfilment(order_id, fulfilment))


def fulfilment_from_item(item: dict[str, Any]) -> Fulfilment:
    return FULFILMENT.from_plain(item).fulfilment


def return_item(order_id: str, order_return: OrderReturn) -> dict[str, Any]:
    return RETURN.plain(_StoredReturn(order_id, order_return))


def return_from_item(item: dict[str, Any]) -> OrderReturn:
    return RETURN.from_plain(item).order_return
