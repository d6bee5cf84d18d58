"""The WSGI application: ``gateway.app:application`` for gunicorn, ``make_app`` for tests.

Only this module knows the order of the stack (outermost first): response headers (no-store,
nosniff; under /admin/ the admin pages' policy), request limits (which assign the request id),
unexpected errors (answered as faults naming it), the client address, header credentials,
dispatcher (which hands /admin/ to the admin pages, built here).

gunicorn's master, which preloads ``application``, loads the web services: every worker starts
with them, and serves its WSDL and OpenAPI documents even if the database is down by the
time it takes its first request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.commlog import CommunicationLog
from gateway.dispatcher import Dispatcher, admin_path
from gateway.errors import DatabaseUnavailableError
from gateway.middleware.client_address import ClientAddress
from gateway.middleware.credentials import HeaderCredentials
from gateway.middleware.errors import UnexpectedErrors
from gateway.middleware.headers import ResponseHeaders
from gateway.middleware.limits import RequestLimits
from gateway.runtime import Runtime
from gateway.settings import Settings, advertised_url, load, proxy_networks, trusts_unix_peer
from gateway.web.app import SECURITY_HEADERS, AdminPages
from gateway.webservice.registry import Registry

log = logging.getLogger(__name__)


class Gateway:
    """The WSGI application, and what it holds open until `close`."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime.create(settings)
        # `gateway serve` passes its bind address as public_url; gunicorn started by hand without one
        # advertises DEFAULT_BIND, and says so
        if not settings.public_url:
            log.warning("public_url is not set: the WSDL and OpenAPI documents name %s", advertised_url(""))
        registry = Registry(
            self.runtime.db,
            advertised_url(settings.public_url),
            settings.max_request_size,
            settings.webservice_refresh_interval,
        )
        self.registry = registry
        self.commlog = CommunicationLog(self.runtime.db, settings.communication_log_days)
        app: WSGIApplication = Dispatcher(self.runtime, registry, self.commlog, AdminPages(self.runtime))
        app = HeaderCredentials(app)
        app = ClientAddress(
            app, proxy_networks(settings.trusted_proxies), unix=trusts_unix_peer(settings.trusted_proxies)
        )
        app = UnexpectedErrors(app)
        self.wsgi = ResponseHeaders(
            RequestLimits(app, settings.max_request_size),
            extra=lambda path: SECURITY_HEADERS if admin_path(path) else (),
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi(environ, start_response)

    def preload(self) -> None:
        """Load the web services now, before gunicorn's master forks its workers."""
        try:
            self.registry.refresh()
        except DatabaseUnavailableError as error:  # then the first request that finds the database loads them
            log.warning("the web services are not loaded yet: %s", error)
        finally:
            self.runtime.db.close()  # the master hands no connection to its workers

    def close(self) -> None:
        """Write what the communication log still holds, then release database connections."""
        self.commlog.close()
        self.runtime.db.close()


def make_app(settings: Settings | None = None) -> Gateway:
    return Gateway(settings or load())


application: Gateway  # built on first access by __getattr__


def __getattr__(name: str) -> Gateway:
    """``application`` is built on first access, so importing this module has no side effects."""
    if name == "application":
        global application
        application = make_app()
        application.preload()
        return application
    raise AttributeError(name)
