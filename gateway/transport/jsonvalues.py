"""Between spyne models and plain JSON values, with Znuny's leniency in and exact types out.

Clients written for Perl send numbers as strings and strings as numbers, one value where a
list is allowed and a list where one is expected once. Incoming values are coerced to the
model; outgoing values take the JSON type their model field declares.
"""

from __future__ import annotations

import functools
from typing import Any

from spyne import AnyDict, Boolean, ComplexModelBase, Decimal, Double, Integer
from spyne.error import ValidationError

_COMPLEX, _INT, _STR, _NUM, _BOOL, _ANY = range(6)


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
def _fields(cls: type) -> tuple[tuple[str, type, bool, int], ...]:
    return tuple((name, field, field.Attributes.max_occurs > 1, _kind(field))
                 for name, field in cls._type_info.items())


_JSON_NAMES = {_COMPLEX: "object", _INT: "integer", _BOOL: "integer", _NUM: "number", _STR: "string", _ANY: "any"}


def json_kind(field: type) -> str:
    """The JSON type a model's values are sent with ("any" for free-form values)."""
    return _JSON_NAMES[_kind(field)]


def to_model(cls: type, data: Any, path: str = "") -> Any:
    """Build a request object from merged request data; unknown keys are ignored, as in Znuny."""
    if not isinstance(data, dict):
        raise ValidationError(data, f"{path or cls.get_type_name()}: a JSON object is expected, got %r")
    values = {}
    for name, field, many, kind in _fields(cls):
        value = data.get(name)
        if value is None:
            continue
        where = f"{path}{name}"
        if many:
            values[name] = [_coerce(field, kind, item, where) for item in (value if isinstance(value, list)
                                                                              else [value])]
        else:
            if isinstance(value, list) and kind not in (_ANY,):
                if len(value) != 1:
                    raise ValidationError(value, f"{where}: one value is expected, got a list (%r)")
                value = value[0]
            values[name] = _coerce(field, kind, value, where)
    # descriptors hold customized copies of the models; spyne warns (with a stack dump) when one is built
    return (cls.__orig__ or cls)(**values)


def _coerce(field: type, kind: int, value: Any, where: str) -> Any:
    if kind == _COMPLEX:
        return to_model(field, value, where + ".")
    if kind == _ANY:
        return value
    if isinstance(value, dict | list):
        raise ValidationError(value, f"{where}: a single value is expected, got %r")
    if kind == _STR:
        if isinstance(value, bool):
            return "1" if value else "0"
        return value if isinstance(value, str) else str(value)
    if kind in (_INT, _BOOL):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValidationError(value, f"{where}: a whole number is expected, got %r") from None
    return value


def to_json(cls: type, obj: Any) -> Any:
    """A response object as JSON values typed by its model; None fields are left out, as in Znuny."""
    out = {}
    for name, field, many, kind in _fields(cls):
        value = getattr(obj, name, None)
        if value is None:
            continue
        out[name] = [_out(field, kind, item) for item in value] if many else _out(field, kind, value)
    return out


def _out(field: type, kind: int, value: Any) -> Any:
    if kind == _COMPLEX:
        return to_json(field, value)
    if kind in (_INT, _BOOL):
        return int(value)
    if kind == _STR:
        return str(value)
    return value
