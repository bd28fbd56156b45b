"""The DynamoDB item codec: one typed record <-> one item, driven by the record's own fields.

A record is a dataclass or a pydantic model (`<domain>/records.py`). Its codec is declared once, in
the domain's adapter, next to the key builders of `cloudtill.keys`:

    CHECKOUT = ItemCodec(
        CheckoutRecord,
        entity="checkout",
        keys=lambda r: keys.item_keys(keys.checkout(r.id), gsi2=keys.customer_index(...)),
        attrs={"backorder_limits": Attr(stored=False), "marketing_consent": Attr(default=False)},
    )
    put = {"Put": {"TableName": table, "Item": CHECKOUT.item(record), ...}}
    record = CHECKOUT.from_item(response["Item"])

API (stable; other domains' adapters build on it):

* `ItemCodec(record_type, *, entity, keys, attrs=None, nested=(), inline=(), derived=())`
  - `.item(record)` -> the DynamoDB attribute map (`{"id": {"S": ...}, ...}`) for a Put;
  - `.plain(record)` -> the same item as plain Python values (what `ddb.to_item` serializes);
  - `.from_item(item)` -> the record of a raw item (GetItem, Query, a transaction's ALL_NEW);
  - `.from_plain(mapping)` -> the record of an item already in plain values (`ddb.from_item`);
  - `.value(record, field)` -> one field's stored (plain) value, for update expressions.
* `RecordCodec(record_type, *, attrs=None, nested=(), inline=(), derived=())`: the same without keys, for a
  record stored inside another (a line in a list, a map attribute): `.encode(record)` / `.decode(m)`.
  `nested=` gives the codecs of such inner record types when they need `attrs`; any other inner
  dataclass or pydantic model gets a plain codec of its fields.
* `Attr(name=None, default=MISSING, encode=None, decode=None, stored=True)`: a field's exceptions:
  another attribute name, the value when the item lacks the attribute (items written before the field
  existed, attributes an erasure removed), a custom conversion, or not stored at all.
* `without_none(mapping)`: an `encode` for a free-form map whose None values are left out.

The stored form, field by field (an item keeps the attribute names and types written so far):

* attribute name = field name (`Attr(name=...)` otherwise); fields declared `init=False` (derived)
  and `Attr(stored=False)` are not stored;
* str, bool, int, Decimal as themselves (DynamoDB `S`, `BOOL`, `N`); read back, an int field is an
  int again (DynamoDB returns every number as Decimal), a float field a float;
* an Enum by its value; a Literal as its value; a datetime as `datetime.isoformat()` (fields stored
  in another format, e.g. `cloudtill.clock.iso`, are typed `str` in the record or use `Attr(encode=)`);
* a tuple or list (of anything here) as a list `L`; a dict as a map `M`;
* a nested dataclass as a map of its fields; a pydantic model as `model_dump(mode="json")` (read with
  `model_validate`);
* `derived=("prop",)`: properties of the record stored beside its fields (written, not read back:
  the record derives them again), e.g. an id computed from a sequence number;
* `inline=("field",)`: that field's record is stored as top-level attributes of the item instead of
  a map (a promotion's rules beside its counter);
* None: LEFT OUT at the top level of an item (no attribute; read back as the field's default, or None
  for an optional field) but kept as `NULL` inside a nested map, as boto3's serializer writes it.

Reading an item that lacks an attribute: `Attr(default=)`, else the dataclass default, else None for
an optional field, else `KeyError` naming the record and the attribute (a corrupt item is an error,
not a silently invented value).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel

from cloudtill import ddb

R = TypeVar("R")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # Attr.default when no default is declared


@dataclasses.dataclass(frozen=True)
class Attr:
    """How one field of a record is stored, where it differs from the rules of this module."""

    name: str | None = None
    default: Any = MISSING
    encode: Callable[[Any], Any] | None = None
    decode: Callable[[Any], Any] | None = None
    stored: bool = True


def without_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A free-form map as stored when its absent entries are left out rather than stored as NULL."""
    return {k: v for k, v in mapping.items() if v is not None}


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    attribute: str
    hint: Any
    attr: Attr
    default: Callable[[], Any] | None  # None when the item must hold the attribute
    optional: bool


def _same(value: Any) -> Any:
    return value


def _left_to_model() -> Any:  # a marker: the pydantic model applies its own default
    raise AssertionError("never called")


def _is_record_type(hint: Any) -> bool:
    return isinstance(hint, type) and (dataclasses.is_dataclass(hint) or issubclass(hint, BaseModel))


