"""gunicorn's logger with secrets redacted, and the request log: ``logger_class`` in gateway.gunicorn_config.

The access log is gateway's request log: one line per request (``access``), text or JSON by the
setting log_format, naming the request id that the client got back as X-Request-ID, the web
service and operation, the status and the time taken. gunicorn's access_log_format is not used for it.

gunicorn writes the request line, the query string and the Referer to the access log, and quotes
a request line it refuses ("Invalid request from ip=...: ...") or a request that broke ("Error
handling request GET /...") in the error log. A password in a query string or a session ID in a
`/Session/<SID>` path would stay there for good; here every access-log atom and every error-log
message goes through gateway.redaction first.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
from typing import Any

from gunicorn.glogging import Logger

from gateway.environ import CLIENT_ADDRESS, OPERATION, REQUEST_ID, SECRETS, WEBSERVICE
from gateway.middleware.credentials import HEADERS
from gateway.redaction import REDACTED, is_secret, redact_path, redact_query, redact_text, redact_url, scrub
from gateway.settings import load

# the X-OTRS-Header-* credentials that are secrets, as WSGI names them
SECRET_HEADERS = tuple(header for header, key in HEADERS.items() if is_secret(key))
_HEADER_ATOMS = {f"{{{name[5:].replace('_', '-').lower()}}}i" for name in SECRET_HEADERS}
_ENVIRON_ATOMS = {f"{{{name.lower()}}}e" for name in SECRET_HEADERS}
# the atoms whose format is known; every other string (the request line, headers, environ) is free text
_REDACT = {"U": redact_path, "q": redact_query, "f": redact_url, "{referer}i": redact_url}


# loggers whose records go to the server's error log: gateway's own and psycopg's (its pool reports outages)
APP_LOGGERS = ("gateway", "psycopg")


class _ToErrorLog(logging.Handler):
    """A record of the application's loggers, redacted, written by the error log's handlers (its file, its
    format with time, pid and level): without it they reach stderr bare, through logging's last resort."""

    def __init__(self, error_log: logging.Logger) -> None:
        super().__init__()
        self.error_log = error_log

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = redact_text(record.getMessage()), ()
        for handler in self.error_log.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn has no type hints
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.json_lines = load().log_format == "json"
        for name in APP_LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers = [_ToErrorLog(self.error_log)]
            # psycopg's pool tells at INFO what a server log need not repeat
            logger.setLevel(max(self.error_log.level, logging.WARNING) if name == "psycopg" else self.error_log.level)
            logger.propagate = False

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        """gunicorn's atoms (its Logger's interface; the request log below takes only four of them), those the
        access log format uses redacted (redacting all ~50 would cost more than the request)."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        found = _secrets(environ)
        used = _used(self.cfg.access_log_format) | {"r"}  # the request line, as the request log has it
        for key in used & atoms.keys():
            value = atoms[key]
            if key in _HEADER_ATOMS or key in _ENVIRON_ATOMS:
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = _REDACT.get(key, redact_text)(value, found)
        for key in used & atoms.keys():
            if isinstance(atoms[key], str):
                atoms[key] = scrub(atoms[key], found)
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta) -> None:
        """The request log: one line per request, as text or JSON (log_format), with what an operator looks
        for: the request id the client got as X-Request-ID, the web service and operation, status, time."""
        if not self.access_log_enabled:
            return
        # the four values the line needs, as atoms() has them (h, r, s, B): not all of gunicorn's ~20 atoms,
        # whose making and redacting cost a TicketGet a seventh of its throughput
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        sent = getattr(resp, "sent", None)
        webservice = environ.get(WEBSERVICE)
        fields = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": environ.get(REQUEST_ID, ""),
            "client": environ.get(CLIENT_ADDRESS) or environ.get("REMOTE_ADDR", "-"),
            "request": _request_line(environ, _secrets(environ)),
            "webservice": webservice.name if webservice is not None else "",
            "operation": environ.get(OPERATION, ""),
            "status": int(status) if str(status).isdigit() else status,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "bytes": sent if isinstance(sent, int) else 0,
        }
        self.access_log.info(_json_line(fields) if self.json_lines else _text_line(fields))

    def critical(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().critical(_redacted(msg, args), **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().error(_redacted(msg, args), **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().warning(_redacted(msg, args), **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().info(_redacted(msg, args), **kwargs)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().debug(_redacted(msg, args), **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().exception(_redacted(msg, args), **kwargs)


def _secrets(environ: dict[str, Any]) -> set[str]:
    """The credentials a request carried outside its body, to be scrubbed wherever they appear."""
    found = {str(environ[name]).strip() for name in SECRET_HEADERS if environ.get(name)}
    found.update(environ.get(SECRETS, ()))  # a custom route's :SessionID, wherever in the path it is
    return found


def _request_line(environ: dict[str, Any], found: set[str]) -> str:
    """gunicorn's request-line atom (r), redacted as atoms() redacts it."""
    line = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
    return scrub(redact_text(line, found), found)


def _json_line(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _text_line(fields: dict[str, Any]) -> str:
    """Space-separated, the request line quoted (its quotes and controls escaped), `-` for what a request
    has not (a web service and operation only where one answered)."""
    request = json.dumps(fields["request"], ensure_ascii=False)
    return (
        f"{fields['time']} {fields['request_id'] or '-'} {fields['client'] or '-'} {request}"
        f" {fields['webservice'] or '-'} {fields['operation'] or '-'} {fields['status']}"
        f" {fields['duration_ms']}ms {fields['bytes']}B"
    )


@functools.cache
def _used(access_log_format: str) -> frozenset[str]:
    return frozenset(re.findall(r"%\(([^)]*)\)", access_log_format))


def _redacted(msg: str, args: tuple[Any, ...]) -> str:
    """The message as logging would format it, redacted (logging formats no message given without arguments)."""
    try:
        text = str(msg) % args if args else str(msg)
    except (TypeError, ValueError):  # arguments that do not fit the message: logged side by side
        text = f"{msg} {args}"
    return redact_text(text)
