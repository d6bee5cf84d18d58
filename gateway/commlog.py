"""The communication log: what each web service was asked and answered, secrets redacted.

Znuny's debugger stores the whole CGI environment and raw bodies, passwords included.
Here every password, session id and token is replaced before anything is written, in
JSON bodies, XML bodies and query strings alike.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import re
import threading
import time
from collections import deque

from gateway.store import commlog
from gateway.store.database import Database, utcnow

log = logging.getLogger(__name__)

SECRET_KEYS = ("Password", "SessionID", "TwoFactorToken", "AccessToken", "UserPw", "pw")
REDACTED = "***"
MAX_STORED = 64 * 1024
# bodies are cut to this before redaction (which needs whole values), and to MAX_STORED after
MAX_QUEUED = 256 * 1024

_SECRET = "|".join(SECRET_KEYS)
_XML_SECRET = re.compile(rf"(<(?:[\w.-]+:)?({_SECRET})(?:\s[^>]*)?>)([^<]*)(</|$)", re.I)
_QUERY_SECRET = re.compile(rf"((?:^|[?&;])(?:{_SECRET})=)([^&;#]*)", re.I)
_JSON_SECRET = re.compile(rf'("(?:{_SECRET})"\s*:\s*)"(?:[^"\\]|\\.)*"?', re.I)
_SECRET_NAMES = {key.lower() for key in SECRET_KEYS}
_PATH_SECRET = re.compile(r"(/Session/)[^/?#]+", re.I)


# an exchange as queued: _stored's arguments
_Queued = tuple[int, str, str, str, int, int, str, str, bytes, bytes, dt.datetime]


def _redact_json(value: object) -> object:
    if isinstance(value, dict):
        return {k: REDACTED if k.lower() in _SECRET_NAMES else _redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def redact_query(query: str) -> str:
    return _QUERY_SECRET.sub(rf"\1{REDACTED}", query)


def redact_path(path: str) -> str:
    """A request path without the session ID that Znuny's routes carry in it (`/Session/:SessionID`)."""
    return _PATH_SECRET.sub(rf"\1{REDACTED}", path)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def redact(text: str) -> str:
    """Remove secrets from a request or response body, whatever its format."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in "{[":
        try:
            redacted = json.dumps(_redact_json(json.loads(stripped)), ensure_ascii=False, sort_keys=True)
            # a lone surrogate ("\ud800", refused by the transport) stays the escape it was sent as
            return redacted if _encodable(redacted) else json.dumps(json.loads(redacted), sort_keys=True)
        except (ValueError, RecursionError):  # nested too deep to parse: a bad request the log keeps as sent
            return _JSON_SECRET.sub(rf'\1"{REDACTED}"', text)
    if stripped[:1] == "<":
        return _XML_SECRET.sub(rf"\1{REDACTED}\4", text)
    return redact_query(text)


def _text(body: bytes) -> str:
    """A body as text any database stores: PostgreSQL refuses NUL in text, and one such record lost its batch."""
    return body.decode("utf-8", "replace").replace("\x00", "\ufffd")


def _stored(
    webservice_id: int,
    communication_id: str,
    remote_ip: str,
    operation: str,
    http_status: int,
    duration_ms: int,
    request_line: str,
    query: str,
    request_body: bytes,
    response_body: bytes,
    created: dt.datetime,
) -> commlog.Record:
    """A queued exchange as the row the log keeps: redacted, then cut to size."""
    query = f"?{redact_query(query)}" if query else ""
    request = f"{redact_path(request_line)}{query}\n\n{redact(_text(request_body))}"
    response = redact(_text(response_body))
    return (
        webservice_id,
        communication_id,
        remote_ip,
        operation,
        http_status,
        duration_ms,
        request[:MAX_STORED],
        response[:MAX_STORED],
        created,
    )


class CommunicationLog:
    """Records are queued in memory and written in batches by a background thread.

    A request never waits for the log, and a hundred requests cost one transaction instead
    of a hundred. What is still queued when a worker is killed hard is lost: this is a
    debugging aid, not an audit trail (ticket history is, and it is written with the ticket).
    """

    def __init__(self, db: Database, keep_days: int, flush_interval: float = 0.5) -> None:
        self.db = db
        self.keep_days = keep_days
        self.flush_interval = flush_interval
        self._queue: deque[_Queued] = deque(maxlen=100_000)
        self._closed = threading.Event()
        self._thread_pid = 0
        self._lock = threading.Lock()
        self._next_purge = 0.0
        atexit.register(self.close)

    def record(
        self,
        webservice_id: int,
        communication_id: str,
        remote_ip: str,
        operation: str,
        http_status: int,
        duration_ms: int,
        request_line: str,
        query: str,
        request_body: bytes,
        response_body: bytes,
    ) -> None:
        """Queue one exchange; redaction happens on the writer thread, off the request's path."""
        self._queue.append(
            (
                webservice_id,
                communication_id,
                remote_ip,
                operation,
                http_status,
                duration_ms,
                request_line,
                query,
                request_body[:MAX_QUEUED],
                response_body[:MAX_QUEUED],
                utcnow(),
            )
        )
        self._ensure_thread()

    def flush(self) -> None:
        with self._lock:
            batch = []
            while self._queue:
                batch.append(_stored(*self._queue.popleft()))
            if not batch:
                return
            try:
                with self.db.transaction() as tx:
                    commlog.add_many(tx, batch)
                    if time.monotonic() >= self._next_purge:
                        commlog.purge(tx, utcnow() - dt.timedelta(days=self.keep_days))
                        self._next_purge = time.monotonic() + 3600
            except Exception:
                log.exception("communication log: %d records could not be written", len(batch))

    def close(self) -> None:
        """Write what is queued and stop the background thread."""
        self._closed.set()
        self.flush()
        atexit.unregister(self.close)

    def _ensure_thread(self) -> None:
        if self._thread_pid == os.getpid() or self._closed.is_set():
            return
        self._thread_pid = os.getpid()
        threading.Thread(target=self._run, name="communication-log", daemon=True).start()

    def _run(self) -> None:
        while not self._closed.wait(self.flush_interval):
            self.flush()
