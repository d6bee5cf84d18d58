"""What every operation shares: its view of the request, authentication, Znuny's error shape."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any
from wsgiref.types import WSGIEnvironment

from spyne import Fault

from gateway.auth import Credentials
from gateway.environ import (
    CLIENT_ADDRESS,
    CREDENTIALS,
    ERROR_CODE,
    OPERATION,
    REQUEST_HAS_DATA,
    RETRY_AFTER,
    RUNTIME,
    WEBSERVICE,
)
from gateway.errors import DatabaseUnavailableError
from gateway.faults import UNAVAILABLE_CODE, unavailable_message, unexpected
from gateway.principal import Principal
from gateway.runtime import Runtime
from gateway.store.database import Transaction, as_datetime

log = logging.getLogger(__name__)


def wire_time(value: str | dt.datetime | None) -> str:
    """A stored time as Znuny's answers show it, "YYYY-MM-DD HH:MM:SS"; "" when there is none."""
    moment = as_datetime(value)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


class OperationError(Exception):
    """A business error: HTTP 200 with Error.ErrorCode / Error.ErrorMessage, nothing written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclasses.dataclass
class Call:
    """One operation call: the request's environment and the server's runtime."""

    ctx: Any
    runtime: Runtime
    environ: WSGIEnvironment
    # writes to run once the operation's transaction has ended (see Authenticator.authenticate)
    after: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, ctx: Any) -> Call:
        environ = ctx.transport.req_env
        return cls(ctx, environ[RUNTIME], environ)

    @property
    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = self.environ.get(CREDENTIALS) or {}
        return headers

    @property
    def options(self) -> dict[str, Any]:
        """The operation's own settings in the web service (Znuny's Provider.Operation.<Name>)."""
        options: dict[str, Any] = self.environ[WEBSERVICE].operation_options.get(self.environ.get(OPERATION, ""), {})
        return options

    @property
    def remote_addr(self) -> str:
        """The client's address as middleware.client_address decided it (behind trusted proxies too)."""
        address: str = self.environ.get(CLIENT_ADDRESS, "")
        return address

    @property
    def user_agent(self) -> str:
        agent: str = self.environ.get("HTTP_USER_AGENT", "")
        return agent

    def credentials(self, request: Any) -> Credentials:
        return Credentials.of(request, self.headers)

    def is_empty(self, request: Any) -> bool:
        """Znuny's "The request is empty!": no data in the body, the URI or credential headers."""
        if self.headers:
            return False
        if REQUEST_HAS_DATA in self.environ:
            return not self.environ[REQUEST_HAS_DATA]
        return request is None or all(
            getattr(request, name, None) in (None, "", []) for name in type(request)._type_info
        )

    def authenticate(self, creds: Credentials, tx: Transaction | None = None) -> Principal | None:
        """Auth(), in the operation's transaction when one is open."""
        return self.runtime.auth.authenticate(creds, self.remote_addr, tx, self.after)


def operation(fn: Callable[[Call, Any], Any]) -> Callable[[Any, Any], Any]:
    """Run an operation: business errors become its Error response, anything else a safe Server fault.

    A database that cannot be used is a Server.Unavailable fault (503 with Retry-After): nothing
    was written, the open transaction rolled back.
    """

    @functools.wraps(fn)
    def run(ctx: Any, request: Any) -> Any:
        call = Call.of(ctx)
        try:
            return fn(call, request)
        except OperationError as error:
            call.environ[ERROR_CODE] = error.code  # the debugger counts it an error, though HTTP says 200
            # descriptors hold customized copies of the models: build the originals
            response = ctx.descriptor.out_message.__orig__ or ctx.descriptor.out_message
            error_type = response._type_info["Error"].__orig__ or response._type_info["Error"]
            return response(Error=error_type(ErrorCode=error.code, ErrorMessage=error.message))
        except Fault:
            raise
        except DatabaseUnavailableError as error:
            call.environ[RETRY_AFTER] = error.retry_after
            raise Fault(UNAVAILABLE_CODE, unavailable_message(error.retry_after)) from None
        except Exception:
            raise Fault("Server", unexpected(call.environ, f"operation {call.environ.get(OPERATION)}")) from None
        finally:
            for job in call.after:
                try:
                    job()
                except DatabaseUnavailableError as error:  # the answer stands: what the operation did is committed
                    log.warning("operation %s: a write after it was not done: %s", call.environ.get(OPERATION), error)

    return run
