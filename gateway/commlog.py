"""The communication log: what each web service was asked and answered, secrets redacted.

Znuny's debugger stores the whole CGI environment and raw bodies, passwords included.
Here every password, session id and token is replaced before anything is written
(gateway.redaction), and nothing a client sends can stop the log: not a body nested too
deep to parse, not NUL or bytes that are no UTF-8, not a flood of requests.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable

from gateway import metrics
from gateway.errors import DatabaseUnavailableError
from gateway.redaction import redact_body, redact_path, redact_query, scrub, storable
from gateway.store import commlog
from gateway.store.database import Database, utcnow

log = logging.getLogger(__name__)

MAX_STORED = 64 * 1024
# bodies are cut to this before redaction (which needs whole values), and to MAX_STORED after
MAX_QUEUED = 256 * 1024
# what waits for the writer is bounded: a database that is down or slow costs records, not the worker's memory
MAX_QUEUE_RECORDS = 10_000
MAX_QUEUE_BYTES = 64 * 1024 * 1024
BATCH = 500
WARN_EVERY = 60.0  # seconds between two warnings about lost records
# seconds the writer waits after the database was unavailable: each try redacts a batch again
OUTAGE_PAUSE = 5.0


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One request and its answer as queued, unredacted: redaction runs on the writer thread."""

    webservice_id: int
    communication_id: str
    remote_ip: str
    operation: str
    http_status: int
    error_code: str | None  # the Error.ErrorCode the operation answered, if any
    duration_ms: int
    request_line: str
    query: str
    request_body: bytes
    response_body: bytes
    secrets: tuple[str, ...]  # credential values the request carried outside its body (headers, route)
    created: dt.datetime
    headers: tuple[tuple[str, str], ...] = ()  # the few a debugger reads (Content-Type, SOAPAction), none secret

    @property
    def size(self) -> int:
        """What the exchange counts against the queue's byte bound: its bodies (the rest is small)."""
        return len(self.request_body) + len(self.response_body)


def _row(exchange: Exchange) -> commlog.Record:
    """A queued exchange as the row the log keeps: redacted, secrets found anywhere scrubbed everywhere, storable
    on every backend, cut to size."""
    found = set(exchange.secrets)
    line = redact_path(exchange.request_line, found)
    query = f"?{redact_query(exchange.query, found)}" if exchange.query else ""
    request_body = redact_body(exchange.request_body, found)
    response = redact_body(exchange.response_body, found)
    headers = "".join(f"\n{name}: {value}" for name, value in exchange.headers)
    request = scrub(f"{line}{query}{headers}\n\n{request_body}", found)
    return (
        exchange.webservice_id,
        storable(exchange.communication_id),
        storable(exchange.remote_ip),
        storable(exchange.operation),
        exchange.http_status,
        exchange.error_code,
        exchange.duration_ms,
        storable(request)[:MAX_STORED],
        storable(scrub(response, found))[:MAX_STORED],
        exchange.created,
    )


