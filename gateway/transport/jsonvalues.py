"""Between spyne models and plain JSON values, with Znuny's leniency in and exact types out.

Clients written for Perl send numbers as strings and strings as numbers, one value where a
list is allowed and a list where one is expected once. Incoming values are coerced to the
model; outgoing values take the JSON type their model field declares.

A value that is no object where a structure belongs (`"Ticket": "open"`, a number, a list of
several) arrives as that structure without data, as SOAP's `<Ticket>open</Ticket>` does: the
operation answers it the way Znuny does (TicketUpdate.InvalidParameter "Ticket parameter is not
valid!"), not the transport. A wrongly typed single value (an object where a string belongs) is
still a 400 that names the field.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from spyne import AnyDict, Boolean, ComplexModelBase, Decimal, Double, Integer, Unicode
from spyne.error import ValidationError

from gateway.jsonquirks import AS_GIVEN, ID_OR_EMPTY, NULLABLE, NUMBER, ONE_OR_MANY
from gateway.redaction import REDACTED, is_secret
from gateway.wirenumbers import MAX_BIGINT, integer

_COMPLEX, _INT, _STR, _NUM, _BOOL, _ANY, _ID_OR_EMPTY, _AS_GIVEN = range(8)


def _quirks(cls: type, name: str) -> tuple[str, ...]:
    quirk = getattr(cls, "__json__", {}).get(name, ())
    return quirk if isinstance(quirk, tuple) else (quirk,)


def _kind(field: type) -> int:
    if issubclass(field, ComplexModelBase):
        return _COMPLEX
    if issubclass(field, Integer):
        return _INT
    if issubclass(field, Boolean):
        return _BOOL
    if issubclass(field, Decimal | Double):
        return _NUM
    if issubclass(field, AnyDict):
        return _ANY
    return _STR


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, type, bool | str, int], ...]:
    """(name, model, many, kind) per field; `many` is ONE_OR_MANY for lists sent bare when single."""
    fields = []
    for name, field in ComplexModelBase.get_flat_type_info(cls).items():
        quirks = _quirks(cls, name)
        kind = next(
            (k for quirk, k in ((NUMBER, _NUM), (ID_OR_EMPTY, _ID_OR_EMPTY), (AS_GIVEN, _AS_GIVEN)) if quirk in quirks),
            _kind(field),
        )
        many = field.Attributes.max_occurs > 1
        fields.append((name, field, ONE_OR_MANY if many and ONE_OR_MANY in quirks else many, kind))
    return tuple(fields)


_JSON_NAMES = {
    _COMPLEX: "object",
    _INT: "integer",
    _BOOL: "integer",
    _NUM: "number",
    _STR: "string",
    _ANY: "any",
    _ID_OR_EMPTY: "any",
    _AS_GIVEN: "any",
}


def describe(cls: type) -> list[tuple[str, type, bool, str, bool]]:
    """(name, model, is a list, JSON type, may be null) per field, quirks included: what OpenAPI documents."""
    return [
        (name, field, bool(many), _JSON_NAMES[kind], NULLABLE in _quirks(cls, name))
        for name, field, many, kind in _fields(cls)
    ]


def to_model(cls: type, data: dict[str, Any], path: str = "") -> Any:
    """Build a request object from merged request data; unknown keys are ignored, as in Znuny."""
    prefixed = getattr(cls, "__json_prefixed__", None)
    if prefixed:
        data = _gather_prefixed(data, *prefixed)
    values: dict[str, Any] = {}
    for name, field, many, kind in _fields(cls):
        value = data.get(name)
        if value is None or (value == "" and kind == _COMPLEX):  # Znuny reads "" as absent ("Sign": "")
            continue
        where = f"{path}{name}"
        if many and kind == _COMPLEX and not isinstance(value, list) and not (isinstance(value, dict) and value):
            values[name] = []  # given without data (`{}`, a string): Znuny tells it from a list holding `{}`
        elif many:
            values[name] = [
                _coerce(field, kind, item, where) for item in (value if isinstance(value, list) else [value])
            ]
        else:
            if isinstance(value, list) and kind != _ANY:
                if len(value) == 1:
                    value = value[0]
                elif kind != _COMPLEX:
                    raise _invalid(value, where, "one value is expected, got a list (%r)")
            values[name] = _coerce(field, kind, value, where)
    # descriptors hold customized copies of the models; spyne warns (with a stack dump) when one is built
    model: Any = getattr(cls, "__orig__", None) or cls
    blank = _blank(model)
    if blank is None:
        return model(**values)
    instance = model.__new__(model)
    instance.__dict__.update(blank)
    instance.__dict__.update(values)
    return instance


@functools.cache
def _blank(model: type) -> dict[str, Any] | None:
    """The members a new instance of `model` starts with (its defaults, else None), where that is all spyne's
    ComplexModel.__init__ does: it walks every member's attributes at each instance, which for a
    TicketSearch (73 members) cost a fifth of the request. None: a model __init__ must build."""
    attributes: Any = getattr(model, "Attributes", None)
    if (
        model.__init__ is not ComplexModelBase.__init__  # type: ignore[misc]
        or getattr(attributes, "_xml_tag_body_as", None) is not None
        or hasattr(model, "_sa_class_manager")
    ):
        return None
    blank: dict[str, Any] = {}
    for name, field in ComplexModelBase.get_flat_type_info(model).items():
        member = field.Attributes
        if member.default_factory is not None or member.read_only or isinstance(getattr(model, name, None), property):
            return None
        blank[name] = member.default
    return blank


def _gather_prefixed(data: dict[str, Any], prefix: str, target: str, key: str) -> dict[str, Any]:
    """`<prefix><Name>: {...}` keys become `{key: Name, ...}` entries of the list under `target`."""
    extra = [
        {key: name[len(prefix) :], **value}
        for name, value in data.items()
        if name.startswith(prefix) and isinstance(value, dict)
    ]
    if not extra:
        return data
    existing = data.get(target) or []
    return {**data, target: (existing if isinstance(existing, list) else [existing]) + extra}


def _coerce(field: type, kind: int, value: Any, where: str) -> Any:
    if kind == _COMPLEX:
        # a model may accept a plain string for itself (PendingTime: "2026-12-01 10:00")
        if isinstance(value, str) and hasattr(field, "from_text"):
            value = field.from_text(value)
        return to_model(field, value if isinstance(value, dict) else {}, where + ".")
    if kind == _ANY:
        return value
    if isinstance(value, dict | list):
        raise _invalid(value, where, "a single value is expected, got %r")
    if kind == _NUM and not issubclass(field, Unicode):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _invalid(value, where, "a number is expected, got %r") from None
    if kind in (_STR, _NUM, _ID_OR_EMPTY):
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, str) and "\x00" in value:
            # no database stores it (PostgreSQL refuses, SQLite cuts the string), and no client means it
            raise _invalid(value, where, "NUL characters are not allowed in %r")
        return value if isinstance(value, str) else str(value)
    if kind in (_INT, _BOOL):
        number = int(value) if isinstance(value, bool) else integer(value, low=-MAX_BIGINT)
        if number is None:
            raise _invalid(value, where, "a whole number is expected, got %r")
        return number
    return value


def _invalid(value: Any, where: str, problem: str) -> ValidationError:
    """A fault naming the field and quoting its value (`problem` holds `%r`), unless the field is a secret:
    a fault is shown to the client, kept in the communication log and perhaps in a proxy's log."""
    return ValidationError(REDACTED if is_secret(where.rpartition(".")[2]) else value, f"{where}: {problem}")


