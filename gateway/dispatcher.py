"""Znuny's URL layout: which web service a request is for, and who answers it.

    /{otrs|znuny}/nph-genericinterface.pl/Webservice/<Name>[/<route>]
    /{otrs|znuny}/nph-genericinterface.pl/WebserviceID/<ID>[/<route>]
    GET  .../Webservice/<SOAP name>?wsdl  (or /wsdl)   the generated WSDL
    GET  .../Webservice/<REST name>/openapi.json        the generated OpenAPI 3 document
    GET  /health                                        JSON for load balancers
    GET  /metrics                                       Prometheus text, to metrics_allowed addresses
    /admin/...                                          the admin pages (gateway.web, mounted by app.py)

Where Znuny closes the connection (unknown web service) or answers a bare 500, we answer
404 with a JSON body that names the problem.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from wsgiref.types import InputStream, WSGIApplication, WSGIEnvironment

from gateway import __version__, metrics
from gateway.commlog import MAX_QUEUED, CommunicationLog
from gateway.environ import (
    CLIENT_ADDRESS,
    CREDENTIALS,
    ERROR_CODE,
    OPERATION,
    REQUEST_ID,
    RETRY_AFTER,
    RUNTIME,
    SECRETS,
    SOAP_FAULTS,
    WEBSERVICE,
)
from gateway.errors import ClientTimeoutError, DatabaseUnavailableError
from gateway.faults import UNAVAILABLE, StartResponse, WriteBody, fault, json_fault, respond
from gateway.middleware.limits import buffer_body
from gateway.redaction import is_secret
from gateway.runtime import Runtime
from gateway.settings import proxy_networks
from gateway.webservice.config import SOAP
from gateway.webservice.endpoint import Endpoint
from gateway.webservice.registry import Registry
from gateway.wirenumbers import identifier

if TYPE_CHECKING:
    from _typeshed import OptExcInfo


# the request headers the communication log keeps (none holds a credential): what a SOAP mismatch turns on
_LOGGED_HEADERS = (("Content-Type", "CONTENT_TYPE"), ("SOAPAction", "HTTP_SOAPACTION"))
_PATH = re.compile(
    r"^/(?:otrs|znuny)/nph-genericinterface\.pl(?:/(?:Webservice/(?P<name>[^/]+)"
    r"|WebserviceID/(?P<id>[0-9]+))(?P<rest>/.*)?)?$"
)


class _Tee:
    """Keeps the first bytes of the request body for the communication log while the transport reads it."""

    def __init__(self, stream: InputStream, keep: int) -> None:
        self.stream, self.keep, self.data = stream, keep, bytearray()

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.stream.read(size)
        if len(self.data) < self.keep:
            self.data += chunk[: self.keep - len(self.data)]
        return chunk

    def readline(self, size: int = -1, /) -> bytes:
        line = self.stream.readline(size)
        if len(self.data) < self.keep:
            self.data += line[: self.keep - len(self.data)]
        return line


def _secrets(endpoint: Endpoint, environ: WSGIEnvironment, rest: str) -> list[str]:
    """The credential values a request carries outside its body: X-OTRS-Header-* and route parameters (a
    `/Session/:SessionID` route), for the communication log to scrub wherever they are repeated."""
    found = [value for key, value in environ.get(CREDENTIALS, {}).items() if is_secret(key)]
    for route in endpoint.config.routes:
        found += [value for key, value in (route.match(rest) or {}).items() if is_secret(key)]
    return found


def admin_path(path: str) -> bool:
    """Whether a path is the admin pages' (served by the application app.py mounts)."""
    return path == "/admin" or path.startswith("/admin/")


def _text(path_part: str) -> str:
    """A WSGI path holds the URL's bytes as Latin-1 (PEP 3333); a web service's name is UTF-8 text, as in Znuny."""
    try:
        return path_part.encode("latin-1").decode("utf-8")
    except UnicodeError:  # not UTF-8 (or not from a WSGI server): as it came
        return path_part


