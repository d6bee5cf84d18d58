"""Headers on every answer: ``Cache-Control: no-store`` and ``X-Content-Type-Options: nosniff``.

::

    app = ResponseHeaders(RequestLimits(app, max_size=...), extra=lambda path: [...])

An answer holds tickets, session ids and customer data: no cache between client and server
(a proxy, a browser) may keep it. The WSDL and OpenAPI documents are no-store too: they are
small, and they change when a web service is changed, so a cached copy would describe a
service that is no longer there. nosniff keeps a browser from running a JSON or XML answer
as a script or page it guessed. Outermost in the stack, so that the refusals of the other
middleware (413, 400) carry them as well. For the same reason `extra` gives the headers of some
paths here (the admin pages' policy: no script, no framing), so that a refusal before those pages
carries their policy too. A HEAD request gets its answer's headers without the body, as HTTP has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.faults import WriteBody

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
Header = tuple[str, str]


class ResponseHeaders:
    def __init__(self, app: WSGIApplication, extra: Callable[[str], Sequence[Header]] = lambda path: ()) -> None:
        """`extra`: a path's own headers, besides HEADERS."""
        self.app = app
        self.extra = extra

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        added = [*HEADERS, *self.extra(environ.get("PATH_INFO", ""))]

        def start(status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None) -> WriteBody:
            return start_response(status, [*headers, *added], exc_info)

        answer = self.app(environ, start)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return answer
        # a HEAD answer has the headers of GET's and no body (gunicorn warns of every byte sent)
        for _ in answer:
            pass
        if hasattr(answer, "close"):
            answer.close()
        return []