def encodable(document: Any) -> bool:
    """Whether every string of a decoded document is text UTF-8 can write (no lone surrogate)."""
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def dumps(document: Any) -> bytes:
    """The JSON text Znuny's encoder writes: sorted keys, no white space, UTF-8 unescaped but for U+2028 and
    U+2029, which Kernel::System::JSON writes as \\u2028 and \\u2029 (JavaScript reads them as line ends)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def to_json(cls: type, obj: Any) -> Any:
    """A response object as JSON values typed by its model; None fields are left out, as in Znuny.

    Operations may fill complex fields with plain dicts instead of model instances (spyne's XML
    serializer takes both): building thousands of spyne objects for a large TicketGet would cost
    more than the rest of the request.
    """
    out: dict[str, Any] = {}
    is_dict = isinstance(obj, dict)
    for name, field, many, kind in _fields(cls):
        value = obj.get(name) if is_dict else getattr(obj, name, None)
        if value is None:
            if is_dict and name in obj and NULLABLE in _quirks(cls, name):
                out[name] = None
            continue
        if many == ONE_OR_MANY and len(value) == 1:
            out[name] = _out(field, kind, value[0])
        else:
            out[name] = [_out(field, kind, item) for item in value] if many else _out(field, kind, value)
    return out


def _out(field: type, kind: int, value: Any) -> Any:
    if kind == _COMPLEX:
        return to_json(field, value)
    if kind in (_INT, _BOOL):
        return int(value)
    if kind == _STR:
        return str(value)
    if kind == _NUM:
        number = float(value)
        return int(number) if number.is_integer() else number
    if kind == _ID_OR_EMPTY:
        whole = integer(value)
        return "" if whole is None else whole
    return value
