"""Znuny's HTTP::SOAP provider as a spyne Soap11 protocol: lenient in, WSDL-exact out.

Input is read the way SOAP::Lite reads it for Znuny: children match by local name whatever
their namespace (qualified, unqualified, or python-otrs' namespace without the trailing
slash), `xsi:type` annotations are ignored except SOAP encoding's Maps, Arrays and booleans,
read as SOAP::Lite reads them (soapenc), and the operation is the first element of the
Body. An operation's configured name may differ from its type (TicketGetList is a
TicketGet): the element is dispatched by the configured name and answered as `<Name>Response`.

SOAPAction is checked only for what matters: when it names an operation, it must be the one
in the Body. Every style clients send passes (`NS+Op`, `NS#Op`, `NS/Op`, `NS//Op`, `Op`,
empty, absent), and so does the one the web service configures (a FreeText action names no
operation); Znuny rejects the style its own WSDL advertises.

XML with a DTD is refused before anything is expanded (no entities, no bombs); faults are
standard `soap:Fault` elements (400 for unparsable XML, 413 too large, 500 otherwise).
An empty answer is `xsi:nil`, as Znuny's.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from spyne import ComplexModelBase, Fault
from spyne.error import RequestNotAllowed, RequestTooLongError
from spyne.protocol.soap import Soap11
from spyne.protocol.soap.mime import collapse_swa
from werkzeug.http import parse_options_header

from gateway import safexml
from gateway.environ import OPERATION, REQUEST_HAS_DATA
from gateway.faults import UNAVAILABLE, UNAVAILABLE_CODE
from gateway.transport import soapenc, unserializable
from gateway.transport.soapout import Writer

HTTP_400, HTTP_405, HTTP_413, HTTP_500 = (
    "400 Bad Request",
    "405 Method Not Allowed",
    "413 Request Entity Too Large",
    "500 Internal Server Error",
)


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML: no DTD at all, so no external or expanding entities."""
    try:
        root: etree._Element = etree.fromstring(data, safexml.parser())
    except etree.XMLSyntaxError as error:
        raise Fault("Client.XMLSyntaxError", f"Error deserializing message: {error}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise Fault("Client.XMLSyntaxError", "Error deserializing message: a DTD is not allowed in SOAP")
    return root


def _gather_prefixed(body: etree._Element, prefix: str, target: str, key: str) -> None:
    """Znuny's legacy `<DynamicField_X>...` becomes `<DynamicField><Name>X</Name>...</DynamicField>`."""
    for child in body:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child)
        if name.localname.startswith(prefix) and len(name.localname) > len(prefix):
            child.tag = f"{{{name.namespace}}}{target}" if name.namespace else target
            label = etree.Element(f"{{{name.namespace}}}{key}" if name.namespace else key)
            label.text = name.localname[len(prefix) :]
            child.insert(0, label)


def _nil_when_empty(body: etree._Element) -> None:
    """Znuny answers empty data (TicketSearch without hits) as `<OpResponse xsi:nil="true"/>`: PHP's
    SoapClient reads that as null, an empty element as an empty object (which is truthy)."""
    for response in body:
        if len(response) == 0 and not (response.text or "").strip():
            response.set(soapenc.XSI_NIL, "true")


_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(value: Any) -> Any:
    """The answer with every character XML 1.0 cannot carry replaced by U+FFFD."""
    if isinstance(value, str):
        return _NOT_IN_XML.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: _xml_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_xml_safe(item) for item in value)
    if isinstance(value, ComplexModelBase):
        for name in type(value).get_flat_type_info(type(value)):
            setattr(value, name, _xml_safe(getattr(value, name, None)))
    return value


# the SOAPAction settings of Znuny's SOAP provider, with the values Znuny takes when one is not set
SOAPACTION_DEFAULTS = {
    "SOAPAction": "Yes",
    "SOAPActionScheme": "NameSpaceSeparatorOperation",
    "SOAPActionSeparator": "",
    "SOAPActionFreeText": "",
}


def soap_action(transport_config: dict[str, Any], namespace: str, operation: str) -> str:
    """The SOAPAction Znuny's SOAP provider expects (Transport/HTTP/SOAP.pm), "" when it checks none.

    Without a separator, NameSpaceSeparatorOperation accepts `NS#Op` or `NS/Op`; `NS#Op` it is, since a
    NameSpace ending in `/` fails Znuny's namespace check in `NS/Op`. A scheme Znuny does not know, and
    FreeText or SeparatorOperation without their text, are not checked by Znuny ("for safety").
    """
    settings = {key: str(transport_config.get(key) or default) for key, default in SOAPACTION_DEFAULTS.items()}
    scheme, separator = settings["SOAPActionScheme"], settings["SOAPActionSeparator"]
    if settings["SOAPAction"] != "Yes":
        return ""
    if scheme == "FreeText":
        return settings["SOAPActionFreeText"]
    if scheme == "Operation":
        return operation
    if scheme == "SeparatorOperation":
        return separator + operation if separator else ""
    if scheme == "NameSpaceSeparatorOperation":
        return namespace + (separator or "#") + operation
    return ""


