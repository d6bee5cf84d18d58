"""Headers on every answer: ``Cache-Control: no-store`` and ``X-Content-Type-Options: nosniff``.

::

    app = ResponseHeaders(RequestLimits(app, max_size=...))

An answer holds tickets, session ids and customer data: no cache between client and server
(a proxy, a browser) may keep it. The WSDL and OpenAPI documents are no-store too: they are
small, and they change when a web service is changed, so a cached copy would describe a
service that is no longer there. nosniff keeps a browser from running a JSON or XML answer
as a script or page it guessed. Outermost in the stack, so that the refusals of the other
middleware (413, 400) carry them as well. For the same reason the admin pages' policy (no script,
no framing) is set here, on every answer under /admin/: theirs and the refusals before them. A
HEAD request gets its answer's headers without the body, as HTTP has it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.faults import WriteBody

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
# the admin pages' (gateway.web): no script, no frame, no form posting elsewhere, styles from their own sheet
ADMIN_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
]


class ResponseHeaders:
    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        added = [*HEADERS, *ADMIN_HEADERS] if path == "/admin" or path.startswith("/admin/") else HEADERS

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
