"""The real DynamoDB adapters and the queue handler's batch path against moto (in process, no sockets),
counting DynamoDB round trips: one BatchGetItem per batch for the reads, then the claim and the `sent`
update per e-mail. Also pins that the fewer reads keep the guarantees: a redelivered batch sends nothing
and writes nothing, a racing consumer that read before the winner wrote still sends nothing, suppressed
addresses are recorded, a failed send leaves `failed` and fails the record."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import moto
import pytest
from cloudtill import ddb, keys
from cloudtill.notifications.dynamo import (
    DynamoContacts,
    DynamoNotificationLog,
    DynamoPrefetcher,
    DynamoSuppressions,
)
from cloudtill.notifications.ports import ReadAhead, address_hash, recipient_hash
from cloudtill.notifications.rendering import Renderer
from cloudtill.notifications.service import NotificationConfig, NotificationService

from tests.fakes import FakeMailer, FakeSmsSender, FixedClock

TABLE = "cloudtill-main-test"
ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "functions" / "notifications" / "templates"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """A moto table; yields the count of DynamoDB operations our code makes (not the test's setup)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ddb.client.cache_clear()
    calls: Counter[str] = Counter()
    with moto.mock_aws():
        client = ddb.client()
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )

        def count(model: Any, **_: Any) -> None:
            calls[model.name] += 1

        client.meta.events.register("before-call.dynamodb.*", count)
        yield calls
    ddb.client.cache_clear()


def put(item: dict[str, Any]) -> None:
    ddb.client().put_item(TableName=TABLE, Item=ddb.to_item(item))


def checkout(n: int, *, phone: str | None = None, consent: bool = False) -> None:
    pk, sk = keys.checkout(f"chk_{n}")
    put(
        {
            "PK": pk,
            "SK": sk,
            "email": f"shopper{n}@example.com",
            "phone": phone,
            "marketing_consent": consent,
            "currency": "EUR",
            "total": 2494,
            "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 1999, "line_total": 1999}],
            "order_id": f"ord_{n}",
            "status": "completed",
        }
    )


def confirmed(n: int) -> dict[str, Any]:
    detail = {
        "order_id": f"ord_{n}",
        "checkout_id": f"chk_{n}",
        "email": f"shopper{n}@example.com",
        "currency": "EUR",
        "subtotal": 1999,
        "discount": 0,
        "shipping": 495,
        "tax": 466,
        "total": 2494,
        "shipping_address": {
            "name": "G",
            "line1": "1 St",
            "city": "Cork",
            "postal_code": "T12",
            "country": "IE",
        },
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 1999, "line_total": 1999}],
        "event_id": f"evt-{n}",
    }
    body = {"id": f"bus-{n}", "detail-type": "OrderConfirmed", "source": "cloudtill.orders", "detail": detail}
    return {"messageId": f"m-{n}", "body": json.dumps(body)}


