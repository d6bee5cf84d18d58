"""Request limits: a request id for every request and a hard cap on the body size.

::

    app = RequestLimits(app, max_size=100 * 2**20)

Every request gets ``environ["gateway.request_id"]`` and an ``X-Request-ID`` response
header (a client's own ``X-Request-ID`` is kept when it looks like one), so a line in a
client's log can be found in ours. A body announced larger than ``max_size`` is refused
with 413 before a byte of it is read, and the connection closed. A body of unknown length (``Transfer-Encoding:
chunked``) is read only by `buffer_body`, which the dispatcher calls with the web
service's MaxLength; that never exceeds ``max_size``, so no client can make a worker
buffer more than that.

Risk: the limit applies per request, not per client. Rate limits per client belong to the
proxy in front of gateway.
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.environ import REQUEST_ID
from gateway.faults import WriteBody, json_fault
from gateway.wirenumbers import integer

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BLOCK = 64 * 1024


class RequestLimits:
    def __init__(self, app: WSGIApplication, max_size: int) -> None:
        self.app = app
        self.max_size = max_size

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _ID_PATTERN.match(incoming) else secrets.token_hex(8)
        environ[REQUEST_ID] = request_id

        def start(status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None) -> WriteBody:
            return start_response(status, [*headers, ("X-Request-ID", request_id)], exc_info)

        length = integer(environ.get("CONTENT_LENGTH") or 0)
        if length is None:
            return json_fault(start, "400 Bad Request", "Client.BadRequest", "Invalid Content-Length.")
        if length > self.max_size:
            return json_fault(
                start,
                "413 Request Entity Too Large",
                "Client.RequestTooLong",
                f"The request body exceeds {self.max_size} bytes.",
                [("Connection", "close")],  # the body may still come: this connection carries no other request
            )
        return self.app(environ, start)


def buffer_body(environ: WSGIEnvironment, limit: int) -> bool:
    """Give a body without Content-Length one, reading at most `limit` bytes; False if it is longer.

    The transports read exactly CONTENT_LENGTH bytes (spyne's SOAP, without one, would silently cut
    a chunked body at its limit), so a chunked body, or none at all as curl sends for ``-X POST``,
    is read into memory first. A server that does not terminate the input itself (no
    ``wsgi.input_terminated``) must not be read past CONTENT_LENGTH: there is no body then.
    """
    if environ.get("CONTENT_LENGTH"):
        return True
    body = io.BytesIO()
    if environ.get("wsgi.input_terminated"):
        stream = environ["wsgi.input"]
        while body.tell() <= limit:
            chunk = stream.read(min(_BLOCK, limit + 1 - body.tell()))
            if not chunk:
                break
            body.write(chunk)
        if body.tell() > limit:
            return False
    environ["CONTENT_LENGTH"] = str(body.tell())
    body.seek(0)
    environ["wsgi.input"] = body
    return True
