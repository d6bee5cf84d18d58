"""Transport-level error answers, for the layers that answer before an operation is reached."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from wsgiref.types import StartResponse as StartResponse
from wsgiref.types import WSGIEnvironment
from xml.sax.saxutils import escape

from gateway.environ import REQUEST_ID, SOAP_FAULTS
from gateway.redaction import redact_text

WriteBody = Callable[[bytes], object]  # what start_response returns (PEP 3333)
INTERNAL_ERROR = "500 Internal Server Error"

log = logging.getLogger("gateway.errors")

_SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soap11env:Envelope xmlns:soap11env='
    '"http://schemas.xmlsoap.org/soap/envelope/"><soap11env:Body><soap11env:Fault>'
    "<faultcode>soap11env:{code}</faultcode><faultstring>{message}</faultstring></soap11env:Fault>"
    "</soap11env:Body></soap11env:Envelope>"
)


def respond(start_response: StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def json_fault(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    """Znuny's REST fault shape, {"faultcode": ..., "faultstring": ...}, with a status that says what happened."""
    body = json.dumps({"faultcode": code, "faultstring": message}, ensure_ascii=False, separators=(",", ":")).encode()
    return respond(start_response, status, body, "application/json; charset=UTF-8")


def soap_fault(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    """A standard SOAP 1.1 Fault, as spyne writes them for the faults raised inside the protocol."""
    body = _SOAP_FAULT.format(code=code, message=escape(message)).encode()
    return respond(start_response, status, body, "text/xml; charset=utf-8")


def fault(environ: WSGIEnvironment, start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    """A fault in the shape the request's web service speaks: soap:Fault for SOAP, Znuny's JSON fault otherwise."""
    shape = soap_fault if environ.get(SOAP_FAULTS) else json_fault
    return shape(start_response, status, code, message)


def unexpected(environ: WSGIEnvironment, where: str) -> str:
    """Log the exception being handled, with its traceback, under the request id; return the client's message.

    The client learns that something broke and which id to quote, never the exception's text
    (it may hold SQL, paths or another user's data). `where` is redacted: it may quote a request line.
    """
    where = redact_text(where)
    request_id = environ.get(REQUEST_ID, "")
    log.exception("request %s: unexpected error in %s", request_id, where)
    return f"Internal error in {where}; the server log has the details under request id {request_id}."
