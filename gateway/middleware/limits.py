"""Request limits: a request id for every request and a hard cap on the body size.

::

    app = RequestLimits(app, max_size=100 * 2**20)

Every request gets ``environ["gateway.request_id"]`` and an ``X-Request-ID`` response
header (a client's own ``X-Request-ID`` is kept when it looks like one), so a line in a
client's log can be found in ours. A body announced larger than ``max_size`` is refused
with 413 before a byte of it is read; a chunked body is cut off at ``max_size``, so no
client can make a worker buffer more than that. A web service's own ``MaxLength`` may only
lower this limit, never raise it.

Risk: the limit applies per request, not per client. Rate limits per client belong to the
proxy in front of gateway.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wsgi import LimitedStream

from gateway.faults import json_fault

REQUEST_ID = "gateway.request_id"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestLimits:
    def __init__(self, app: Callable[..., Iterable[bytes]], max_size: int) -> None:
        self.app = app
        self.max_size = max_size

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _ID_PATTERN.match(incoming) else secrets.token_hex(8)
        environ[REQUEST_ID] = request_id

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Request-ID", request_id)], exc_info)

        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return json_fault(start, "400 Bad Request", "Client.BadRequest", "Invalid Content-Length.")
        if length > self.max_size:
            return json_fault(start, "413 Request Entity Too Large", "Client.RequestTooLong",
                              f"The request body exceeds {self.max_size} bytes.")
        if length == 0 and environ.get("wsgi.input_terminated"):
            # chunked: read at most max_size bytes
            environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], self.max_size)
        return self.app(environ, start)