def _optional(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return (origin is typing.Union or origin is types.UnionType) and type(None) in typing.get_args(hint)


@functools.cache
def _hints(record_type: type) -> dict[str, Any]:
    return typing.get_type_hints(record_type)


class RecordCodec(Generic[R]):
    """A record <-> a plain map of its stored fields (None kept: see the module docstring)."""

    def __init__(
        self,
        record_type: type[R],
        *,
        attrs: Mapping[str, Attr] | None = None,
        nested: Iterable[RecordCodec[Any]] = (),
        inline: Iterable[str] = (),
        derived: Iterable[str] = (),
    ) -> None:
        self.record_type = record_type
        self._derived = tuple(derived)
        self._nested: dict[type, RecordCodec[Any]] = {c.record_type: c for c in nested}
        self._inline = frozenset(inline)
        attrs = dict(attrs or {})
        self._pydantic = issubclass(record_type, BaseModel)
        self._fields = self._declared_fields(attrs)
        unknown = set(attrs) - {f.name for f in self._fields} - self._derived_names()
        if unknown or not self._inline <= {f.name for f in self._fields}:
            raise TypeError(f"{record_type.__name__} has no field {sorted(unknown | self._inline)}")
        for f in self._fields:
            if not f.attr.stored and f.default is None:
                raise TypeError(f"{record_type.__name__}.{f.name}: a field not stored needs a default")

    def _derived_names(self) -> set[str]:
        if self._pydantic:
            return set()
        return {f.name for f in dataclasses.fields(cast(Any, self.record_type)) if not f.init}

    def _declared_fields(self, attrs: Mapping[str, Attr]) -> tuple[_Field, ...]:
        hints = _hints(cast(type, self.record_type))
        declared: list[tuple[str, Callable[[], Any] | None]] = []  # name, default (None: required)
        if self._pydantic:
            model = cast(type[BaseModel], self.record_type)
            for name, info in model.model_fields.items():
                # pydantic fills its own defaults: only a required field needs the attribute.
                declared.append((name, None if info.is_required() else _left_to_model))
        else:
            for f in dataclasses.fields(cast(Any, self.record_type)):
                if not f.init:
                    continue  # derived in __post_init__, never stored
                if f.default is not dataclasses.MISSING:
                    declared.append((f.name, functools.partial(_same, f.default)))
                elif f.default_factory is not dataclasses.MISSING:
                    declared.append((f.name, f.default_factory))
                else:
                    declared.append((f.name, None))
        result = []
        for name, default in declared:
            attr = attrs.get(name, Attr())
            if attr.default is not MISSING:
                default = functools.partial(_same, attr.default)
            hint = hints[name]
            result.append(_Field(name, attr.name or name, hint, attr, default, _optional(hint)))
        return tuple(result)

    # -- record -> plain ---------------------------------------------------------------------------

    def encode(self, record: R) -> dict[str, Any]:
        """The record's stored fields as plain values, None included (NULL inside a map)."""
        if self._pydantic and not self._inline:
            dumped = cast(BaseModel, record).model_dump(mode="json")
            stored: dict[str, Any] = {
                f.attribute: self._encode_field(f, getattr(record, f.name), dumped) for f in self._stored()
            }
            return stored | {name: self._encode_value(getattr(record, name)) for name in self._derived}
        plain: dict[str, Any] = {}
        for f in self._stored():
            value = getattr(record, f.name)
            if f.name in self._inline:
                plain.update(self._codec_for(type(value)).encode(value))
            else:
                plain[f.attribute] = self._encode_field(f, value, None)
        for name in self._derived:
            plain[name] = self._encode_value(getattr(record, name))
        return plain

    def _stored(self) -> Iterable[_Field]:
        return (f for f in self._fields if f.attr.stored)

    def _encode_field(self, f: _Field, value: Any, dumped: Mapping[str, Any] | None) -> Any:
        if f.attr.encode is not None:
            return f.attr.encode(value)
        if dumped is not None:
            return dumped[f.name]
        return self._encode_value(value)

    def _encode_value(self, value: Any) -> Any:
        if value is None or isinstance(value, str | bool | int | Decimal):
            return value
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, float):
            return Decimal(repr(value))
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, tuple | list):
            return [self._encode_value(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self._encode_value(v) for k, v in value.items()}
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._codec_for(type(value)).encode(value)
        raise TypeError(f"{self.record_type.__name__}: cannot store a {type(value).__name__}")

    def _codec_for(self, record_type: type) -> RecordCodec[Any]:
        codec = self._nested.get(record_type)
        if codec is None:
            codec = self._nested[record_type] = RecordCodec(record_type)
        return codec

    # -- plain -> record ---------------------------------------------------------------------------

    def decode(self, plain: Mapping[str, Any]) -> R:
        """The record of a plain map (what `encode` gives, or `ddb.from_item` of a stored item)."""
        values: dict[str, Any] = {}
        for f in self._fields:
            raw = plain.get(f.attribute) if f.attr.stored else None
            if f.name in self._inline:
                values[f.name] = self._decode_inline(f, plain)
            elif raw is not None:
                values[f.name] = f.attr.decode(raw) if f.attr.decode else self._decode_value(f.hint, raw)
            elif f.default is _left_to_model:
                continue
            elif f.default is not None:
                values[f.name] = f.default()
            elif f.optional or (f.attr.stored and f.attribute in plain):
                values[f.name] = None  # absent, or stored as NULL
            else:
                raise KeyError(f"{self.record_type.__name__}: the item has no attribute {f.attribute!r}")
        if self._pydantic:
            return cast(R, cast(type[BaseModel], self.record_type).model_validate(values))
        return self.record_type(**values)

    def _decode_inline(self, f: _Field, plain: Mapping[str, Any]) -> Any:
        inner = self._codec_for(f.hint)
        own = {g.attribute for g in inner._fields}
        return inner.decode({k: v for k, v in plain.items() if k in own})

    def _decode_value(self, hint: Any, value: Any) -> Any:
        if value is None:
            return None
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is Any or hint is object:
            return value
        if origin is typing.Union or origin is types.UnionType:
            present = [a for a in args if a is not type(None)]
            return self._decode_value(present[0], value) if len(present) == 1 else value
        if origin is typing.Literal:
            return value
        if origin is typing.Annotated:
            return self._decode_value(args[0], value)
        if hint is bool:
            return bool(value)
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
        if hint is Decimal:
            return Decimal(str(value))
        if hint is str:
            return str(value)
        if hint is datetime:
            return datetime.fromisoformat(value)
        if origin in (tuple, list):
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                return tuple(self._decode_value(a, v) for a, v in zip(args, value, strict=True))
            inner = args[0] if args else Any
            items = [self._decode_value(inner, v) for v in value]
            return tuple(items) if origin is tuple else items
        if hint in (tuple, list):
            return hint(value)
        if origin is dict or hint is dict:
            inner = args[1] if len(args) == 2 else Any
            return {k: self._decode_value(inner, v) for k, v in value.items()}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return hint(value)
        if isinstance(hint, type) and issubclass(hint, BaseModel) and hint not in self._nested:
            return hint.model_validate(value)
        if _is_record_type(hint):
            return self._codec_for(hint).decode(value)
        return value


class ItemCodec(RecordCodec[R]):
    """A record <-> its item: the key attributes (`keys`), the `entity` name and the stored fields."""

    def __init__(
        self,
        record_type: type[R],
        *,
        entity: str | None,
        keys: Callable[[R], Mapping[str, str]],
        attrs: Mapping[str, Attr] | None = None,
        nested: Iterable[RecordCodec[Any]] = (),
        inline: Iterable[str] = (),
        derived: Iterable[str] = (),
    ) -> None:
        super().__init__(record_type, attrs=attrs, nested=nested, inline=inline, derived=derived)
        self.entity = entity
        self._keys = keys

    def plain(self, record: R) -> dict[str, Any]:
        """The whole item in plain values: keys, `entity`, fields; top-level None left out."""
        fields = {k: v for k, v in self.encode(record).items() if v is not None}
        head: dict[str, Any] = dict(self._keys(record))
        if self.entity is not None:
            head["entity"] = self.entity
        return {**head, **fields}

    def item(self, record: R) -> dict[str, Any]:
        """The DynamoDB attribute map of the record's item (the `Item` of a Put)."""
        return ddb.to_item(self.plain(record))

    def from_plain(self, plain: Mapping[str, Any]) -> R:
        return self.decode(plain)

    def from_item(self, item: Mapping[str, Any]) -> R:
        return self.decode(ddb.from_item(dict(item)))

    def value(self, record: R, field: str) -> Any:
        """One field's value as stored (for `ExpressionAttributeValues` of an update)."""
        for f in self._fields:
            if f.name == field and f.attr.stored and field not in self._inline:
                return self.encode(record)[f.attribute]
        raise KeyError(f"{self.record_type.__name__} has no field {field!r}")
