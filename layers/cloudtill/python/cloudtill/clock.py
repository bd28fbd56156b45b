"""The clock port: domain code asks it for the time so tests can move time.

Every timestamp the API answers with or an event carries has one format: RFC 3339 in UTC with
millisecond precision, `2026-12-04T10:15:22.693Z` (`iso`). The same strings are what the table
stores, so they also sort as strings. API models declare such fields as `Timestamp` (stored strings)
or `UtcDatetime` (parsed datetimes), which put any other RFC 3339 form into that one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, PlainSerializer, WithJsonSchema

TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
TIMESTAMP_EXAMPLE = "2026-12-04T10:15:22.693Z"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC timestamp as ISO 8601 with `Z`, millisecond precision (sortable as a string)."""
    utc = moment.astimezone(UTC)
    # Formatted by hand: strftime's %Y does not pad years before 1000 on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}Z"
    )


def parse(value: str) -> datetime:
    """An RFC 3339 timestamp (`Z` or an offset); one without an offset is taken as UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, str):
        try:
            return iso(parse(value))
        except (ValueError, OverflowError):
            return value  # left to the str validation (and the schema's pattern) to judge
    return value


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a moment from year 1 to 9999 in UTC") from None


_ANSWER_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": TIMESTAMP_PATTERN,
    "examples": [TIMESTAMP_EXAMPLE],
}

# A timestamp held as a string (as stored): answered in the one format whatever form it came in.
Timestamp = Annotated[str, BeforeValidator(_canonical), WithJsonSchema(_ANSWER_SCHEMA)]

# A timestamp a client sends (any RFC 3339 form with an offset), answered in the one format.
UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_in_utc),
    PlainSerializer(iso, return_type=str, when_used="json"),
    WithJsonSchema(_ANSWER_SCHEMA, mode="serialization"),
]
