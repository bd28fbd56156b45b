"""Backends of the port contracts: every contract test runs once per backend.

* `fake`: the in-memory fake of the port (tests/fakes.py), what the unit tests use;
* `moto`: the DynamoDB adapter on moto's server, in a thread of this process on a free loopback port;
* `ministack`: the same adapter on ministack, an independent emulator that is strict where DynamoDB
  is (a start key outside the query's range is a ValidationException, as in DynamoDB; moto returns
  an empty page). ministack pins another botocore than ours, so it runs as its own server from
  `.venv-ministack` (made by `make install` from requirements-ministack.lock) on a free loopback
  port, one per session.

Each adapter test gets a fresh table of its own.

A port's test file gets the adapter or the fake from `backend` and seeds the world through the
`World` helpers below (the one place where the backends differ); the assertions are the same.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cloudtill import ddb, keys
from moto.server import ThreadedMotoServer

from infra.wiring import MAIN_TABLE

ROOT = Path(__file__).resolve().parents[2]
MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"
BACKENDS = ("fake", "moto", "ministack")
REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_tables = itertools.count(1)
STARTUP_SECONDS = 30.0


def create_table(client: Any, name: str) -> None:
    """The main table as the wiring declares it (keys and indexes; no stream: no consumer here)."""
    index_keys = [key for pair in MAIN_TABLE.global_indexes.values() for key in pair]
    table_keys = [MAIN_TABLE.partition_key, *([MAIN_TABLE.sort_key] if MAIN_TABLE.sort_key else [])]
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in table_keys + index_keys],
        KeySchema=[
            {"AttributeName": n, "KeyType": t} for n, t in zip(table_keys, ("HASH", "RANGE"), strict=False)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (pk, sk) in MAIN_TABLE.global_indexes.items()
        ],
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})


@dataclass(frozen=True)
class Backend:
    name: str
    client: Any = None  # a DynamoDB client (None for the fake)
    table: str = ""

    @property
    def fake(self) -> bool:
        return self.name == "fake"

    def put(self, item: dict[str, Any]) -> None:
        """Seed one raw item (adapters only)."""
        self.client.put_item(TableName=self.table, Item=ddb.to_item(item))

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.client.get_item(TableName=self.table, Key=ddb.key(pk, sk), ConsistentRead=True)
        return ddb.from_item(found["Item"]) if "Item" in found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=1) as response:
            return bool(json.load(response)["services"].get("dynamodb") == "available")
    except (OSError, ValueError, KeyError):
        return False


@pytest.fixture(scope="session")
def ministack_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not MINISTACK.exists():
        pytest.fail(f"{MINISTACK} is missing: `make install` creates it from requirements-ministack.lock")
    workdir = tmp_path_factory.mktemp("ministack")
    for _attempt in range(3):  # a port taken between the probe and the bind: try another
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "SERVICES": "dynamodb",
            "LOG_LEVEL": "WARNING",
            "TMPDIR": str(workdir),  # its pid file
        }
        log = (workdir / f"ministack-{port}.log").open("w")
        server = subprocess.Popen([str(MINISTACK)], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and server.poll() is None and not _healthy(endpoint):
            time.sleep(0.1)
        if server.poll() is None and _healthy(endpoint):
            break
        server.kill()
        server.wait()
        log.close()
    else:
        pytest.fail(f"ministack did not start; see {workdir}")
    try:
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    name = request.param
    if name == "fake":
        yield Backend(name)
        return
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    table = f"contract{next(_tables)}"
    endpoint = request.getfixturevalue(f"{name}_endpoint")
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        **CREDENTIALS,
    )
    create_table(client, table)
    # Adapters that take no client use the process-wide one (by either name of it).
    monkeypatch.setattr(ddb, "client", lambda: client)
    monkeypatch.setattr(ddb, "_shared_client", lambda: client, raising=False)
    try:
        yield Backend(name, client, table)
    finally:
        client.delete_table(TableName=table)


def sku_item(
    sku: str,
    *,
    price: int = 1000,
    on_hand: int = 0,
    reserved: int = 0,
    backorder_limit: int = 0,
    active: bool = True,
    product_id: str = "prod_1",
) -> dict[str, Any]:
    """A SKU item as the catalog creates it (stock counters as the stock domain keeps them)."""
    pk, sk = keys.sku(sku)
    return {
        "PK": pk,
        "SK": sk,
        "entity": "sku",
        "sku": sku,
        "product_id": product_id,
        "product_name": f"Item {sku}",
        "name": f"Item {sku}",
        "price": price,
        "currency": "EUR",
        "active": active,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand + backorder_limit - reserved,
        "backorder_limit": backorder_limit,
        "low_stock_threshold": 0,
    }
