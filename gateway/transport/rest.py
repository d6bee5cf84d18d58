"""Znuny's HTTP::REST provider as a spyne protocol: routes from the web service, flat JSON.

Routing follows Znuny's REST.pm: operations are tried in name order, a route's `:Param`
matches one path segment, the first route whose method fits wins. Request data is merged
body < query < route parameters (credential headers are merged later, for every transport,
by the operation). A GET, or a request without a body, carries only URI data. JSON is read
whatever the Content-Type says (Znuny's clients send none, text/plain, or a form type).

Where Znuny answers 500 for a transport problem we say what went wrong: 404 (no route),
405 (route exists, method does not), 400 (undecodable JSON, malformed values), 413 (too
large), each with a JSON body {"faultcode": ..., "faultstring": ...}.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, unquote_plus

from spyne import Fault
from spyne.error import RequestNotAllowed, ResourceNotFoundError
from spyne.protocol.json import JsonDocument

from gateway.environ import OPERATION, REQUEST_HAS_DATA
from gateway.faults import UNAVAILABLE, UNAVAILABLE_CODE
from gateway.transport import unserializable
from gateway.transport.jsonvalues import dumps, encodable, to_json, to_model
from gateway.webservice.config import WebserviceConfig

HTTP_501 = "501 Not Implemented"


class NotImplementedFault(Fault):
    def __init__(self, message: str) -> None:
        super().__init__("Server.NotImplemented", message)


class RouteNotFoundError(ResourceNotFoundError):
    """404 with our own message (spyne's wraps it in "Requested resource ... not found")."""

    def __init__(self, message: str) -> None:
        Fault.__init__(self, "Client.ResourceNotFound", message)


def parse_query(query: str) -> dict[str, Any]:
    """Znuny's query parsing: `&` or `;`, `+` is a space in a value, a repeated key becomes a list.

    Unlike Znuny, a value runs to the next separator, `=` included (Znuny drops what follows a second
    `=`, so `Password=abc=` would be read as "abc"), a key given without `=` in a repeat is "" (Znuny:
    undef inside the list), and a first value `0` stays "0" (Znuny: "", REST.pm's `$Value || ''`; each
    operation reads both alike, GetAttachmentContents=0 included, which Znuny reads with `//`).
    """
    data: dict[str, Any] = {}
    for pair in re.split(r"[&;]", query):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key, value = unquote(key), unquote_plus(value)
        if key in data:
            data[key] = (data[key] if isinstance(data[key], list) else [data[key]]) + [value]
        else:
            data[key] = value
    return data


def _charset(content_type: str) -> str | None:
    found = re.search(r"charset\s*=\s*\"?([\w.:-]+)", content_type or "", re.I)
    charset = found.group(1).lower() if found else None
    return "utf-8" if charset in ("utf8", "utf-8") else charset


def _utf8_or_windows_1252(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


class ZnunyRest(JsonDocument):
    mime_type = "application/json; charset=UTF-8"

    def __init__(self, webservice: WebserviceConfig, methods: dict[str, str]) -> None:
        """`methods` maps the web service's operation names to the spyne methods serving them."""
        super().__init__(ignore_wrappers=True)
        self.webservice = webservice
        self.methods = methods

    # -- request -------------------------------------------------------------------------------------

    def create_in_document(self, ctx: Any, in_string_encoding: str | None = None) -> None:
        env = ctx.transport.req_env
        path, verb = env.get("PATH_INFO", ""), env["REQUEST_METHOD"].upper()
        operation, params = self._route(ctx, path, verb)
        env[OPERATION] = operation
        if operation not in self.methods:
            raise NotImplementedFault(
                f"Operation '{operation}' has type '{self.webservice.operation_type(operation)}',"
                " which this server does not implement."
            )
        body = b"" if verb == "GET" else b"".join(ctx.in_string)
        if not body:
            # Znuny adds RequestMethod to URI-only data: it is never an empty request
            data = {**parse_query(env.get("QUERY_STRING", "")), **params}
            env[REQUEST_HAS_DATA] = True
        else:
            document = self._decode(body, env.get("CONTENT_TYPE", ""))
            if not isinstance(document, dict | list):
                raise Fault(
                    "Client.ValidationError",
                    f"The request body must be a JSON object, got {json.dumps(document)[:100]}.",
                )
            # a JSON array is no request data (Znuny, golden 51: "The request is empty!")
            data = (
                {**document, **parse_query(env.get("QUERY_STRING", "")), **params} if isinstance(document, dict) else {}
            )
            env[REQUEST_HAS_DATA] = bool(data)
        ctx.in_document = data

    def _route(self, ctx: Any, path: str, verb: str) -> tuple[str, dict[str, str]]:
        allowed: set[str] = set()
        for route in self.webservice.routes:
            params = route.match(path)
            if params is None:
                continue
            if route.methods and verb not in route.methods:
                allowed |= route.methods
                continue
            return route.operation, params
        if allowed:
            ctx.transport.resp_headers["Allow"] = ", ".join(sorted(allowed))
            raise RequestNotAllowed(
                f"Method {verb} is not allowed for '{path}' in web service '{self.webservice.name}';"
                f" allowed: {', '.join(sorted(allowed))}."
            )
        raise RouteNotFoundError(f"No route of web service '{self.webservice.name}' matches '{path}' ({verb}).")

    @staticmethod
    def _decode(body: bytes, content_type: str) -> Any:
        charset = _charset(content_type)
        try:
            # JSON is UTF-8; but Windows PowerShell 5.1 sends a string body in ISO-8859-1 when the
            # Content-Type names no charset, so an undeclared body that is not UTF-8 is read as Windows-1252
            text = body.decode(charset) if charset else _utf8_or_windows_1252(body)
        except (LookupError, UnicodeDecodeError) as error:
            raise Fault("Client.JsonDecodeError", f"Error while decoding request content: {error}") from None
        try:
            document = json.loads(text.lstrip("\ufeff"))
        except (ValueError, RecursionError) as error:  # RecursionError: nested deeper than Python's stack
            raise Fault("Client.JsonDecodeError", f"Error while decoding request content: {error}") from None
        # only an escape gives a lone surrogate ("\ud800"): Znuny's JSON parser refuses it, and no database stores it
        if "\\u" in text and not encodable(document):
            raise Fault(
                "Client.JsonDecodeError",
                "Error while decoding request content: a \\uD800-\\uDFFF escape without its pair is no character.",
            )
        return document

    def decompose_incoming_envelope(self, ctx: Any, message: str = JsonDocument.REQUEST) -> None:
        ctx.in_header_doc = None
        ctx.in_body_doc = ctx.in_document
        ctx.method_request_string = self.methods[ctx.transport.req_env[OPERATION]]

    def deserialize(self, ctx: Any, message: str) -> None:
        self.event_manager.fire_event("before_deserialize", ctx)
        ctx.in_object = to_model(ctx.descriptor.in_message, ctx.in_body_doc)
        self.event_manager.fire_event("after_deserialize", ctx)

    # -- response ------------------------------------------------------------------------------------

    def serialize(self, ctx: Any, message: str) -> None:
        self.event_manager.fire_event("before_serialize", ctx)
        if ctx.out_error is None:
            result = ctx.out_object[0] if ctx.out_object else None
            try:
                ctx.out_document = {} if result is None else to_json(ctx.descriptor.out_message, result)
            except Exception:
                ctx.out_error = unserializable(ctx)
        if ctx.out_error is not None:
            ctx.out_document = {"faultcode": ctx.out_error.faultcode, "faultstring": ctx.out_error.faultstring}
        self.event_manager.fire_event("after_serialize", ctx)

    def create_out_string(self, ctx: Any, out_string_encoding: str = "utf8") -> None:
        ctx.transport.resp_headers["Content-Type"] = self.mime_type
        ctx.out_string = [dumps(ctx.out_document)]

    def fault_to_http_response_code(self, fault: Exception) -> str:
        if isinstance(fault, NotImplementedFault):
            return HTTP_501
        if isinstance(fault, Fault) and fault.faultcode == UNAVAILABLE_CODE:
            return UNAVAILABLE
        code: str = super().fault_to_http_response_code(fault)
        return code
