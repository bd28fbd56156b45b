"""DynamoDB adapter of the reporting aggregates (keys: docs/data-model.md, cloudtill.keys).

Counting an event is ONE TransactWriteItems: the `AGG#EVENT#<event id>` dedupe put
(`attribute_not_exists`) plus `ADD` updates of the day's `TOTALS` and `SKU#<sku>` items, the order's
lines item and the customer's first-order marker. A redelivered event fails the dedupe condition and
changes nothing. The customer marker is read first and the write is conditional on what was read; if
another order of the same customer won the race, the whole transaction is retried.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudtill import ddb, keys
from cloudtill.outbox import DomainEvent, outbox_put
from cloudtill.reporting.aggregates import (
    AggregateUpdate,
    CustomerResolution,
    FirstOrder,
    StockLevel,
    StockThreshold,
    resolve_customer,
)
from cloudtill.reporting.kpis import DayAggregates, StockRow

DEDUPE_RETENTION = timedelta(days=35)  # > SQS retention (14 days) + redrive from the DLQ
MAX_ATTEMPTS = 5
_SKU_ITEM_FIELDS = ("units", "revenue", "orders", "units_returned")


def order_lines_item(day: str, order_lines: dict[str, Any]) -> dict[str, Any]:
    """The CSV export's item of one order (`AGG#LINES#<day>` / `ORDER#<confirmed_at>#<order id>`)."""
    pk, sk = keys.day_order_lines(day, order_lines["confirmed_at"], order_lines["order_id"])
    return {"PK": pk, "SK": sk, "entity": "aggregate_order_lines", **order_lines}


class AggregateConflict(RuntimeError):
    """The customer marker kept changing under us: the message is retried (partial batch failure)."""


