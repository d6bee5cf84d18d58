"""Unexpected errors: whatever breaks below this middleware is answered in the web service's own fault shape.

::

    app = RequestLimits(UnexpectedErrors(app), max_size=...)

An exception that no layer handled would make gunicorn answer an HTML page no SOAP or
REST client can read. Instead the client gets status 500 and a soap:Fault (for a SOAP web
service, as the dispatcher records in ``environ["gateway.soap_faults"]``) or Znuny's JSON
fault (everything else), whose message names the request id; the traceback goes to the
server log under that id (`gateway.faults.unexpected`). It must sit inside `RequestLimits`,
which assigns the id.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import Any

from gateway.commlog import redact_path
from gateway.faults import INTERNAL_ERROR, fault, unexpected


class UnexpectedErrors:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # the path as it came (the dispatcher rewrites PATH_INFO), redacted only if it is logged
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        started = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        except Exception:
            # PEP 3333: a second start_response must pass exc_info (its headers replace those not yet sent)
            again = functools.partial(start_response, exc_info=sys.exc_info()) if started else start_response
            return fault(environ, again, INTERNAL_ERROR, "Server", unexpected(environ, f"{method} {redact_path(path)}"))
