"""DynamoDB plumbing shared by the repository adapters: one client per process (`TableAdapter` is the
adapters' base), item (de)serialization (whole records: `cloudtill.ddb_codec`), strongly consistent
single reads (`get_item`, `get_plain`, `get_attribute`), opaque paging cursors (`query_page`), batch
reads, transactions (`transact`; `Transaction` names its parts by role, `put_new` is the put of a new
item) and transaction-cancellation decoding.

The client is created lazily on first use (not at import), once per cold start. The endpoint comes from
the standard AWS configuration (`AWS_ENDPOINT_URL` locally), so the same code runs in AWS and locally.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from cloudtill.errors import InvalidCursor, TransientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]
BATCH_GET_LIMIT = 100  # keys per BatchGetItem request
# Unprocessed keys: up to 8 requests per chunk, waiting up to 50 ms, 100 ms, ... 1 s between them
# (3.55 s in all at most), well within the shortest function timeout (10 s).
BATCH_GET_ROUNDS = 8
BATCH_GET_FIRST_WAIT = 0.05
BATCH_GET_MAX_WAIT = 1.0


@functools.cache
def client() -> DynamoDBClient:
    import boto3  # imported here so pure-domain imports stay free of boto3

    return boto3.client("dynamodb")


_process_client = client  # the name `client` is also the adapters' constructor argument
_CONDITION_FAILED = "ConditionalCheckFailed"


def _to_python(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_to_python(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_python(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_to_python(v) for v in value}
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """Python dict -> DynamoDB attribute map; None values are left out."""
    return {k: _serializer.serialize(v) for k, v in data.items() if v is not None}


def to_values(data: dict[str, Any]) -> dict[str, Any]:
    """Expression attribute values (`:name` -> value)."""
    return {k: _serializer.serialize(v) for k, v in data.items()}


def from_item(item: dict[str, Any]) -> Item:
    return {k: _to_python(_deserializer.deserialize(v)) for k, v in item.items()}


def batch_get(
    dynamodb: Any,
    table: str,
    item_keys: Sequence[dict[str, Any]],
    *,
    consistent: bool = False,
    projection: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> list[dict[str, Any]]:
    """The items of `item_keys` that exist (raw, in no particular order): BatchGetItem in chunks of
    100 keys. Keys DynamoDB leaves unprocessed (throughput exceeded) are asked again after a capped
    exponential backoff with full jitter, as AWS advises; still unprocessed after BATCH_GET_ROUNDS
    requests of a chunk -> TransientError. Keys must be unique."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(item_keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {"Keys": list(item_keys[start : start + BATCH_GET_LIMIT])}
        if consistent:
            request["ConsistentRead"] = True
        if projection:
            request["ProjectionExpression"] = projection
        pending: dict[str, Any] = {table: request}
        for round_ in range(BATCH_GET_ROUNDS):
            if round_:
                sleep(jitter() * min(BATCH_GET_MAX_WAIT, BATCH_GET_FIRST_WAIT * 2 ** (round_ - 1)))
            response = dynamodb.batch_get_item(RequestItems=pending)
            found += response.get("Responses", {}).get(table, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            left = len(pending.get(table, {}).get("Keys", []))
            raise TransientError(
                f"{left} keys still unprocessed after {BATCH_GET_ROUNDS} BatchGetItem rounds"
            )
    return found


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def get_item(dynamodb: Any, table: str, item_key: tuple[str, str], **options: Any) -> dict[str, Any] | None:
    """The raw item at `item_key` (a `keys` builder's PK/SK), strongly consistent; None when absent.
    `options` go to GetItem as they are (e.g. ProjectionExpression)."""
    response = dynamodb.get_item(TableName=table, Key=key(*item_key), ConsistentRead=True, **options)
    item: dict[str, Any] | None = response.get("Item")
    return item


def get_plain(dynamodb: Any, table: str, item_key: tuple[str, str]) -> Item | None:
    """`get_item` in plain values."""
    item = get_item(dynamodb, table, item_key)
    return from_item(item) if item else None


def get_attribute(dynamodb: Any, table: str, item_key: tuple[str, str], name: str) -> str | None:
    """One attribute of one item (strongly consistent), as text; None when the item or it is absent."""
    item = get_item(
        dynamodb, table, item_key, ProjectionExpression="#n", ExpressionAttributeNames={"#n": name}
    )
    if not item or name not in item:
        return None
    return str(from_item(item)[name])


def put_new(table: str, data: dict[str, Any]) -> dict[str, Any]:
    """A transaction's Put of a new item: it fails (ConditionalCheckFailed) if the key is taken."""
    return {
        "Put": {"TableName": table, "Item": to_item(data), "ConditionExpression": "attribute_not_exists(PK)"}
    }


def encode_cursor(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    plain = {k: _deserializer.deserialize(v) for k, v in last_evaluated_key.items()}
    raw = json.dumps(plain, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class CursorScope:
    """Where one paged Query reads, as its cursors must show: each key attribute of the listing (the
    index's and the table's) is either fixed (`equal`: the partition, an entity's sort key) or within a
    prefix (`prefix`: the query's begins_with range, an entity's key prefix; "" for any value)."""

    equal: Mapping[str, str] = field(default_factory=dict)
    prefix: Mapping[str, str] = field(default_factory=dict)

    @property
    def attributes(self) -> set[str]:
        return set(self.equal) | set(self.prefix)

    def holds(self, key: Mapping[str, str]) -> bool:
        return all(key[a] == v for a, v in self.equal.items()) and all(
            key[a].startswith(v) for a, v in self.prefix.items()
        )


def decode_cursor(cursor: str | None, scope: CursorScope) -> dict[str, Any] | None:
    """Client-supplied cursor -> ExclusiveStartKey of the listing `scope` describes.

    A cursor is the LastEvaluatedKey of a page (base64url JSON of its string attributes, docs/data-model.md).
    Accepted only when it has exactly the listing's key attributes and lies inside the listing (its
    partition, its range, an item of the listed entity): DynamoDB refuses a start key outside the
    query's boundaries (a 500 if passed on), so anything else is a 400 naming `cursor`."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("not a cursor this API issued") from None
    if (
        not isinstance(plain, dict)
        or set(plain) != scope.attributes
        or not all(isinstance(v, str) and 0 < len(v) <= 1024 for v in plain.values())
    ):
        raise InvalidCursor("not a cursor this API issued")
    if not scope.holds(plain):
        raise InvalidCursor("not a cursor of this listing (another filter, or not issued by this API)")
    return {k: {"S": v} for k, v in plain.items()}


class TableAdapter:
    """Base of the main table's adapters: the table's name and the DynamoDB client (the process's
    own unless one is given, e.g. a recording client in a test)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client or _process_client()


@dataclass(frozen=True)
class Cancelled:
    """A TransactWriteItems DynamoDB cancelled: the per-item reason codes (`cancellation_codes`), to
    say which part refused, and the error itself, to raise when no refusal explains it (a transient
    one, a conflict, becomes TransientError through `transient_errors`)."""

    error: ClientError
    codes: list[str]

    def refused(self, index: int) -> bool:
        """Did the condition of operation `index` fail?"""
        return self.codes[index : index + 1] == ["ConditionalCheckFailed"]


def transact(dynamodb: Any, operations: Sequence[Mapping[str, Any]]) -> Cancelled | None:
    """One TransactWriteItems: None when it committed, `Cancelled` when DynamoDB cancelled it. Any
    other error is raised as it is."""
    try:
        dynamodb.transact_write_items(TransactItems=list(operations))
    except ClientError as error:
        if not is_transaction_cancelled(error):
            raise
        return Cancelled(error, cancellation_codes(error))
    return None


@dataclass
class Transaction:
    """The parts of one TransactWriteItems, each with a role that names it in a cancellation."""

    items: list[dict[str, Any]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def add(self, role: str, *operations: dict[str, Any]) -> None:
        for operation in operations:
            self.roles.append(role)
            self.items.append(operation)

    def refused_roles(self, cancelled: Cancelled) -> set[str]:
        """The roles of the parts whose condition failed."""
        return {role for index, role in enumerate(self.roles) if cancelled.refused(index)}


def query_page(
    client: Any, query: dict[str, Any], cursor: str | None, scope: CursorScope
) -> tuple[list[Item], str | None]:
    """One page of `query` (plain items) from where `cursor`, of the listing `scope`, left off, and the
    cursor of the next page."""
    start = decode_cursor(cursor, scope)
    if start is not None:
        query = {**query, "ExclusiveStartKey": start}
    page = client.query(**query)
    return [from_item(i) for i in page.get("Items", [])], encode_cursor(page.get("LastEvaluatedKey"))


def cancellation_codes(error: Exception) -> list[str]:
    """The per-item reason codes of a cancelled TransactWriteItems (`None` for items that were fine)."""
    response = getattr(error, "response", {}) or {}
    reasons = response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


def is_conditional_failure(error: Exception) -> bool:
    response = getattr(error, "response", {}) or {}
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def is_transaction_cancelled(error: Exception) -> bool:
    response = getattr(error, "response", {}) or {}
    return bool(response.get("Error", {}).get("Code") == "TransactionCanceledException")


# Error codes of a DynamoDB call that a later attempt of the same call may not meet.
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
# Per-item reasons of a cancelled transaction: busy items (worth a retry) and refusals (final).
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_FINAL_REASONS = frozenset({"ConditionalCheckFailed", "ValidationError", "ItemCollectionSizeLimitExceeded"})


def is_transient(error: Exception) -> bool:
    """True when DynamoDB (or the network to it) said "not now" rather than "no": throttling, a
    transaction conflicting with another, a 5xx, a timeout or a lost connection. A cancelled
    transaction is transient only if no item refused it (a failed condition is an answer)."""
    if isinstance(error, BotocoreConnectionError | HTTPClientError):
        return True  # connect/read timeouts, EndpointConnectionError, connections closed mid-answer
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    code = response.get("Error", {}).get("Code")
    if code == "TransactionCanceledException":
        reasons = set(cancellation_codes(error))
        return bool(reasons & _TRANSIENT_REASONS) and not reasons & _FINAL_REASONS
    if code in _TRANSIENT_CODES:
        return True
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500


_Adapter = TypeVar("_Adapter", bound=type)


def _raising_transient(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as error:
            if is_transient(error):
                raise TransientError(f"{method.__qualname__}: {error}") from error
            raise

    return call


def transient_errors(cls: _Adapter) -> _Adapter:
    """Class decorator for the DynamoDB adapters: a transient error (`is_transient`) leaving any public
    method becomes `cloudtill.errors.TransientError`, the one error every caller retries (the state
    machine by class name, queue consumers by redelivery, API routes as 503). What a method handles
    itself (a failed condition, a conflict it retries) is decided inside, before this."""
    for name, attribute in list(vars(cls).items()):
        if name.startswith("_") or isinstance(attribute, staticmethod | classmethod):
            continue
        if not callable(attribute):
            continue
        setattr(cls, name, _raising_transient(attribute))
    return cls