class Stack:
    """What functions/notifications/handler.py wires, with fake senders."""

    def __init__(self, prefetcher: DynamoPrefetcher | None = None) -> None:
        self.clock = FixedClock()
        self.mailer = FakeMailer()
        self.sms = FakeSmsSender()
        self.prefetcher = prefetcher or DynamoPrefetcher(TABLE)
        self.service = NotificationService(
            config=NotificationConfig(
                sender_email="shop@example.com",
                ops_email="ops@example.com",
                storefront_url="https://shop.example",
                shop_name="Demo",
            ),
            renderer=Renderer(
                TEMPLATES, "en_IE", {"name": "Demo", "url": "https://shop.example", "language": "en"}
            ),
            mailer=self.mailer,
            sms=self.sms,
            log=DynamoNotificationLog(TABLE, self.clock, timedelta(seconds=60), self.prefetcher),
            suppressions=DynamoSuppressions(TABLE, self.clock, self.prefetcher),
            contacts=DynamoContacts(TABLE, self.prefetcher),
            prefetcher=self.prefetcher,
        )

    def run(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = HANDLER[0].handle_queue_records(records, self.service)
        return result


HANDLER: list[ModuleType] = []


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real handler module (it reads the stack settings at import)."""
    if not HANDLER:
        monkeypatch.setenv("TABLE_NAME", TABLE)
        spec = importlib.util.spec_from_file_location(
            "notifications_handler", ROOT / "functions/notifications/handler.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        HANDLER.append(module)


def record_status(n: int) -> str | None:
    pk, sk = keys.notification(f"evt-{n}", recipient_hash("email", f"shopper{n}@example.com"))
    found = ddb.client().get_item(TableName=TABLE, Key=ddb.key(pk, sk), ConsistentRead=True)
    return str(found["Item"]["status"]["S"]) if "Item" in found else None


def test_one_email_alone_costs_one_read_and_two_writes(dynamodb: Counter[str], handler_env: None) -> None:
    checkout(1)
    stack = Stack()
    dynamodb.clear()
    assert stack.run([confirmed(1)]) == {"batchItemFailures": []}
    assert len(stack.mailer.sent) == 1
    # Before: GetItem checkout + GetItem suppression + UpdateItem claim + UpdateItem sent = 4.
    assert dynamodb == Counter({"BatchGetItem": 1, "UpdateItem": 2})
    assert record_status(1) == "sent"


def test_a_batch_of_ten_reads_once(dynamodb: Counter[str], handler_env: None) -> None:
    for n in range(10):
        checkout(n)
    stack = Stack()
    dynamodb.clear()
    assert stack.run([confirmed(n) for n in range(10)]) == {"batchItemFailures": []}
    assert len(stack.mailer.sent) == 10
    assert dynamodb["GetItem"] == 0
    assert dynamodb["BatchGetItem"] <= 1
    assert sum(dynamodb.values()) <= 21  # 2.1 per e-mail (was 40)


def test_a_redelivered_batch_sends_nothing_and_writes_nothing(
    dynamodb: Counter[str], handler_env: None
) -> None:
    for n in range(10):
        checkout(n)
    stack = Stack()
    stack.run([confirmed(n) for n in range(10)])
    dynamodb.clear()
    again = Stack()
    assert again.run([confirmed(n) for n in range(10)]) == {"batchItemFailures": []}
    assert again.mailer.sent == []
    assert dynamodb == Counter({"BatchGetItem": 1})
    assert {record_status(n) for n in range(10)} == {"sent"}


def test_the_same_event_twice_in_one_batch_sends_once(dynamodb: Counter[str], handler_env: None) -> None:
    checkout(1)
    stack = Stack()
    duplicate = {**confirmed(1), "messageId": "m-1-again"}
    assert stack.run([confirmed(1), duplicate]) == {"batchItemFailures": []}
    assert len(stack.mailer.sent) == 1


class ReadThenLetOtherWin(DynamoPrefetcher):
    """A consumer whose batch read happens before another consumer claims and sends the same e-mail."""

    def __init__(self, other: Stack, records: list[dict[str, Any]]) -> None:
        super().__init__(TABLE)
        self._other: Stack | None = other
        self._records = records

    def prefetch(self, wanted: ReadAhead) -> None:
        super().prefetch(wanted)
        if self._other is not None:
            other, self._other = self._other, None
            assert other.run(self._records) == {"batchItemFailures": []}


def test_a_racing_consumer_that_read_before_the_winner_wrote_sends_nothing(
    dynamodb: Counter[str], handler_env: None
) -> None:
    checkout(1)
    winner = Stack()
    loser = Stack(ReadThenLetOtherWin(winner, [confirmed(1)]))
    # The loser read "no record", then the winner sent; the loser's conditional claim must refuse.
    assert loser.run([confirmed(1)]) == {"batchItemFailures": []}
    assert len(winner.mailer.sent) == 1
    assert loser.mailer.sent == []
    assert record_status(1) == "sent"


def test_a_suppressed_address_is_recorded_not_sent(dynamodb: Counter[str], handler_env: None) -> None:
    checkout(1)
    pk, sk = keys.suppression(address_hash("shopper1@example.com"))
    put({"PK": pk, "SK": sk, "entity": "suppression", "reason": "bounce"})
    stack = Stack()
    dynamodb.clear()
    assert stack.run([confirmed(1)]) == {"batchItemFailures": []}
    assert stack.mailer.sent == []
    assert dynamodb == Counter({"BatchGetItem": 1, "UpdateItem": 2})
    assert record_status(1) == "suppressed"


def test_a_failed_send_fails_only_its_record_and_leaves_it_failed(
    dynamodb: Counter[str], handler_env: None
) -> None:
    checkout(1)
    checkout(2)
    stack = Stack()
    stack.mailer.fail_next = 1
    assert stack.run([confirmed(1), confirmed(2)]) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert record_status(1) == "failed"
    assert record_status(2) == "sent"
    # The redelivery of the failed record sends it; the other is not sent again.
    assert Stack().run([confirmed(1), confirmed(2)]) == {"batchItemFailures": []}
    assert [record_status(1), record_status(2)] == ["sent", "sent"]


def test_sms_recipients_are_read_in_a_second_batch_read(dynamodb: Counter[str], handler_env: None) -> None:
    checkout(1, phone="+353 1 234 5678", consent=True)
    stack = Stack()
    dynamodb.clear()
    assert stack.run([confirmed(1)]) == {"batchItemFailures": []}
    assert (len(stack.mailer.sent), len(stack.sms.sent)) == (1, 1)
    assert dynamodb == Counter({"BatchGetItem": 2, "UpdateItem": 4})


def test_unprocessed_keys_are_retried_then_fall_back_to_single_reads(
    dynamodb: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout(1)
    client = ddb.client()
    real = client.batch_get_item
    answers: list[int] = []

    def stingy(**request: Any) -> dict[str, Any]:
        """Processes one key per call, leaving the rest unprocessed (as DynamoDB may under load)."""
        spec = next(iter(request["RequestItems"].values()))
        first, rest = spec["Keys"][:1], spec["Keys"][1:]
        response = dict(real(RequestItems={TABLE: {**spec, "Keys": first}}))
        answers.append(len(first))
        if rest:
            response["UnprocessedKeys"] = {TABLE: {**spec, "Keys": rest}}
        return response

    monkeypatch.setattr(client, "batch_get_item", stingy)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    prefetcher = DynamoPrefetcher(TABLE)
    wanted = ReadAhead(
        checkouts=frozenset({"chk_1", "chk_2", "chk_3", "chk_4", "chk_5", "chk_6"}),
        emails=frozenset({"a@example.com"}),
    )
    prefetcher.prefetch(wanted)
    assert answers == [1, 1, 1, 1]  # the first request and three retries of what was left
    contacts = DynamoContacts(TABLE, prefetcher)
    suppressions = DynamoSuppressions(TABLE, FixedClock(), prefetcher)
    dynamodb.clear()
    # Answered by the batch read, found or not: no round trip.
    contact = contacts.of_checkout("chk_1")
    assert contact is not None and contact.email == "shopper1@example.com"
    assert contacts.of_checkout("chk_4") is None
    assert dynamodb == Counter()
    # Left unprocessed: read on its own, never assumed absent.
    assert contacts.of_checkout("chk_5") is None
    assert suppressions.is_suppressed("a@example.com") is False
    assert dynamodb == Counter({"GetItem": 2})
