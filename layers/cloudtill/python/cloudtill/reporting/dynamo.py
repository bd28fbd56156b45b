"""DynamoDB adapter of the reporting aggregates (keys: docs/data-model.md, cloudtill.keys).

Counting events is ONE TransactWriteItems per batch (up to 100 items): each event's `AGG#EVENT#<event
id>` dedupe put (`attribute_not_exists`) plus `ADD` updates of the days' `TOTALS` and `SKU#<sku>` items
merged per item, the orders' lines items, the customers' first-order markers and the newest stock
levels. A redelivered event fails its dedupe condition and the transaction changes nothing (the caller
then applies the batch one by one). The markers are not read first: the write assumes none exists and,
if one does, the cancelled transaction returns it and is rebuilt conditional on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudtill import ddb, keys
from cloudtill.observability import logger
from cloudtill.outbox import DomainEvent, outbox_put
from cloudtill.reporting.aggregates import (
    SKU_COUNTERS,
    SKU_MARGIN_COUNTERS,
    AggregateUpdate,
    MergedUpdate,
    StockLevel,
    StockThreshold,
    merge_updates,
)
from cloudtill.reporting.customers import CustomerState
from cloudtill.reporting.dynamo_items import add_update, level_update, marker_write, order_lines_item
from cloudtill.reporting.insights import CohortCell, SpendRow
from cloudtill.reporting.kpis import DayAggregates, StockRow

DEDUPE_RETENTION = timedelta(days=35)  # > SQS retention (14 days) + redrive from the DLQ
MAX_ATTEMPTS = 5
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
_SKU_ITEM_FIELDS = SKU_COUNTERS + SKU_MARGIN_COUNTERS


class AggregateConflict(RuntimeError):
    """The customer marker kept changing under us: the message is retried (partial batch failure)."""


class _AlreadyCounted(Exception):
    """An event's dedupe put failed: the transaction changed nothing."""


def _marker(item: dict[str, Any]) -> CustomerState:
    return CustomerState.from_item(ddb.from_item(item))


def _chunks(
    changes: Sequence[AggregateUpdate | StockLevel],
) -> list[list[tuple[int, AggregateUpdate | StockLevel]]]:
    """Consecutive changes grouped so that each group's transaction has at most 100 items and touches
    no item twice. Shared counter items and markers are merged, so they count once; each customer
    reserves one more item for the day a late earlier order may move a new customer from."""
    chunks: list[list[tuple[int, AggregateUpdate | StockLevel]]] = []
    current: list[tuple[int, AggregateUpdate | StockLevel]] = []
    touched: set[tuple[str, ...]] = set()
    for index, change in enumerate(changes):
        exclusive: set[tuple[str, ...]]
        merged: set[tuple[str, ...]] = set()
        if isinstance(change, StockLevel):
            exclusive = {("level", change.sku)}
        else:
            exclusive = {("event", change.event_id)}
            if change.order_lines is not None:
                exclusive.add(
                    (
                        "lines",
                        *keys.day_order_lines(
                            change.day, change.order_lines["confirmed_at"], change.order_lines["order_id"]
                        ),
                    )
                )
            merged = {("totals", change.day)} | {("sku", change.day, sku) for sku in change.skus}
            merged |= {("tax", change.day, country) for country in change.taxes}
            if change.customer is not None:
                # The state, and room for what a late earlier order moves: a day, the cohort cells.
                who = change.customer.email_hash
                merged |= {("marker", who), ("moved", who), ("cell", who), ("moved-cell", who)}
        needed = exclusive | merged
        if current and (exclusive & touched or len(touched | needed) > MAX_TRANSACTION_ITEMS):
            chunks.append(current)
            current, touched = [], set()
        current.append((index, change))
        touched |= needed
    if current:
        chunks.append(current)
    return chunks