class ZnunySoap11(Soap11):
    def __init__(
        self,
        namespace: str,
        methods: dict[str, str],
        service_namespace: str,
        transport_config: dict[str, Any] | None = None,
    ) -> None:
        """`methods` maps configured operation names to spyne methods; `namespace` is the web
        service's NameSpace, `service_namespace` the one the spyne models are defined in;
        `transport_config` the web service's, for its SOAPAction settings."""
        super().__init__(validator=None, parse_xsi_type=False, cleanup_namespaces=True)
        self.methods = methods
        self.namespace = namespace
        self.service_namespace = service_namespace
        self.transport_config = transport_config or {}
        self.writer = Writer(self)

    # -- request -------------------------------------------------------------------------------------

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        if ctx.transport.get_request_method() != "POST":
            raise RequestNotAllowed("SOAP requests must be sent with POST.")
        content_type = parse_options_header(ctx.transport.get_request_content_type() or "text/xml")
        # spyne gives the envelope of a multipart/related (SwA) request back as text, read as ASCII
        body = b"".join(
            part.encode("ascii", "surrogateescape") if isinstance(part, str) else part
            for part in collapse_swa(ctx, content_type, self.ns_soap_env)
        )
        if not body.strip():
            raise Fault("Client.XMLSyntaxError", "Error deserializing message: the request body is empty")
        ctx.in_document = (parse_xml(body), {})

    def decompose_incoming_envelope(self, ctx: Any, message: str = Soap11.REQUEST) -> None:
        super().decompose_incoming_envelope(ctx, message)
        body = ctx.in_body_doc
        if body is None:
            raise Fault("Client.SoapError", "The SOAP Body holds no operation element.")
        name = etree.QName(body).localname
        env = ctx.transport.req_env
        env[OPERATION] = name
        self._check_soapaction(env.get("HTTP_SOAPACTION"), name)
        method = self.methods.get(name)
        if method is None:
            raise Fault(
                "Client.UnknownOperation",
                f"Operation '{name}' is not configured in this web service"
                f" (configured: {', '.join(sorted(self.methods)) or 'none'}).",
            )
        env[REQUEST_HAS_DATA] = len(body) > 0 or bool((body.text or "").strip())
        ctx.method_request_string = f"{{{self.service_namespace}}}{method}"
        soapenc.unfold(body)
        request_model = self.app.interface.service_method_map[ctx.method_request_string][0].in_message
        prefixed = getattr(request_model, "__json_prefixed__", None)
        if prefixed:
            _gather_prefixed(body, *prefixed)

    def _check_soapaction(self, header: str | None, operation: str) -> None:
        action = (header or "").strip().strip("\"'")
        if action and action == soap_action(self.transport_config, self.namespace, operation):
            return
        named = re.split(r"[#/]", action)[-1] if action else ""
        if named and named != operation:
            raise Fault(
                "Client.SOAPAction",
                f"Operation from SOAP data '{operation}' does not match operation from SOAPAction '{named}'.",
            )

    # -- response ------------------------------------------------------------------------------------

    def to_parent(self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, *args: Any, **kwargs: Any) -> Any:
        """An answer's ComplexModels through gateway.transport.soapout where it writes them, else spyne's way."""
        if len(args) == 1 and not kwargs and self.writer.writes(cls, inst):
            self.writer.complex(ctx, cls, inst, parent, ns, args[0])
            return None
        return super().to_parent(ctx, cls, inst, parent, ns, *args, **kwargs)

    def serialize(self, ctx: Any, message: str) -> None:
        try:
            super().serialize(ctx, message)
        except ValueError:
            # a character XML 1.0 cannot carry (a control character JSON clients may store): the
            # answer is sent with U+FFFD in its place rather than never again (REST shows it as stored)
            if ctx.out_error is not None:
                raise
            ctx.out_object = _xml_safe(ctx.out_object)
            self._serialize_or_fault(ctx, message)
        except Exception:
            if ctx.out_error is not None:
                raise
            ctx.out_error = unserializable(ctx)
            super().serialize(ctx, message)
        if ctx.out_error is None and ctx.out_body_doc is not None:
            self._rename(ctx.out_body_doc, ctx.transport.req_env.get(OPERATION))
            _nil_when_empty(ctx.out_body_doc)

    def _serialize_or_fault(self, ctx: Any, message: str) -> None:
        try:
            super().serialize(ctx, message)
        except Exception:
            ctx.out_error = unserializable(ctx)
            super().serialize(ctx, message)

    def _rename(self, body: etree._Element, operation: str | None) -> None:
        """Answer under the configured operation name and namespace where they differ from the models'."""
        if operation and operation != self.methods.get(operation, operation):
            for response in body:
                response.tag = f"{{{self.service_namespace}}}{operation}Response"
        if self.namespace and self.namespace != self.service_namespace:
            old = f"{{{self.service_namespace}}}"
            for node in body.iter():
                if isinstance(node.tag, str) and node.tag.startswith(old):
                    node.tag = f"{{{self.namespace}}}{node.tag[len(old) :]}"

    def fault_to_http_response_code(self, fault: Exception) -> str:
        if isinstance(fault, RequestTooLongError):
            return HTTP_413
        if isinstance(fault, RequestNotAllowed):
            return HTTP_405
        if isinstance(fault, Fault) and fault.faultcode in ("Client.XMLSyntaxError", "Client.SoapError"):
            return HTTP_400
        if isinstance(fault, Fault) and fault.faultcode == UNAVAILABLE_CODE:
            return UNAVAILABLE
        return HTTP_500
