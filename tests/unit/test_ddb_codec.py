"""The DynamoDB item codec (cloudtill.ddb_codec): records to items and back, in the stored form."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import pytest
from boto3.dynamodb.types import TypeDeserializer
from cloudtill import keys
from cloudtill.ddb_codec import Attr, ItemCodec, RecordCodec, without_none
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    quantity: int
    note: str | None = None


@dataclass(frozen=True)
class Thing:
    id: str
    count: int
    active: bool
    colour: Colour
    kind: Literal["a", "b"]
    lines: tuple[Line, ...]
    tags: tuple[str, ...]
    counts: dict[str, int]
    when: datetime
    extra: dict[str, Any]
    price: Decimal
    optional: int | None = None
    since: str = "never"
    names: list[str] = field(default_factory=list)
    derived: int = field(init=False, default=0)


THINGS = ItemCodec(
    Thing,
    entity="thing",
    keys=lambda t: keys.item_keys(("THING#" + t.id, "THING"), gsi1=("THINGS", t.id)),
)

THING = Thing(
    id="t1",
    count=3,
    active=True,
    colour=Colour.BLUE,
    kind="b",
    lines=(Line("A", 2), Line("B", 1, "gift")),
    tags=("x", "y"),
    counts={"A": 2},
    when=datetime(2026, 12, 4, 10, 30, tzinfo=UTC),
    extra={"k": "v", "n": None},
    price=Decimal("1.25"),
)


def test_a_record_becomes_its_item_with_keys_entity_and_typed_attributes() -> None:
    assert THINGS.item(THING) == {
        "PK": {"S": "THING#t1"},
        "SK": {"S": "THING"},
        "GSI1PK": {"S": "THINGS"},
        "GSI1SK": {"S": "t1"},
        "entity": {"S": "thing"},
        "id": {"S": "t1"},
        "count": {"N": "3"},
        "active": {"BOOL": True},
        "colour": {"S": "blue"},
        "kind": {"S": "b"},
        # A None inside a nested map stays NULL (as boto3 writes it); at the top level it is left out.
        "lines": {
            "L": [
                {"M": {"sku": {"S": "A"}, "quantity": {"N": "2"}, "note": {"NULL": True}}},
                {"M": {"sku": {"S": "B"}, "quantity": {"N": "1"}, "note": {"S": "gift"}}},
            ]
        },
        "tags": {"L": [{"S": "x"}, {"S": "y"}]},
        "counts": {"M": {"A": {"N": "2"}}},
        "when": {"S": "2026-12-04T10:30:00+00:00"},
        "extra": {"M": {"k": {"S": "v"}, "n": {"NULL": True}}},
        "price": {"N": "1.25"},
        "since": {"S": "never"},
        "names": {"L": []},
    }


def test_an_item_read_back_is_the_record_again_with_ints_not_decimals() -> None:
    back = THINGS.from_item(THINGS.item(THING))
    assert back == THING
    assert type(back.count) is int and type(back.lines[0].quantity) is int
    assert type(back.counts["A"]) is int


def test_missing_attributes_read_as_the_declared_default_or_none_and_required_ones_fail() -> None:
    plain = THINGS.plain(THING)
    for absent in ("since", "names", "optional"):
        plain.pop(absent, None)
    back = THINGS.from_plain(plain)
    assert (back.since, back.names, back.optional) == ("never", [], None)
    del plain["count"]
    with pytest.raises(KeyError, match="Thing: the item has no attribute 'count'"):
        THINGS.from_plain(plain)


def test_attr_renames_converts_defaults_and_leaves_out() -> None:
    codec = ItemCodec(
        Thing,
        entity=None,
        keys=lambda t: keys.item_keys(("T", t.id)),
        attrs={
            "count": Attr(name="thing_count", default=7),
            "extra": Attr(encode=without_none),
            "tags": Attr(stored=False, default=()),
            "counts": Attr(
                encode=lambda c: [{"sku": k, "n": v} for k, v in c.items()],
                decode=lambda rows: {r["sku"]: int(r["n"]) for r in rows},
            ),
        },
    )
    plain = codec.plain(THING)
    assert "entity" not in plain and "tags" not in plain and "count" not in plain
    assert plain["thing_count"] == 3
    assert plain["extra"] == {"k": "v"}
    assert plain["counts"] == [{"sku": "A", "n": 2}]
    assert codec.value(THING, "counts") == [{"sku": "A", "n": 2}]
    del plain["thing_count"]
    back = codec.from_plain(plain)
    assert back.count == 7 and back.tags == ()
    assert back.counts == {"A": 2}


def test_declarations_the_codec_cannot_honour_are_refused() -> None:
    with pytest.raises(TypeError, match="no field"):
        RecordCodec(Line, attrs={"nope": Attr()})
    with pytest.raises(TypeError, match="not stored needs a default"):
        RecordCodec(Line, attrs={"sku": Attr(stored=False)})


class Rules(BaseModel):
    code: str
    value: int
    currency: str | None = None
    starts_at: AwareDatetime | None = None
    active: bool = True


@dataclass(frozen=True)
class Counted:
    rules: Rules
    redeemed: int
    created_at: str | None = None


COUNTED = ItemCodec(
    Counted, entity="counted", keys=lambda c: keys.item_keys(("C#" + c.rules.code, "C")), inline=("rules",)
)


def test_a_pydantic_record_inline_is_stored_as_top_level_attributes_in_its_json_form() -> None:
    record = Counted(Rules(code="X", value=5, starts_at=datetime(2026, 1, 1, tzinfo=UTC)), 2, "now")
    assert COUNTED.plain(record) == {
        "PK": "C#X",
        "SK": "C",
        "entity": "counted",
        "code": "X",
        "value": 5,
        "starts_at": "2026-01-01T00:00:00Z",  # pydantic's JSON form, not isoformat()
        "active": True,
        "redeemed": 2,
        "created_at": "now",
    }
    assert COUNTED.from_item(COUNTED.item(record)) == record
    # The inline record reads only its own attributes (not PK, entity, redeemed...).
    assert COUNTED.from_plain({"code": "X", "value": 5, "redeemed": 0}).rules == Rules(code="X", value=5)


def test_a_pydantic_record_as_a_whole_item() -> None:
    codec = ItemCodec(Rules, entity="rules", keys=lambda r: keys.item_keys(("R#" + r.code, "R")))
    rules = Rules(code="Y", value=1)
    expected = {"PK": "R#Y", "SK": "R", "entity": "rules", "code": "Y", "value": 1, "active": True}
    assert codec.plain(rules) == expected
    assert codec.from_item(codec.item(rules)) == rules


def test_nested_codecs_give_inner_records_their_own_attrs() -> None:
    codec = RecordCodec(Thing, nested=[RecordCodec(Line, attrs={"quantity": Attr(default=1)})])
    plain = codec.encode(THING)
    del plain["lines"][0]["quantity"]
    assert codec.decode(plain).lines[0] == Line("A", 1)


# -- round trip property ----------------------------------------------------------------------------

_text = st.text(min_size=1, max_size=12)
_int = st.integers(min_value=-(2**53), max_value=2**53)
_lines = st.builds(Line, sku=_text, quantity=_int, note=st.none() | _text)
_things = st.builds(
    Thing,
    id=_text,
    count=_int,
    active=st.booleans(),
    colour=st.sampled_from(Colour),
    kind=st.sampled_from(["a", "b"]),
    lines=st.lists(_lines, max_size=4).map(tuple),
    tags=st.lists(_text, max_size=3).map(tuple),
    counts=st.dictionaries(_text, _int, max_size=3),
    when=st.datetimes(timezones=st.just(UTC)),
    extra=st.dictionaries(_text, st.none() | _text | _int | st.booleans(), max_size=3),
    price=st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9),
    optional=st.none() | _int,
    since=_text,
    names=st.lists(_text, max_size=3),
)


@given(_things)
def test_every_record_survives_the_round_trip_through_its_stored_item(thing: Thing) -> None:
    item = THINGS.item(thing)
    # What DynamoDB stores and returns is exactly this attribute map: deserialize it as boto3 would.
    assert {k: TypeDeserializer().deserialize(v) for k, v in item.items()}["id"] == thing.id
    assert THINGS.from_item(item) == thing


@dataclass(frozen=True)
class Entry:
    sequence: int

    @property
    def id(self) -> str:
        return f"{self.sequence:04d}"


def test_derived_properties_are_written_and_not_read_back() -> None:
    codec = ItemCodec(Entry, entity="entry", keys=lambda e: keys.item_keys(("E", e.id)), derived=("id",))
    assert codec.plain(Entry(7)) == {"PK": "E", "SK": "0007", "entity": "entry", "sequence": 7, "id": "0007"}
    assert codec.from_item(codec.item(Entry(7))) == Entry(7)
