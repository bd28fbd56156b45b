"""The stock domain's items as the codec stores them (docs/stock.md): the SKU item, read and created by
other domains' adapters too, and the ledger movements. Keys from `cloudtill.keys`."""

from __future__ import annotations

from cloudtill import keys
from cloudtill.ddb_codec import ItemCodec, RecordCodec
from cloudtill.stock.fifo import FifoStock
from cloudtill.stock.records import SkuRecord
from cloudtill.stock.rules import MovementRecord

# The SKU item's `fifo` map: the cost layers, oldest first (`received_at` in `isoformat()`).
FIFO = RecordCodec(FifoStock)

SKU_ITEM = ItemCodec(SkuRecord, entity="sku", keys=lambda s: keys.item_keys(keys.sku(s.sku)), nested=[FIFO])

MOVEMENT_ITEM = ItemCodec(
    MovementRecord,
    entity="stock_movement",
    keys=lambda m: keys.item_keys(keys.stock_movement(m.sku, m.at, m.id)),
    derived=("id",),
)
