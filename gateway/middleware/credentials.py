"""Header credentials: ``X-OTRS-Header-*`` request headers as GenericInterface credentials.

Znuny's REST transport lets a client authenticate with request headers instead of
body, query or route values::

    X-OTRS-Header-UserLogin            X-OTRS-Header-CustomerUserLogin
    X-OTRS-Header-Password             X-OTRS-Header-SessionID
    X-OTRS-Header-TwoFactorToken       X-OTRS-Header-ImpersonateAsUser

This middleware collects the non-empty ones into ``environ["gateway.credentials"]`` (a dict
keyed by the Znuny data key, e.g. ``"UserLogin"``). Operations merge them over the values
of the request, so they work for SOAP as well as REST (Znuny ignores them for SOAP) and,
as in Znuny, a header wins over the same key in the route, query or body::

    app = HeaderCredentials(dispatcher)

Risks, and how they are met:

- These headers carry a password. Serve gateway over TLS (or behind a proxy that does),
  and keep them out of a proxy's access log: gateway's own communication log never records
  headers (and hides their values where an answer repeats them), its gunicorn logger redacts them.
- Nothing here authenticates anyone. The values are checked exactly like body credentials
  (password hash, session lookup, failed-login limits) by ``gateway.auth``; a proxy-set
  identity such as ``Remote-User`` is never trusted.
- ``ImpersonateAsUser`` is only honoured for agents holding rw on the configured
  impersonation group (``gateway.auth``); for anyone else the request fails to authenticate.
"""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.environ import CREDENTIALS

HEADERS = {
    "HTTP_X_OTRS_HEADER_USERLOGIN": "UserLogin",
    "HTTP_X_OTRS_HEADER_CUSTOMERUSERLOGIN": "CustomerUserLogin",
    "HTTP_X_OTRS_HEADER_PASSWORD": "Password",
    "HTTP_X_OTRS_HEADER_SESSIONID": "SessionID",
    "HTTP_X_OTRS_HEADER_TWOFACTORTOKEN": "TwoFactorToken",
    "HTTP_X_OTRS_HEADER_IMPERSONATEASUSER": "ImpersonateAsUser",
}


class HeaderCredentials:
    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[CREDENTIALS] = {
            key: environ[header].strip() for header, key in HEADERS.items() if environ.get(header, "").strip()
        }
        return self.app(environ, start_response)