class DynamoAggregateStore:
    def __init__(self, table_name: str, client: Any | None = None, clock: Any | None = None) -> None:
        self._table = table_name
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = ddb.client()
        return self._client

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)

    # -- writes ---------------------------------------------------------------------------------

    def apply(self, update: AggregateUpdate) -> bool:
        for _ in range(MAX_ATTEMPTS):
            resolution = self._resolve_customer(update)
            items = self._transaction(update, resolution)
            try:
                self.client.transact_write_items(TransactItems=items)
                return True
            except Exception as error:
                if not ddb.is_transaction_cancelled(error):
                    raise
                codes = ddb.cancellation_codes(error)
                if codes and codes[0] == "ConditionalCheckFailed":
                    return False  # already counted
                if resolution is None or "ConditionalCheckFailed" not in codes:
                    raise
                # The customer's marker changed since we read it: read again and recompute.
        raise AggregateConflict(f"customer marker of event {update.event_id} kept changing")

    def _resolve_customer(self, update: AggregateUpdate) -> CustomerResolution | None:
        if update.customer is None:
            return None
        pk, sk = keys.customer_first_order(update.customer.email_hash)
        found = self.client.get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        marker = None
        if found:
            item = ddb.from_item(found)
            marker = FirstOrder(item["order_id"], item["at"], item["day"])
        return resolve_customer(marker, update.customer)

    def _transaction(
        self, update: AggregateUpdate, resolution: CustomerResolution | None
    ) -> list[dict[str, Any]]:
        now = self._now()
        dedupe_pk, dedupe_sk = keys.aggregate_event(update.event_id)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": ddb.to_item(
                        {
                            "PK": dedupe_pk,
                            "SK": dedupe_sk,
                            "entity": "aggregate_event",
                            "day": update.day,
                            "ttl": int((now + DEDUPE_RETENTION).timestamp()),
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        # Day counters, merged per day (one transaction may not touch an item twice).
        totals: dict[str, dict[str, int]] = defaultdict(dict)
        totals[update.day].update(update.totals)
        if resolution is not None:
            for day, deltas in resolution.deltas.items():
                for name, delta in deltas.items():
                    totals[day][name] = totals[day].get(name, 0) + delta
        for day, counters in sorted(totals.items()):
            counters = {k: v for k, v in counters.items() if v}
            if counters:
                items.append(
                    self._add(keys.day_totals(day), counters, {"entity": "aggregate_day", "day": day})
                )
        for sku, counters in sorted(update.skus.items()):
            sets = {"entity": "aggregate_sku", "day": update.day, "sku": sku}
            if sku in update.sku_names:
                sets["name"] = update.sku_names[sku]
            items.append(self._add(keys.day_sku(update.day, sku), counters, sets))
        if update.order_lines is not None:
            item = order_lines_item(update.day, update.order_lines)
            items.append({"Put": {"TableName": self._table, "Item": ddb.to_item(item)}})
        if resolution is not None and resolution.new_marker is not None and update.customer is not None:
            pk, sk = keys.customer_first_order(update.customer.email_hash)
            marker = resolution.new_marker
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": ddb.to_item(
                    {
                        "PK": pk,
                        "SK": sk,
                        "entity": "customer_first_order",
                        "order_id": marker.order_id,
                        "at": marker.at,
                        "day": marker.day,
                    }
                ),
            }
            if resolution.expected is None:
                put["ConditionExpression"] = "attribute_not_exists(PK)"
            else:
                put["ConditionExpression"] = "order_id = :seen_order"
                put["ExpressionAttributeValues"] = ddb.to_values(
                    {":seen_order": resolution.expected.order_id}
                )
            items.append({"Put": put})
        elif resolution is not None and resolution.expected is not None and update.customer is not None:
            # Returning: still conditional on the marker read, so a concurrent earlier order cannot be
            # missed (it would have to move this order's count).
            pk, sk = keys.customer_first_order(update.customer.email_hash)
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": ddb.key(pk, sk),
                        "ConditionExpression": "order_id = :seen_order",
                        "ExpressionAttributeValues": ddb.to_values(
                            {":seen_order": resolution.expected.order_id}
                        ),
                    }
                }
            )
        return items

    def _add(self, key: tuple[str, str], counters: dict[str, int], sets: dict[str, Any]) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        adds, assigns = [], []
        for i, (name, delta) in enumerate(sorted(counters.items())):
            names[f"#c{i}"] = name
            values[f":c{i}"] = delta
            adds.append(f"#c{i} :c{i}")
        for i, (name, value) in enumerate(sorted(sets.items())):
            names[f"#s{i}"] = name
            values[f":s{i}"] = value
            assigns.append(f"#s{i} = :s{i}")
        expression = f"ADD {', '.join(adds)}" + (f" SET {', '.join(assigns)}" if assigns else "")
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(*key),
                "UpdateExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": ddb.to_values(values),
            }
        }

    def apply_stock_level(self, level: StockLevel) -> bool:
        pk, sk = keys.stock_level(level.sku)
        try:
            self.client.update_item(
                TableName=self._table,
                Key=ddb.key(pk, sk),
                UpdateExpression=(
                    "SET entity = :entity, sku = :sku, movement_id = :m, on_hand = :on_hand, "
                    "reserved = :reserved, available = :available, #value = :value, #at = :at"
                ),
                ConditionExpression="attribute_not_exists(movement_id) OR movement_id < :m",
                ExpressionAttributeNames={"#value": "value", "#at": "at"},
                ExpressionAttributeValues=ddb.to_values(
                    {
                        ":entity": "aggregate_stock",
                        ":sku": level.sku,
                        ":m": level.movement_id,
                        ":on_hand": level.on_hand,
                        ":reserved": level.reserved,
                        ":available": level.available,
                        ":value": level.value,
                        ":at": level.at,
                    }
                ),
            )
            return True
        except Exception as error:
            if ddb.is_conditional_failure(error):
                return False  # an older (or the same) movement: the stored level is newer
            raise

    def apply_stock_threshold(self, threshold: StockThreshold) -> bool:
        pk, sk = keys.stock_level(threshold.sku)
        try:
            self.client.update_item(
                TableName=self._table,
                Key=ddb.key(pk, sk),
                UpdateExpression="SET entity = :entity, sku = :sku, low_stock_threshold = :t",
                ConditionExpression="attribute_not_exists(low_stock_threshold) OR low_stock_threshold <> :t",
                ExpressionAttributeValues=ddb.to_values(
                    {":entity": "aggregate_stock", ":sku": threshold.sku, ":t": threshold.low_stock_threshold}
                ),
            )
            return True
        except Exception as error:
            if ddb.is_conditional_failure(error):
                return False  # already recorded
            raise

    # -- reads ----------------------------------------------------------------------------------

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            page = self.client.query(
                TableName=self._table, **kwargs, **({"ExclusiveStartKey": start} if start else {})
            )
            for item in page.get("Items", []):
                yield ddb.from_item(item)
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def _partition(self, pk: str, sk_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        condition = "PK = :pk" + (" AND begins_with(SK, :prefix)" if sk_prefix else "")
        values = {":pk": pk, **({":prefix": sk_prefix} if sk_prefix else {})}
        return self._query(KeyConditionExpression=condition, ExpressionAttributeValues=ddb.to_values(values))

    def read_days(self, days: Sequence[str]) -> list[DayAggregates]:
        found = []
        for day in days:
            totals: dict[str, int] = {}
            skus: dict[str, dict[str, int]] = {}
            names: dict[str, str] = {}
            for item in self._partition(keys.day_aggregates(day)):
                if item["SK"] == keys.DAY_TOTALS:
                    totals = {
                        k: int(v) for k, v in item.items() if isinstance(v, int) and not isinstance(v, bool)
                    }
                elif item["SK"].startswith(keys.AGG_SKU_PREFIX):
                    sku = item["sku"]
                    skus[sku] = {k: int(item.get(k, 0)) for k in _SKU_ITEM_FIELDS}
                    if item.get("name"):
                        names[sku] = item["name"]
            if totals or skus:
                found.append(DayAggregates(day, totals, skus, names))
        return found

    def stock_snapshot(self, day: str) -> list[StockRow]:
        pk, sk = keys.day_stock_snapshot(day)
        stored = self.client.get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        if stored:
            return [StockRow.from_dict(row) for row in ddb.from_item(stored)["skus"]]
        rows = sorted(
            (StockRow.from_dict(item) for item in self._partition(keys.STOCK_LEVELS) if "on_hand" in item),
            key=lambda row: row.sku,
        )
        item = {"PK": pk, "SK": sk, "entity": "aggregate_stock_snapshot", "skus": [r.to_dict() for r in rows]}
        try:
            self.client.put_item(
                TableName=self._table, Item=ddb.to_item(item), ConditionExpression="attribute_not_exists(PK)"
            )
        except Exception as error:
            if not ddb.is_conditional_failure(error):
                raise
            return self.stock_snapshot(day)  # a concurrent run took it first: use theirs
        return rows

    def order_lines(self, day: str) -> list[dict[str, Any]]:
        return list(self._partition(keys.day_order_lines_partition(day)))


class OutboxReportEvents:
    """ReportReady through the transactional outbox: a conditional put of the outbox item (the event id
    is derived from the report, so re-running an unchanged day does not publish again)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client

    def publish(self, event: DomainEvent) -> None:
        client = self._client or ddb.client()
        put = outbox_put(self._table, event)["Put"]
        try:
            client.put_item(**put)
        except Exception as error:
            if not ddb.is_conditional_failure(error):
                raise
