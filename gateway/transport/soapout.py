"""SOAP answers written without spyne's generic serializer: the same elements, in a fraction of the time.

spyne's XmlDocument walks an answer with coroutines, makes a model instance of every dict an
operation answers (TicketGet answers its tickets and articles as dicts) and looks each value's
handler up in its tables: for a TicketGet that was a third of the request. `Writer` writes
ComplexModels whose members are plain primitives (spyne's Unicode, Integer, ...) or such
ComplexModels again, by the rules spyne's serializer applies to them: members in their order
(a base class's first), each named and qualified as spyne names it, lists for max_occurs > 1, a
missing value left out unless min_occurs > 0 (then its default, or xsi:nil), each value's text
from spyne's own conversion. Any other class (a Fault, a binary, an attribute, an Array wrapper,
a polymorphic one) it declines, and spyne writes it as before. tests/test_soap_output.py holds the
two to the same bytes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lxml import etree
from spyne.const.xml import DEFAULT_NS
from spyne.model import Array, ComplexModelBase, Iterable
from spyne.protocol.xml import NIL_ATTR, XmlDocument


@dataclasses.dataclass(frozen=True)
class _Member:
    attribute: str
    tag: str  # {namespace}name
    cls: Any
    many: bool  # max_occurs > 1: the value is a list, one element per item
    required: bool  # min_occurs > 0: written even without a value
    default: Any
    complex: bool
    text: int  # how its text is made: _TEXT (spyne's to_unicode), or a shortcut for the usual value type


_TEXT, _STR, _INT = 0, 1, 2


class Writer:
    """Writes the answers of one protocol instance (its class attributes, its text conversion)."""

    def __init__(self, protocol: XmlDocument) -> None:
        self.protocol = protocol
        # a class's members, or None where spyne writes it; filled on first use, per class
        self._plans: dict[Any, tuple[_Member, ...] | None] = {}

    def writes(self, cls: Any) -> bool:
        return self._plan(cls) is not None

    def complex(self, cls: Any, inst: Any, parent: etree._Element, ns: str | None, name: str | None) -> None:
        """complex_to_parent's element for `inst` (not None: spyne writes a missing value) under `parent`."""
        attrs = self.protocol.get_cls_attrs(cls)
        name = attrs.sub_name or name or cls.get_type_name()
        if attrs.sub_ns not in (None, DEFAULT_NS):
            ns = attrs.sub_ns
        element = etree.SubElement(parent, name if ns is None else f"{{{ns}}}{name}")
        self._members(cls, inst, element)

    def _members(self, cls: Any, inst: Any, element: etree._Element) -> None:
        if isinstance(inst, (list, tuple)):  # spyne's positional form: the members in their order
            inst = dict(zip(cls.get_flat_type_info(cls), inst, strict=False))
        values = inst if isinstance(inst, dict) else None
        for member in self._plans[cls] or ():
            value = values.get(member.attribute) if values is not None else getattr(inst, member.attribute, None)
            if value is not None and member.many:
                for item in value:
                    self._value(member, item, element)
            elif value is not None or member.required:
                self._value(member, value, element)

    def _value(self, member: _Member, value: Any, parent: etree._Element) -> None:
        if value is None:
            value = member.default
        if value is None:
            etree.SubElement(parent, member.tag, NIL_ATTR)
        elif member.complex:
            self._members(member.cls, value, etree.SubElement(parent, member.tag))
        elif member.text == _STR and type(value) is str:  # what unicode_to_unicode answers for it, unformatted
            etree.SubElement(parent, member.tag).text = value
        elif member.text == _INT and type(value) is int:  # integer_to_unicode's, unformatted
            etree.SubElement(parent, member.tag).text = str(value)
        else:
            etree.SubElement(parent, member.tag).text = self.protocol.to_unicode(member.cls, value)

    def _plan(self, cls: Any) -> tuple[_Member, ...] | None:
        if cls in self._plans:
            return self._plans[cls]
        self._plans[cls] = None  # a class that contains itself is spyne's
        plan = self._make_plan(cls)
        self._plans[cls] = plan
        return plan

    def _text(self, field: Any, attrs: Any) -> int:
        protocol = self.protocol
        if attrs.str_format is not None or attrs.format is not None:
            return _TEXT
        handler = protocol._to_unicode_handlers[field]
        if handler == protocol.unicode_to_unicode:
            return _STR
        return _INT if handler == protocol.integer_to_unicode else _TEXT

    def _make_plan(self, cls: Any) -> tuple[_Member, ...] | None:
        protocol = self.protocol
        if (
            not _is_model(cls, ComplexModelBase)
            or issubclass(cls, (Array, Iterable))
            or protocol.polymorphic
            or protocol.serialization_handlers[cls] != protocol.complex_to_parent
            or protocol.get_cls_attrs(cls).prot is not None
        ):
            return None
        members: list[_Member] = []
        base = getattr(cls, "__extends__", None)
        if base is not None:
            inherited = self._plan(base)
            if inherited is None:
                return None
            members += inherited
        for attribute, field in cls._type_info.items():
            attrs = protocol.get_cls_attrs(field)
            if attrs.exc:
                continue
            if attrs.prot is not None or field.Attributes.sub_ns is DEFAULT_NS:
                return None
            complex_ = _is_model(field, ComplexModelBase)
            if complex_:
                if self._plan(field) is None:
                    return None
                # complex_to_parent's naming: the member's own sub_name and sub_ns win
                name = attrs.sub_name or field.Attributes.sub_name or attribute
                ns = attrs.sub_ns if attrs.sub_ns not in (None, DEFAULT_NS) else field.Attributes.sub_ns
            else:
                if protocol.serialization_handlers[field] != protocol.modelbase_to_parent:
                    return None
                name, ns = field.Attributes.sub_name or attribute, field.Attributes.sub_ns
            ns = ns or cls.get_namespace()
            members.append(
                _Member(
                    attribute=attribute,
                    tag=f"{{{ns}}}{name}" if ns is not None else name,
                    cls=field,
                    many=field.Attributes.max_occurs > 1,
                    required=field.Attributes.min_occurs > 0,
                    default=attrs.default,
                    complex=complex_,
                    text=_TEXT if complex_ else self._text(field, attrs),
                )
            )
        return tuple(members)


def _is_model(cls: Any, kind: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, kind)
