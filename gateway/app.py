"""The WSGI application: ``gateway.app:application`` for gunicorn, ``make_app`` for tests.

Only this module knows the order of the stack (outermost first): request limits, header
credentials, dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.commlog import CommunicationLog
from gateway.dispatcher import Dispatcher
from gateway.middleware.credentials import HeaderCredentials
from gateway.middleware.limits import RequestLimits
from gateway.runtime import Runtime
from gateway.settings import Settings, load
from gateway.webservice.registry import Registry


def make_app(settings: Settings | None = None) -> Callable:
    settings = settings or load()
    runtime = Runtime.create(settings)
    registry = Registry(runtime.db, settings.public_url, settings.max_request_size,
                        settings.webservice_refresh_interval)
    commlog = CommunicationLog(runtime.db, settings.communication_log_days)
    app = Dispatcher(runtime, registry, commlog)
    app = HeaderCredentials(app)
    return RequestLimits(app, settings.max_request_size)


def __getattr__(name: str) -> Callable:
    """``application`` is built on first access, so importing this module has no side effects."""
    if name == "application":
        global application
        application = make_app()
        return application
    raise AttributeError(name)
