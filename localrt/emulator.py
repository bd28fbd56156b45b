"""AWS on loopback: moto's server in this process, plus the resources the stack defines."""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import boto3.session
from moto.dynamodb import models as moto_dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from infra.wiring import TABLES, TableSpec
from localrt import aws_calls

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_dynamodb_lock = threading.RLock()
dynamodb_lock = _dynamodb_lock  # also held by localrt.persistence while it copies or restores tables


def _patch_dynamodb() -> None:
    _serialize_dynamodb_requests()
    if not getattr(DynamoDBBackend.transact_write_items, "_cloudtill_patched", False):
        DynamoDBBackend.transact_write_items = _one_backup_per_table(  # type: ignore[method-assign]
            DynamoDBBackend.transact_write_items
        )


def _serialize_dynamodb_requests() -> None:
    """DynamoDB applies each request atomically; moto's threaded server does not. One lock restores
    that: a conditional write or transaction is never interleaved with another (oversell tests rely on it)."""
    # Stream reads take the same lock: moto applies a transaction item by item and rolls back a
    # cancelled one, so an unlocked reader could see records of a transaction that never committed.
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original: Callable[..., Any] = handler.call_action
        if getattr(original, "_cloudtill_locked", False):
            continue
        handler.call_action = _locked(original)  # type: ignore[method-assign]


def _locked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def locked(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    locked._cloudtill_locked = True  # type: ignore[attr-defined]
    return locked


class _TableCopyElision:
    """Stands in for the `copy` module inside moto's DynamoDB backend during a transaction: moto backs up
    the whole table once per *item* of a transaction (and with it the table's ever-growing stream), which
    makes every transaction slower as the table grows. `_one_backup_per_table` takes that backup once."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _one_backup_per_table(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        names = {op.get("TableName") for item in transact_items for op in item.values()}
        backups: dict[str, tuple[Table, Any, int]] = {}
        for name in names:
            table = self.tables.get(name) if name else None
            if table is None:
                continue
            shard, table.stream_shard = table.stream_shard, None
            try:
                backups[name] = (copy.deepcopy(table), shard, len(shard.items) if shard else 0)
            finally:
                table.stream_shard = shard
        moto_dynamodb_models.copy = _TableCopyElision  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except Exception:
            # Roll back: the tables as they were, and their streams without the cancelled records
            # (the stream object itself is kept, so readers' iterators stay valid).
            for name, (backup, shard, length) in backups.items():
                if shard is not None:
                    del shard.items[length:]
                    shard.table = backup
                    backup.stream_shard = shard
                self.tables[name] = backup
            raise
        finally:
            moto_dynamodb_models.copy = copy  # type: ignore[assignment]

    transact_write_items._cloudtill_patched = True  # type: ignore[attr-defined]
    return transact_write_items


class AwsEmulator:
    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access lines: paths carry ids
        _patch_dynamodb()
        aws_calls.install()
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
            region_name=REGION,
        )
        return session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def create_tables(self, names: dict[str, str]) -> None:
        dynamodb = self.client("dynamodb")
        for spec in TABLES:
            self._create_table(dynamodb, spec, names[spec.logical_name])

    @staticmethod
    def _create_table(dynamodb: Any, spec: TableSpec, name: str) -> None:
        attributes = {spec.partition_key}
        key_schema = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
        if spec.sort_key:
            attributes.add(spec.sort_key)
            key_schema.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
        indexes = []
        for index_name, (pk, sk) in spec.global_indexes.items():
            attributes.update((pk, sk))
            indexes.append(
                {
                    "IndexName": index_name,
                    "KeySchema": [
                        {"AttributeName": pk, "KeyType": "HASH"},
                        {"AttributeName": sk, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            )
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": key_schema,
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if spec.stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        dynamodb.create_table(**request)
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