class CommunicationLog:
    """Records are queued in memory and written in batches by a background thread.

    A request never waits for the log, and a hundred requests cost one transaction instead
    of a hundred. What is still queued when a worker is killed hard is lost: this is a
    debugging aid, not an audit trail (ticket history is, and it is written with the ticket).
    While the database is unavailable the records wait in the queue, within its bounds.
    """

    def __init__(
        self,
        db: Database,
        keep_days: int,
        flush_interval: float = 0.5,
        max_records: int = MAX_QUEUE_RECORDS,
        max_bytes: int = MAX_QUEUE_BYTES,
    ) -> None:
        self.db = db
        self.keep_days = keep_days
        self.flush_interval = flush_interval
        self.max_records, self.max_bytes = max_records, max_bytes
        # counters since start, for monitoring: refused because the queue was full, and skipped because
        # the record could not be redacted or written
        self.dropped = 0
        self.skipped = 0
        self.written = 0
        self._queue: deque[Exchange] = deque()
        self._queued_bytes = 0
        self._queue_lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next_purge = 0.0
        self._next_warning = 0.0
        self._unwarned = 0
        self._warn_lock = threading.Lock()
        self._pause_until = 0.0  # the writer's next try after the database was unavailable
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
        secrets: Iterable[str] = (),
        error_code: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Queue one exchange, or count it dropped when the queue is full: the request never waits for the
        database."""
        exchange = Exchange(
            webservice_id,
            communication_id,
            remote_ip,
            operation,
            http_status,
            error_code,
            duration_ms,
            request_line,
            query,
            request_body[:MAX_QUEUED],
            response_body[:MAX_QUEUED],
            tuple(secrets),
            utcnow(),
            tuple((name, value[:1000]) for name, value in headers),
        )
        size = exchange.size
        with self._queue_lock:
            full = len(self._queue) >= self.max_records or self._queued_bytes + size > self.max_bytes
            if full:
                self.dropped += 1
            else:
                self._queue.append(exchange)
                self._queued_bytes += size
        if full:
            self._lost(1, "the queue was full (the database is slow or unreachable)")
        self._ensure_thread()

    def flush(self) -> None:
        """Write everything queued, a batch per transaction; a record that cannot be written is skipped, not
        its batch. While the database is unavailable nothing is lost: the records wait in the queue."""
        with self._lock:
            if self.db.known_down():
                return  # redacting the queue again for a write that fails at once would only burn CPU
            while batch := self._take(BATCH):
                pairs = []
                for exchange in batch:
                    # the GIL to a request thread now and then: a batch redacted in one go would stall a
                    # request for up to sys.getswitchinterval() at each of its waits for the database
                    time.sleep(0)
                    try:
                        pairs.append((exchange, _row(exchange)))
                    except Exception as error:  # a bug, but one a client's body can trigger: rate-limited
                        log.debug("communication log: record %s not redacted", exchange.communication_id, exc_info=True)
                        self.skipped += 1
                        self._lost(1, f"record {exchange.communication_id} could not be redacted ({error!r})")
                if unwritten := self._write(pairs):
                    self._requeue(unwritten)
                    self._pause_until = time.monotonic() + OUTAGE_PAUSE
                    return
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + 3600  # tried again in an hour, also after a failure
                try:
                    with self.db.transaction() as tx:
                        commlog.purge(tx, utcnow() - dt.timedelta(days=self.keep_days))
                except Exception:
                    log.exception("communication log: old records could not be purged")

    def close(self) -> None:
        """Write what is queued and stop the background thread."""
        self._closed.set()
        self.flush()
        if self._queue:
            self._lost(len(self._queue), "the database was unavailable when the process ended")
        atexit.unregister(self.close)

    def _take(self, limit: int) -> list[Exchange]:
        with self._queue_lock:
            batch = [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]
            self._queued_bytes -= sum(exchange.size for exchange in batch)
        return batch

    def _requeue(self, exchanges: list[Exchange]) -> None:
        """Back at the head of the queue, in their order; the queue's bounds keep counting them."""
        with self._queue_lock:
            self._queue.extendleft(reversed(exchanges))
            self._queued_bytes += sum(exchange.size for exchange in exchanges)

    def _write(self, pairs: list[tuple[Exchange, commlog.Record]]) -> list[Exchange]:
        """Write the rows; hand back the exchanges not written because the database is unavailable."""
        if not pairs:
            return []
        try:
            # a debugging aid: a crash may cost its last fraction of a second, no request waits for its disk
            with self.db.transaction(durable=False) as tx:
                commlog.add_many(tx, [row for _, row in pairs])
            self.written += len(pairs)
            return []
        except DatabaseUnavailableError:
            return [exchange for exchange, _ in pairs]
        except Exception:
            pass  # one bad row fails its whole batch: the rows are tried one by one
        for index, (_, row) in enumerate(pairs):
            try:
                with self.db.transaction() as tx:
                    commlog.add_many(tx, [row])
                self.written += 1
            except DatabaseUnavailableError:
                return [exchange for exchange, _ in pairs[index:]]
            except Exception as error:
                self.skipped += 1
                self._lost(1, f"the database refused record {row[1]} ({error})")
        return []

    def _lost(self, count: int, why: str) -> None:
        """A warning in the server log at most every WARN_EVERY seconds, counting what was lost meanwhile
        (request threads and the writer both lose records)."""
        metrics.COMMLOG_DROPPED.inc(count)
        with self._warn_lock:
            self._unwarned += count
            now = time.monotonic()
            if now < self._next_warning:
                return
            unwarned, self._unwarned, self._next_warning = self._unwarned, 0, now + WARN_EVERY
        log.warning("communication log: %d records lost since the last warning, the latest as %s", unwarned, why)

    def _ensure_thread(self) -> None:
        """A writer thread in this process (gunicorn forks after the app is built), restarted if it ever died."""
        if self._closed.is_set() or (self._thread is not None and self._thread.is_alive()):
            return  # in a forked worker, the master's thread object is not alive
        with self._queue_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="communication-log", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed.wait(self.flush_interval):
            if time.monotonic() < self._pause_until:
                continue
            try:
                self.flush()
            except Exception:  # flush handles its own failures; this keeps the thread should one slip through
                log.exception("communication log: the writer failed; it goes on")
