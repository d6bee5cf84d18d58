"""SOAP encoding (section 5) read as the plain elements the models expect, as SOAP::Lite reads it.

PHP's SoapClient without a WSDL, and other rpc/encoded toolkits, send a hash as an Apache
`Map` (`<Ticket xsi:type="ns2:Map"><item><key>Title</key><value>x</value></item>...`) and a
list as a `SOAP-ENC:Array` (`<TicketID SOAP-ENC:arrayType="xsd:int[2]" ...><item>1</item>
<item>2</item></TicketID>`). Znuny's SOAP::Lite turns them into hashes and lists; here a Map
becomes one child per key (`<Ticket><Title>x</Title>...`) and an Array one element per item
under the array's own name (`<TicketID>1</TicketID><TicketID>2</TicketID>`), which is how
document/literal clients write the same data. `xsd:boolean` reads as 1/0, as SOAP::Lite does.
An `xsi:nil` element (PHP's null) is left out: for a single field that is the same None, and
in a list spyne would put a None that no operation expects (`DynamicField => [null]`).

Types are matched by local name (`ns2:Map`, `apachesoap:Map`, `SOAP-ENC:Array`), as the rest
of the input is. The walk visits each element once and refuses nesting deeper than any
operation reads, so hostile input costs O(size) and never exhausts the stack.
"""

from __future__ import annotations

from lxml import etree
from spyne import Fault

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# Znuny's deepest request, PHP-encoded (TicketCreate > Article > item > DynamicField > item >
# item > Value > item), is 8 levels; anything far beyond is an attack, not a ticket
MAX_DEPTH = 32
BOOLEANS = {"true": "1", "false": "0"}


def unfold(operation: etree._Element) -> None:
    """Rewrite the operation element's Maps and Arrays in place into plain elements."""
    _unfold_children(operation, 0)


def _unfold_children(parent: etree._Element, depth: int) -> None:
    for child in list(parent):
        if not isinstance(child.tag, str):
            continue
        replacements = _unfold(child, depth)
        if replacements != [child]:
            for element in replacements:
                child.addprevious(element)
            parent.remove(child)


def _unfold(element: etree._Element, depth: int) -> list[etree._Element]:
    """The elements that stand for `element` in its parent: itself, one per Array item, none if nil."""
    if depth > MAX_DEPTH:
        raise Fault(
            "Client.SoapError", f"Error deserializing message: elements are nested more than {MAX_DEPTH} levels deep"
        )
    if element.get(XSI_NIL) in ("true", "1"):
        return []
    kind = _type_name(element)
    if kind == "Array" or _is_array(element):
        items = []
        for item in _elements(element):
            item.tag = element.tag
            items.extend(_unfold(item, depth + 1))
        return items
    if kind == "Map":
        entries = []
        for item in _elements(element):
            entries.extend(_map_entry(item, depth))
        for item in _elements(element):
            element.remove(item)
        element.extend(entries)
        element.text = None
        del element.attrib[XSI_TYPE]
        return [element]
    if kind == "boolean" and element.text is not None:
        element.text = BOOLEANS.get(element.text.strip().lower(), element.text)
    _unfold_children(element, depth + 1)
    return [element]


def _map_entry(item: etree._Element, depth: int) -> list[etree._Element]:
    """A Map's `<item><key>K</key><value>V</value></item>` as `<K>V</K>`: several if V is an Array, none if nil."""
    key = value = None
    for part in _elements(item):
        name = etree.QName(part).localname
        if name == "key" and key is None:
            key = (part.text or "").strip()
        elif name == "value" and value is None:
            value = part
    if not key or value is None:
        return []
    try:
        value.tag = key
    except ValueError:  # not an XML name, so no field of any operation: ignored like any unknown key
        return []
    return _unfold(value, depth + 2)


def _type_name(element: etree._Element) -> str | None:
    xsi_type = element.get(XSI_TYPE)
    return xsi_type.rpartition(":")[2] if xsi_type else None


def _is_array(element: etree._Element) -> bool:
    """Whatever its xsi:type (Axis writes `ArrayOf...` types), an element with SOAP-ENC:arrayType is an Array."""
    return any(etree.QName(name).localname == "arrayType" for name in element.attrib)


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]
