"""Unexpected errors: whatever breaks below this middleware is answered in the web service's own fault shape.

::

    app = RequestLimits(UnexpectedErrors(app), max_size=...)

An exception that no layer handled would make gunicorn answer an HTML page no SOAP or
REST client can read. Instead the client gets status 500 and a soap:Fault (for a SOAP web
service, as the dispatcher records in ``environ["gateway.soap_faults"]``) or Znuny's JSON
fault (everything else), whose message names the request id; the traceback goes to the
server log under that id (`gateway.faults.unexpected`). A database that cannot be used is no
bug: it is answered 503 with Retry-After (the database has logged why). A request body that
did not arrive in time (`ClientTimeoutError`, from the worker, gateway.gunicorn_worker) is the
client's doing: 408, nothing logged. It must sit inside `RequestLimits`, which assigns the id.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.errors import ClientTimeoutError, DatabaseUnavailableError
from gateway.faults import INTERNAL_ERROR, WriteBody, fault, unavailable, unexpected

if TYPE_CHECKING:
    from _typeshed import OptExcInfo


class UnexpectedErrors:
    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # the path as it came (the dispatcher rewrites PATH_INFO); `unexpected` redacts it
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        started = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None) -> WriteBody:
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        except Exception as error:
            # PEP 3333: a second start_response must pass exc_info (its headers replace those not yet sent)
            exc_info = sys.exc_info()

            def again(status: str, headers: list[tuple[str, str]], _: OptExcInfo | None = None) -> WriteBody:
                return start_response(status, headers, exc_info if started else None)

            if isinstance(error, DatabaseUnavailableError):
                return unavailable(environ, again, error.retry_after)
            if isinstance(error, ClientTimeoutError):
                # the rest of the body may still come: the connection cannot carry another request
                def closing(status: str, headers: list[tuple[str, str]], _: OptExcInfo | None = None) -> WriteBody:
                    return again(status, [*headers, ("Connection", "close")])

                return fault(
                    environ,
                    closing,
                    "408 Request Timeout",
                    "Client.RequestTimeout",
                    "The request did not arrive in time.",
                )
            return fault(environ, again, INTERNAL_ERROR, "Server", unexpected(environ, f"{method} {path}"))
