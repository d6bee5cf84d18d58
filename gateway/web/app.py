"""The admin pages' WSGI application: the URL map, who may see what, and how a refusal or a failure looks.

Mounted by the dispatcher under /admin/ inside the middleware stack, so request limits, the client
address (failed-login counts use it) and the request id apply as for the API. Every page but the
login form needs a live admin session; every POST needs the form's CSRF token, checked before any
view runs, so a forged request is a 403 that changed nothing. The pages' SECURITY_HEADERS (no script at
all, no framing) are added by the outermost middleware, so the refusals before the pages carry them too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib import resources
from urllib.parse import unquote
from wsgiref.types import StartResponse, WSGIEnvironment

from werkzeug import Request, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter, Map, Rule

from gateway.admin import sessions
from gateway.environ import REQUEST_ID
from gateway.errors import AdminError, ClientTimeoutError, DatabaseUnavailableError
from gateway.runtime import Runtime
from gateway.web import debugger, lockouts, login, mail, webservices
from gateway.web.page import BIGGEST_ID, FLASH_COOKIE, Page, View
from gateway.web.session import COOKIE, Cookies, csrf_token, valid_token

GET, POST = ("GET", "HEAD"), ("POST",)
# on every answer under /admin/ (app.py gives them to middleware/headers.py): no script, no frame, no form
# posting elsewhere, styles from the pages' own sheet
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
]
log = logging.getLogger(__name__)
_PUBLIC = {"login", "login_submit", "static"}  # everything else needs an admin session
_SESSIONLESS = {"static"}  # the stylesheet asks nothing of the database


class _IdConverter(IntegerConverter):
    """A row's number in a URL: beyond what either backend compares (SQLite fails on more), the page is 404."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=BIGGEST_ID)


# (path, endpoint, view, methods)
ROUTES: list[tuple[str, str, View, tuple[str, ...]]] = [
    ("/admin/", "index", login.index, GET),
    ("/admin/login", "login", login.login_form, GET),
    ("/admin/login", "login_submit", login.login_submit, POST),
    ("/admin/logout", "logout", login.logout, POST),
    ("/admin/webservices", "webservices", webservices.listing, GET),
    ("/admin/webservices/add", "webservice_add", webservices.add, POST),
    ("/admin/webservices/import", "webservice_import", webservices.import_file, POST),
    ("/admin/webservices/<name>", "webservice", webservices.show, GET),
    ("/admin/webservices/<name>/api", "webservice_api", webservices.api, GET),
    ("/admin/webservices/<name>/export", "webservice_export", webservices.export, GET),
    ("/admin/webservices/<name>/edit", "webservice_edit", webservices.edit_form, GET),
    ("/admin/webservices/<name>/edit", "webservice_update", webservices.update, POST),
    ("/admin/webservices/<name>/clone", "webservice_clone", webservices.clone, POST),
    ("/admin/webservices/<name>/valid", "webservice_valid", webservices.set_valid, POST),
    ("/admin/webservices/<name>/delete", "webservice_delete", webservices.delete_form, GET),
    ("/admin/webservices/<name>/delete", "webservice_delete_submit", webservices.delete, POST),
    ("/admin/webservices/<name>/history", "webservice_history", webservices.history, GET),
    ("/admin/webservices/<name>/history/<id:version>", "webservice_version", webservices.version_page, GET),
    ("/admin/webservices/<name>/history/<id:version>/restore", "webservice_restore", webservices.restore, POST),
    ("/admin/webservices/<name>/log", "webservice_log", debugger.log, GET),
    ("/admin/webservices/<name>/log/<id:entry>", "webservice_log_entry", debugger.entry, GET),
    ("/admin/mail", "mail", mail.listing, GET),
    ("/admin/mail/<id:mail_id>", "mail_message", mail.message, GET),
    ("/admin/mail/retry", "mail_retry", mail.retry, POST),
    ("/admin/mail/retry-failed", "mail_retry_failed", mail.retry_failed, POST),
    ("/admin/mail/purge", "mail_purge", mail.purge, POST),
    ("/admin/lockouts", "lockouts", lockouts.listing, GET),
    ("/admin/lockouts/lift", "lockout_lift", lockouts.lift, POST),
    ("/admin/static/<file>", "static", lambda page, file: _static(file), GET),
]
URL_MAP = Map(
    [Rule(path, endpoint=endpoint, methods=methods) for path, endpoint, _, methods in ROUTES],
    converters={"id": _IdConverter},
    strict_slashes=False,
    merge_slashes=False,
)
VIEWS: dict[str, View] = {endpoint: view for _, endpoint, view, _ in ROUTES}
# the stylesheet(s) shipped as package data, read once: a name asked for is looked up, never opened
STATIC = {
    entry.name: (entry.read_bytes(), "text/css; charset=utf-8")
    for entry in (resources.files("gateway.web") / "static").iterdir()
    if entry.name.endswith(".css")
}


class AdminPages:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.cookies = Cookies(settings.public_url.lower().startswith("https:"), settings.session_max_time)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.runtime.settings.max_request_size
        request.max_form_memory_size = self.runtime.settings.max_request_size
        urls = URL_MAP.bind_to_environ(environ)
        page = Page(request, self.runtime, urls, self.cookies, message=unquote(request.cookies.get(FLASH_COOKIE, "")))
        try:
            endpoint, values = urls.match()
            response = self._dispatch(page, endpoint, values)
        except HTTPException as error:
            response = self._error(page, error.code or 500, error.description or error.name)
            if isinstance(error, MethodNotAllowed) and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)
        except DatabaseUnavailableError as error:
            response = self._error(page, 503, f"The database is unavailable: try again in {error.retry_after} s.")
            response.headers["Retry-After"] = str(error.retry_after)
        except ClientTimeoutError:  # the body came too slowly: UnexpectedErrors answers 408 and closes
            raise
        except Exception:
            # a bug: the traceback goes to the log under the request id the page names, as for the API
            request_id = environ.get(REQUEST_ID, "")
            log.exception("admin page %s failed (request %s)", page.request.path, request_id)
            response = self._error(page, 500, f"Something went wrong on the server (request id {request_id}).")
        return response(environ, start_response)

    def _dispatch(self, page: Page, endpoint: str, values: Mapping[str, object]) -> Response:
        if endpoint in _SESSIONLESS:
            return VIEWS[endpoint](page, **values)
        session_id = page.request.cookies.get(COOKIE, "")
        if session_id:
            page.admin = sessions.current(self.runtime.db, self.runtime.settings, session_id)
        if page.admin is not None:
            page.csrf = csrf_token(session_id)
        if endpoint not in _PUBLIC:
            if page.admin is None:
                if page.request.method in POST:
                    return self._error(page, 403, "Your session has ended: log in again.")
                return page.redirect("login", next=page.request.full_path.rstrip("?"))
            if page.request.method in POST and not valid_token(page.request, page.csrf):
                return self._error(page, 403, "The form is stale or forged (no valid CSRF token): nothing was changed.")
        try:
            return VIEWS[endpoint](page, **values)
        except AdminError as error:  # what a view does not answer itself: the one line naming the problem
            return self._error(page, 400, str(error))

    def _error(self, page: Page, status: int, text: str) -> Response:
        return page.render("error.html", status=status, status_code=status, text=text)


def _static(file: str) -> Response:
    if file not in STATIC:
        raise NotFound()
    body, content_type = STATIC[file]
    return Response(body, content_type=content_type)
