"""Znuny's HTTP::REST provider: routes from the web service, flat JSON, the operations' spyne models.

A WSGI application of its own rather than a spyne protocol: spyne's method contexts, events and
per-request object trees cost a REST request more than its operation's own Python did. The models
that drive SOAP, the WSDL and the OpenAPI documents still define what a request may carry
(jsonvalues.to_model) and how an answer is written (jsonvalues.to_json); the operations get what
they read of spyne's context (its environment and the method's descriptor).

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
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, unquote_plus
from wsgiref.types import StartResponse, WSGIEnvironment

from spyne import Fault
from spyne.descriptor import MethodDescriptor

from gateway.environ import OPERATION, REQUEST_HAS_DATA
from gateway.faults import INTERNAL_ERROR, UNAVAILABLE, UNAVAILABLE_CODE, unexpected
from gateway.transport.jsonvalues import dumps, encodable, to_json, to_model
from gateway.webservice.config import WebserviceConfig

MIME_TYPE = "application/json; charset=UTF-8"
_BLOCK = 64 * 1024


class RestFault(Fault):
    """A transport problem with the HTTP status it is answered with."""

    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def status_of(fault: Fault) -> str:
    """As spyne's protocols answer a fault: a client's fault 400, the server's 500, unavailable 503."""
    if isinstance(fault, RestFault):
        return fault.status
    if fault.faultcode == UNAVAILABLE_CODE:
        return UNAVAILABLE
    return "400 Bad Request" if fault.faultcode == "Client" or fault.faultcode.startswith("Client.") else INTERNAL_ERROR


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


class RestApplication:
    """One REST web service: the route picks the operation, the merged request data becomes its request model,
    its answer is written as Znuny's JSON. A fault is answered {"faultcode": ..., "faultstring": ...}."""

    def __init__(self, webservice: WebserviceConfig, descriptors: dict[str, MethodDescriptor]) -> None:
        """`descriptors` maps the web service's operation names to the spyne methods serving them."""
        self.webservice = webservice
        self.descriptors = descriptors

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = [("Content-Type", MIME_TYPE)]
        try:
            status, document = "200 OK", self._answer(environ, headers)
        except Fault as fault:
            status, document = status_of(fault), {"faultcode": fault.faultcode, "faultstring": fault.faultstring}
        body = dumps(document)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _answer(self, environ: WSGIEnvironment, headers: list[tuple[str, str]]) -> Any:
        verb = environ["REQUEST_METHOD"].upper()
        operation, params = self._route(environ.get("PATH_INFO", ""), verb, headers)
        environ[OPERATION] = operation
        descriptor = self.descriptors.get(operation)
        if descriptor is None:
            raise RestFault(
                "501 Not Implemented",
                "Server.NotImplemented",
                f"Operation '{operation}' has type '{self.webservice.operation_type(operation)}',"
                " which this server does not implement.",
            )
        request = to_model(descriptor.in_message, self.request_data(environ, verb, params))
        result = descriptor.function(
            SimpleNamespace(transport=SimpleNamespace(req_env=environ), descriptor=descriptor), request
        )
        try:
            return {} if result is None else to_json(descriptor.out_message, result)
        except Exception:
            # the operation's transaction has committed: a client that retries a write after this may repeat it
            raise Fault("Server", unexpected(environ, f"the answer of operation {operation}")) from None

    def request_data(self, environ: WSGIEnvironment, verb: str, params: dict[str, str]) -> dict[str, Any]:
        """The body (JSON, whatever the Content-Type says), the query and the route's parameters, merged."""
        body = b"" if verb == "GET" else _read(environ)
        if not body:
            # Znuny adds RequestMethod to URI-only data: it is never an empty request
            environ[REQUEST_HAS_DATA] = True
            return {**parse_query(environ.get("QUERY_STRING", "")), **params}
        document = _decode(body, environ.get("CONTENT_TYPE", ""))
        if not isinstance(document, dict | list):
            raise Fault(
                "Client.ValidationError", f"The request body must be a JSON object, got {json.dumps(document)[:100]}."
            )
        # a JSON array is no request data (Znuny, golden 51: "The request is empty!")
        data = (
            {**document, **parse_query(environ.get("QUERY_STRING", "")), **params} if isinstance(document, dict) else {}
        )
        environ[REQUEST_HAS_DATA] = bool(data)
        return data

    def _route(self, path: str, verb: str, headers: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
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
            headers.append(("Allow", ", ".join(sorted(allowed))))
            raise RestFault(
                "405 Method Not Allowed",
                "Client.RequestNotAllowed",
                f"Method {verb} is not allowed for '{path}' in web service '{self.webservice.name}';"
                f" allowed: {', '.join(sorted(allowed))}.",
            )
        raise RestFault(
            "404 Not Found",
            "Client.ResourceNotFound",
            f"No route of web service '{self.webservice.name}' matches '{path}' ({verb}).",
        )


def _read(environ: WSGIEnvironment) -> bytes:
    """CONTENT_LENGTH bytes (the dispatcher has bounded it), or what arrives of them."""
    stream, left, parts = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0), []
    while left > 0:
        chunk = stream.read(min(_BLOCK, left))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


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
