"""SQS batches with partial failures, the one way every queue consumer handles them.

A consumer handles its whole batch at once (one read of what the batch needs, one transaction per
group of events), so Powertools' record-by-record `BatchProcessor` does not fit; this is its batch-wide
counterpart. Each message body is parsed on its own: one that cannot be parsed is logged (by message
id) and reported failed, so after three receives the DLQ keeps it for a human. The parsed values are
handled together; the handler returns one outcome per value, an exception for those that failed, and
a handler that raises fails the whole batch. Every failed record is in `batchItemFailures`, so SQS
delivers exactly those again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cloudtill.observability import logger

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Handled(Generic[T, R]):
    """One parsed record and what handling it gave (an exception: it failed and is delivered again)."""

    record: dict[str, Any]
    value: T
    outcome: R | Exception

    @property
    def message_id(self) -> str:
        return str(self.record["messageId"])

    @property
    def failed(self) -> bool:
        return isinstance(self.outcome, Exception)


@dataclass(frozen=True)
class BatchResult(Generic[T, R]):
    handled: list[Handled[T, R]]
    unreadable: list[str]  # message ids whose body could not be parsed

    def response(self) -> dict[str, Any]:
        """What Lambda's SQS event source mapping reads (ReportBatchItemFailures)."""
        failed = [*self.unreadable, *(h.message_id for h in self.handled if h.failed)]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def handle_sqs_batch(
    records: Sequence[dict[str, Any]],
    parse: Callable[[str], T],
    handle: Callable[[list[T]], Sequence[R | Exception]],
) -> BatchResult[T, R]:
    """`parse` each body (a ValueError: unreadable), then `handle` every readable value at once."""
    readable: list[tuple[dict[str, Any], T]] = []
    unreadable: list[str] = []
    for record in records:
        try:
            readable.append((record, parse(record["body"])))
        except ValueError:
            # Not an event at all: retrying cannot help; the DLQ keeps it for a human.
            logger.exception("unreadable queue message", extra={"message_id": record.get("messageId")})
            unreadable.append(str(record["messageId"]))
    values = [value for _, value in readable]
    outcomes: Sequence[R | Exception]
    try:
        outcomes = handle(values) if values else []
    except Exception as error:  # the batch-wide step failed: every record is retried
        outcomes = [error] * len(values)
    handled = [
        Handled(record, value, outcome) for (record, value), outcome in zip(readable, outcomes, strict=True)
    ]
    return BatchResult(handled, unreadable)
