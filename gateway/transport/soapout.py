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
import threading
from typing import Any

from lxml import etree
from spyne.const.xml import DEFAULT_NS
from spyne.model import Array, ComplexModelBase, Iterable
from spyne.protocol.xml import NIL_ATTR, XmlDocument


@dataclasses.dataclass(frozen=True)
class _Member:
    attribute: str
    namespace: str | None
    name: str
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
        # a class's members, or None where spyne writes it; planned once per class, under the lock (the
        # placeholder a class's planning leaves for the classes inside it must not be seen by another thread)
        self._plans: dict[Any, tuple[_Member, ...] | None] = {}
        self._planning = threading.RLock()

    def writes(self, cls: Any, inst: Any) -> bool:
        """Whether this writer writes `inst` as a `cls`: not a missing value, nor spyne's positional form (a
        list or tuple), which spyne makes an instance of (defaults and all) before writing it."""
        if inst is None or isinstance(inst, (list, tuple)):
            return False
        plan = self._plans.get(cls, False)
        if plan is False:
            with self._planning:
                plan = self._plan(cls)
        return plan is not None

    def complex(self, ctx: Any, cls: Any, inst: Any, parent: etree._Element, ns: str | None, name: str | None) -> None:
        """complex_to_parent's element for `inst` under `parent` (where writes() said so)."""
        attrs = self.protocol.get_cls_attrs(cls)
        name = attrs.sub_name if attrs.sub_name is not None else name
        if name is None:
            name = cls.get_type_name()
        if attrs.sub_ns not in (None, DEFAULT_NS):
            ns = attrs.sub_ns
        element = etree.SubElement(parent, name if ns is None else f"{{{ns}}}{name}")
        self._members(ctx, cls, inst, element)

    def _members(self, ctx: Any, cls: Any, inst: Any, element: etree._Element) -> None:
        values = inst if isinstance(inst, dict) else None
        for member in self._plans[cls] or ():
            value = values.get(member.attribute) if values is not None else getattr(inst, member.attribute, None)
            if value is not None and member.many:
                for item in value:
                    self._value(ctx, member, item, element)
            elif value is not None or member.required:
                self._value(ctx, member, value, element)

    def _value(self, ctx: Any, member: _Member, value: Any, parent: etree._Element) -> None:
        if value is None:
            value = member.default
        if value is None:
            etree.SubElement(parent, member.tag, NIL_ATTR)
        elif member.complex and isinstance(value, (list, tuple)):  # positional: spyne's (see writes)
            self.protocol.to_parent(ctx, member.cls, value, parent, member.namespace, member.name)
        elif member.complex:
            self._members(ctx, member.cls, value, etree.SubElement(parent, member.tag))
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
            or protocol.get_cls_attrs(cls).exc
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
                name = _first(attrs.sub_name, field.Attributes.sub_name, attribute)
                ns = attrs.sub_ns if attrs.sub_ns not in (None, DEFAULT_NS) else field.Attributes.sub_ns
            else:
                if protocol.serialization_handlers[field] != protocol.modelbase_to_parent:
                    return None
                name, ns = _first(field.Attributes.sub_name, attribute), field.Attributes.sub_ns
            ns = _first(ns, cls.get_namespace())
            members.append(
                _Member(
                    attribute=attribute,
                    namespace=ns,
                    name=name,
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


def _first(*values: Any) -> Any:
    """The first that is not None, as spyne chooses names and namespaces (an empty one counts)."""
    return next((value for value in values if value is not None), None)
