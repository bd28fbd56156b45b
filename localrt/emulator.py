"""AWS on loopback: moto's server in this process, plus the resources the stack defines."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import boto3.session
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from infra.wiring import TABLES, TableSpec

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_dynamodb_lock = threading.RLock()


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


class AwsEmulator:
    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access lines: paths carry ids
        _serialize_dynamodb_requests()
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
