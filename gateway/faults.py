"""Transport-level error answers, for the layers that answer before an operation is reached."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from wsgiref.types import StartResponse as StartResponse
from wsgiref.types import WSGIEnvironment
from xml.sax.saxutils import escape

from gateway.environ import REQUEST_ID, SOAP_FAULTS
from gateway.redaction import redact_text

WriteBody = Callable[[bytes], object]  # what start_response returns (PEP 3333)
INTERNAL_ERROR = "500 Internal Server Error"
UNAVAILABLE = "503 Service Unavailable"
# the faultcode of every 503: the transports answer a spyne Fault of this code with UNAVAILABLE
UNAVAILABLE_CODE = "Server.Unavailable"

log = logging.getLogger("gateway.errors")

_SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soap11env:Envelope xmlns:soap11env='
    '"http://schemas.xmlsoap.org/soap/envelope/"><soap11env:Body><soap11env:Fault>'
    "<faultcode>soap11env:{code}</faultcode><faultstring>{message}</faultstring></soap11env:Fault>"
    "</soap11env:Body></soap11env:Envelope>"
)


def respond(
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str,
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers])
    return [body]


def json_fault(
    start_response: StartResponse, status: str, code: str, message: str, headers: Sequence[tuple[str, str]] = ()
) -> list[bytes]:
    """Znuny's REST fault shape, {"faultcode": ..., "faultstring": ...}, with a status that says what happened."""
    body = json.dumps({"faultcode": code, "faultstring": message}, ensure_ascii=False, separators=(",", ":")).encode()
    return respond(start_response, status, body, "application/json; charset=UTF-8", headers)


def soap_fault(
    start_response: StartResponse, status: str, code: str, message: str, headers: Sequence[tuple[str, str]] = ()
) -> list[bytes]:
    """A standard SOAP 1.1 Fault, as spyne writes them for the faults raised inside the protocol."""
    body = _SOAP_FAULT.format(code=code, message=escape(message)).encode()
    return respond(start_response, status, body, "text/xml; charset=utf-8", headers)


def fault(environ: WSGIEnvironment, start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    """A fault in the shape the request's web service speaks: soap:Fault for SOAP, Znuny's JSON fault otherwise."""
    shape = soap_fault if environ.get(SOAP_FAULTS) else json_fault
    return shape(start_response, status, code, message)


def unavailable_message(retry_after: int) -> str:
    """What a client is told of a database it cannot use now (the reason is in the server log)."""
    return f"The database is unavailable right now; try again in {retry_after} s (Retry-After)."


def unavailable(environ: WSGIEnvironment, start_response: StartResponse, retry_after: int) -> list[bytes]:
    """503 with Retry-After, in the request's fault shape."""
    shape = soap_fault if environ.get(SOAP_FAULTS) else json_fault
    return shape(
        start_response,
        UNAVAILABLE,
        UNAVAILABLE_CODE,
        unavailable_message(retry_after),
        [("Retry-After", str(retry_after))],
    )


def unexpected(environ: WSGIEnvironment, where: str) -> str:
    """Log the exception being handled, with its traceback, under the request id; return the client's message.

    The client learns that something broke and which id to quote, never the exception's text
    (it may hold SQL, paths or another user's data). `where` is redacted: it may quote a request line.
    """
    where = redact_text(where)
    request_id = environ.get(REQUEST_ID, "")
    log.exception("request %s: unexpected error in %s", request_id, where)
    return f"Internal error in {where}; the server log has the details under request id {request_id}."