class Dispatcher:
    def __init__(self, runtime: Runtime, registry: Registry, commlog: CommunicationLog, admin: WSGIApplication) -> None:
        self.runtime = runtime
        self.registry = registry
        self.commlog = commlog
        self.admin = admin
        self.metrics_networks = proxy_networks(runtime.settings.metrics_allowed, "metrics_allowed")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            return self._health(start_response)
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if admin_path(path):
            if not buffer_body(environ, self.runtime.settings.max_request_size):
                return json_fault(
                    start_response,
                    "413 Request Entity Too Large",
                    "Client.RequestTooLong",
                    "The request body is too long.",
                )
            return self.admin(environ, start_response)
        found = _PATH.match(path)
        if found is None or not (found["name"] or found["id"]):
            return json_fault(
                start_response,
                "404 Not Found",
                "Client.NotFound",
                f"'{path}' is no web service path: use /otrs/nph-genericinterface.pl/"
                "Webservice/<Name>/... or .../WebserviceID/<ID>/...",
            )
        # until the web services are loaded (the database unavailable: UnexpectedErrors' 503), a request
        # that looks like SOAP is answered a soap:Fault
        environ[SOAP_FAULTS] = "HTTP_SOAPACTION" in environ or "xml" in environ.get("CONTENT_TYPE", "")
        name = _text(found["name"]) if found["name"] else ""  # decoded once already, by the server
        endpoint = self.registry.by_name(name) if name else self.registry.by_id(identifier(found["id"]) or 0)
        if endpoint is None or endpoint.app is None:
            what = f"'{name}'" if name else f"with ID {found['id']}"
            return json_fault(
                start_response,
                "404 Not Found",
                "Client.WebserviceNotFound",
                f"There is no web service {what} with a provider on this server.",
            )
        environ[WEBSERVICE] = endpoint.config
        environ[SOAP_FAULTS] = endpoint.config.transport == SOAP
        rest = found["rest"] or ""
        if (
            endpoint.wsdl is not None
            and environ["REQUEST_METHOD"] == "GET"
            and (rest in ("/wsdl", "/wsdl/") or environ.get("QUERY_STRING", "").lower().startswith("wsdl"))
        ):
            return respond(start_response, "200 OK", endpoint.wsdl, "text/xml; charset=utf-8")
        if endpoint.openapi is not None and rest == "/openapi.json" and environ["REQUEST_METHOD"] == "GET":
            return respond(start_response, "200 OK", endpoint.openapi, "application/json")
        if (
            not buffer_body(environ, endpoint.config.max_length)
            or int(environ["CONTENT_LENGTH"]) > endpoint.config.max_length
        ):
            return fault(
                environ,
                start_response,
                "413 Request Entity Too Large",
                "Client.RequestTooLong",
                f"The request body exceeds this web service's MaxLength of {endpoint.config.max_length} bytes.",
            )
        return self._serve(endpoint, endpoint.app, environ, start_response, path, rest)

    def _serve(
        self,
        endpoint: Endpoint,
        app: WSGIApplication,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        path: str,
        rest: str,
    ) -> list[bytes]:
        started = time.monotonic()
        environ[RUNTIME] = self.runtime
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + path[: len(path) - len(rest)]
        environ["PATH_INFO"] = rest
        tee = environ["wsgi.input"] = _Tee(environ["wsgi.input"], MAX_QUEUED)
        secrets = environ[SECRETS] = _secrets(endpoint, environ, rest)
        status: list[str] = []

        def capture(code: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None) -> WriteBody:
            status.append(code)
            if code == UNAVAILABLE and RETRY_AFTER in environ:  # the operation's Server.Unavailable fault
                headers = [*headers, ("Retry-After", str(environ[RETRY_AFTER]))]
            return start_response(code, headers, exc_info)

        body: list[bytes] = []
        answered = 500  # an exchange that broke is logged too, with the status UnexpectedErrors answers
        try:
            body = list(app(environ, capture))
            answered = int(status[0][:3]) if status else 500
        except DatabaseUnavailableError:
            answered = 503
            raise
        except ClientTimeoutError:  # the body came too slowly: UnexpectedErrors answers 408
            answered = 408
            raise
        finally:
            elapsed = time.monotonic() - started
            operation = environ.get(OPERATION, "")  # a SOAP body's element may name anything: not a label
            known = operation if operation in endpoint.config.operations else "unknown"
            metrics.observe(endpoint.config.name, known, answered, elapsed)
            bodies = endpoint.config.logs_bodies(answered, environ.get(ERROR_CODE))
            self.commlog.record(
                endpoint.config.id,
                environ.get(REQUEST_ID, ""),
                environ.get(CLIENT_ADDRESS, ""),
                environ.get(OPERATION, ""),
                answered,
                int(elapsed * 1000),
                f"{environ['REQUEST_METHOD']} {rest or '/'}",
                environ.get("QUERY_STRING", ""),
                bytes(tee.data) if bodies else b"",
                b"".join(body) if bodies else b"",
                secrets,
                environ.get(ERROR_CODE),
                [(name, environ[key]) for name, key in _LOGGED_HEADERS if environ.get(key)] if bodies else [],
            )
        return body

    def _metrics(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """Prometheus' page, for the addresses metrics_allowed names (behind trusted proxies, the client's)."""
        try:
            client = ipaddress.ip_address(environ.get(CLIENT_ADDRESS, ""))
        except ValueError:
            client = None
        if client is None or not any(client in network for network in self.metrics_networks):
            return json_fault(
                start_response,
                "403 Forbidden",
                "Client.Forbidden",
                "The metrics are served only to the addresses the setting metrics_allowed names.",
            )
        body, content_type = metrics.page(self.runtime.db, environ.get("HTTP_ACCEPT", ""))
        return respond(start_response, "200 OK", body, content_type)

    def _health(self, start_response: StartResponse) -> list[bytes]:
        healthy = self.runtime.db.ping()
        body = json.dumps(
            {"Database": "ok" if healthy else "unreachable", "Version": __version__}, separators=(",", ":")
        ).encode()
        return respond(
            start_response, "200 OK" if healthy else "503 Service Unavailable", body, "application/json; charset=UTF-8"
        )