@ddb.transient_errors
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
        try:
            return self._commit([update], [])[0]
        except _AlreadyCounted:
            return False

    def apply_batch(self, changes: Sequence[AggregateUpdate | StockLevel]) -> list[bool | None]:
        """One transaction per chunk of at most 100 items (events in order; an event never spans two).
        A chunk that cannot commit as a whole (one of its events was already counted, a throttle...)
        gives None for its changes: the caller applies those one by one."""
        results: list[bool | None] = [None] * len(changes)
        for chunk in _chunks(changes):
            updates = [(i, c) for i, c in chunk if isinstance(c, AggregateUpdate)]
            levels = [(i, c) for i, c in chunk if isinstance(c, StockLevel)]
            if not updates and len(levels) == 1:
                # One item: a plain update (a transaction would cost twice the write capacity).
                index, level = levels[0]
                try:
                    results[index] = self.apply_stock_level(level)
                except Exception:
                    logger.warning("stock level update failed; applying it alone", exc_info=True)
                continue
            try:
                done = self._commit([u for _, u in updates], [lv for _, lv in levels])
            except _AlreadyCounted:
                continue  # a redelivered event among them: applied one by one, it is skipped
            except Exception:
                # Each change retried alone reports its own failure (partial batch failure).
                logger.warning("batched aggregate update failed; applying one by one", exc_info=True)
                continue
            applied: list[tuple[int, AggregateUpdate | StockLevel]] = [*updates, *levels]
            for (i, _), result in zip(applied, done, strict=True):
                results[i] = result
        return results

    def _commit(self, updates: list[AggregateUpdate], levels: list[StockLevel]) -> list[bool]:
        """Count `updates` and record `levels` in ONE TransactWriteItems. The customers' markers are not
        read first: the write assumes none exists (`attribute_not_exists`) or what an earlier attempt
        returned (`ReturnValuesOnConditionCheckFailure`), so a new customer costs no read. Raises
        `_AlreadyCounted` when an event's dedupe put fails (the transaction changed nothing)."""
        markers: dict[str, CustomerState | None] = {}
        stale: set[int] = set()  # levels older than the stored one: nothing to write
        for _ in range(MAX_ATTEMPTS):
            merged = merge_updates(updates, markers)
            items, roles = self._transaction(updates, merged, levels, stale)
            try:
                if items:
                    self.client.transact_write_items(TransactItems=items)
                return [True] * len(updates) + [i not in stale for i in range(len(levels))]
            except Exception as error:
                if not ddb.is_transaction_cancelled(error):
                    raise
                reasons = (getattr(error, "response", {}) or {}).get("CancellationReasons") or []
                failed = [
                    (roles[n], reason)
                    for n, reason in enumerate(reasons)
                    if reason.get("Code", "None") != "None"
                ]
                if not failed or any(r.get("Code") != "ConditionalCheckFailed" for _, r in failed):
                    raise  # a conflict or throttle: the message is retried by the queue
                if any(kind == "event" for (kind, _), _ in failed):
                    raise _AlreadyCounted() from error
                for (kind, ref), reason in failed:
                    if kind == "marker":
                        # Another order of this customer got there first: redo with its marker.
                        who = str(ref)
                        found = reason.get("Item") or self._read_marker(who)
                        markers[who] = _marker(found) if found else None
                    elif kind == "level":
                        stale.add(int(ref))
                    else:
                        raise
        raise AggregateConflict(f"customer markers of events {[u.event_id for u in updates]} kept changing")

    def _read_marker(self, email_hash: str) -> dict[str, Any] | None:
        pk, sk = keys.customer_first_order(email_hash)
        found: dict[str, Any] | None = self.client.get_item(
            TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True
        ).get("Item")
        return found

    def _transaction(
        self,
        updates: list[AggregateUpdate],
        merged: MergedUpdate,
        levels: list[StockLevel],
        stale: set[int],
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str | int]]]:
        """The transaction's items and, for each, its role (to read the cancellation reasons)."""
        now = self._now()
        items: list[dict[str, Any]] = []
        roles: list[tuple[str, str | int]] = []
        for update in updates:
            dedupe_pk, dedupe_sk = keys.aggregate_event(update.event_id)
            item = {
                "PK": dedupe_pk,
                "SK": dedupe_sk,
                "entity": "aggregate_event",
                "day": update.day,
                "ttl": int((now + DEDUPE_RETENTION).timestamp()),
            }
            put = {"TableName": self._table, "Item": ddb.to_item(item)}
            items.append({"Put": {**put, "ConditionExpression": "attribute_not_exists(PK)"}})
            roles.append(("event", update.event_id))
        for day, counters in sorted(merged.totals.items()):
            items.append(self._add(keys.day_totals(day), counters, {"entity": "aggregate_day", "day": day}))
            roles.append(("totals", day))
        for (day, sku), counters in sorted(merged.skus.items()):
            sets = {"entity": "aggregate_sku", "day": day, "sku": sku}
            if (day, sku) in merged.sku_names:
                sets["name"] = merged.sku_names[(day, sku)]
            items.append(self._add(keys.day_sku(day, sku), counters, sets))
            roles.append(("sku", sku))
        for (day, country), counters in sorted(merged.taxes.items()):
            sets = {"entity": "aggregate_tax", "day": day, "country": country}
            items.append(self._add(keys.day_tax(day, country), counters, sets))
            roles.append(("tax", country))
        for (cohort, month), counters in sorted(merged.cells.items()):
            sets = {"entity": "aggregate_cohort_cell", "cohort": cohort, "month": month}
            items.append(self._add(keys.cohort_cell(cohort, month), counters, sets))
            roles.append(("cell", f"{cohort}#{month}"))
        for update in updates:
            if update.order_lines is not None:
                item = order_lines_item(update.day, update.order_lines)
                items.append({"Put": {"TableName": self._table, "Item": ddb.to_item(item)}})
                roles.append(("lines", update.event_id))
        for who, write in sorted(merged.markers.items()):
            items.append(marker_write(self._table, who, write))
            roles.append(("marker", who))
        for n, level in enumerate(levels):
            if n not in stale:
                items.append({"Update": level_update(self._table, level)})
                roles.append(("level", n))
        return items, roles

    def _add(self, key: tuple[str, str], counters: dict[str, int], sets: dict[str, Any]) -> dict[str, Any]:
        return add_update(self._table, key, counters, sets)

    def apply_stock_level(self, level: StockLevel) -> bool:
        try:
            self.client.update_item(**level_update(self._table, level))
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
            taxes: dict[str, dict[str, int]] = {}
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
                elif item["SK"].startswith(keys.AGG_TAX_PREFIX):
                    taxes[item["country"]] = {k: int(item.get(k, 0)) for k in ("collected", "refunded")}
            if totals or skus or taxes:
                found.append(DayAggregates(day, totals, skus, names, taxes))
        return found

    def cohort_cells(self) -> list[CohortCell]:
        return [
            CohortCell(item["cohort"], item["month"], {k: int(item.get(k, 0)) for k in CohortCell.COUNTERS})
            for item in self._partition(keys.COHORT_CELLS, "CELL#")
        ]

    def marketing_spend(self, first: str, last: str) -> list[SpendRow]:
        return [
            SpendRow(item["date"], item["channel"], int(item["amount"]), item["currency"])
            for item in self._query(
                KeyConditionExpression="PK = :pk AND SK BETWEEN :first AND :last",
                ExpressionAttributeValues=ddb.to_values(
                    {":pk": keys.MARKETING_SPEND, ":first": f"DAY#{first}#", ":last": f"DAY#{last}#~"}
                ),
            )
        ]

    def put_marketing_spend(self, row: SpendRow) -> None:
        pk, sk = keys.marketing_spend(row.date, row.channel)
        item = {"PK": pk, "SK": sk, "entity": "marketing_spend", **row.to_dict()}
        self.client.put_item(TableName=self._table, Item=ddb.to_item(item))

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
