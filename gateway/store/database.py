"""One interface over the two backends: SQLite (embedded default) and PostgreSQL (production).

SQL in this package is written once, with ``?`` placeholders; for PostgreSQL it is
rewritten to psycopg's ``%s`` style (and literal ``%`` escaped) once per statement.
No library spares the rewrite: psycopg knows no ``?`` (its RawCursor takes ``$1``), and
SQLite reads ``$1`` only as a named parameter, which Python 3.12+ refuses to bind from a
sequence. The rewrite is safe because a ``?`` it cannot tell from a placeholder is refused.
Connections are opened lazily in the process that uses them, so a gunicorn master
that imports the app with ``--preload`` never hands a connection to its workers.

A database that cannot be used is `DatabaseUnavailableError`, within `timeout` seconds: PostgreSQL
unreachable or its connection lost (the server rolls back the open transaction), an SQLite
file that cannot be opened; or within `lock_timeout`, a write lock that stays taken. When an attempt to reach
PostgreSQL had to wait and failed, requests are refused at once for RETRY_INTERVAL instead
of each waiting out the timeout; then one request tries again. The pool starts over once
the server answers.

A server that answers but is slow is bounded by itself: statement_timeout and lock_timeout
cancel the statement (the transaction is rolled back), which is DatabaseUnavailableError too.
A server that stops answering (frozen: its clock stopped with it) is bounded here: the
watchdog cuts a connection whose statement goes unanswered past statement_timeout plus
`timeout`, and the server counts as unreachable, as if a connect had failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import math
import os
import re
import select
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlsplit

from gateway.errors import DatabaseUnavailableError, SettingsError
from gateway.settings import Settings
from gateway.store.watchdog import Watch, watchdog

if TYPE_CHECKING:
    from psycopg import Connection, Cursor, Pipeline
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# seconds before PostgreSQL is tried again after an attempt that had to wait (more than QUICK
# seconds) and failed; one it refused at once is tried again by the next request
RETRY_INTERVAL = 1.0
QUICK = 0.25
# SQLite's primary result codes for a file that cannot be used now (anything else is a bug)
_SQLITE_UNAVAILABLE = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}

# a row's column types are set by its SQL, which the type checker cannot read
Row = dict[str, Any]
# what a statement's parameters may be, on either backend
Value = str | int | float | bytes | dt.datetime | None
Params = Sequence[Value]


def utcnow() -> dt.datetime:
    """Timestamps are stored as naive UTC with second precision (Znuny's format)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@overload
def as_datetime(value: str | dt.datetime) -> dt.datetime: ...
@overload
def as_datetime(value: None) -> None: ...
def as_datetime(value: str | dt.datetime | None) -> dt.datetime | None:
    """SQLite returns timestamps as text, PostgreSQL as datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


# what SQLite and PostgreSQL (standard_conforming_strings, the default) read as no SQL: string
# literals ('it''s' is two of them, back to back), quoted names, comments
_NOT_SQL = re.compile(r"'[^']*'|\"[^\"]*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _pg_sql(sql: str) -> str:
    """psycopg's form of a statement; checked once per statement on both backends.

    Every ``%`` may be doubled (psycopg reads ``%%`` as ``%`` inside literals too), but a ``?``
    inside a literal, a quoted name or a comment is no placeholder to SQLite and would become
    one here: such a statement, or one with an unclosed quote, is a bug and refused. Values
    belong in the parameters.
    """
    rest = _NOT_SQL.sub("", sql)
    if any("?" in found for found in _NOT_SQL.findall(sql)) or "'" in rest or '"' in rest or "/*" in rest:
        raise ValueError(f"SQL with a '?' inside quotes or a comment, or an unclosed quote: {sql!r}")
    return sql.replace("%", "%%").replace("?", "%s")


def _sqlite_params(params: Params) -> Params:
    """Timestamps as Znuny's text, explicitly: sqlite3's global adapters are shared with other libraries."""
    return [p.strftime("%Y-%m-%d %H:%M:%S") if isinstance(p, dt.datetime) else p for p in params]


class Transaction:
    """A cursor bound to one open transaction.

    A PostgreSQL write runs in psycopg's pipeline mode: a statement whose answer is not read (an INSERT
    of a history line) is sent without waiting for it, so the writes of an operation and its COMMIT
    share round trips; reading an answer waits for everything sent before it. A failed statement
    fails the transaction at the next wait at the latest, before its COMMIT. `prefetch` sends reads
    ahead in the same way, so that the lookups an operation is about to make share one round trip.
    """

    def __init__(
        self,
        cursor: sqlite3.Cursor | Cursor[Row],
        dialect: str,
        watch: Watch | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        self._cursor = cursor
        self.dialect = dialect
        self._watch = watch  # each statement has its own time to be answered
        self._pipeline = pipeline
        self._prefetched: dict[tuple[str, tuple[Value, ...]], Cursor[Row]] = {}

    def prefetch(self, sql: str, params: Params = ()) -> None:
        """Send a query now whose answer a later one(), all() or value() of the same statement and parameters
        reads (a PostgreSQL write only: elsewhere the query runs when it is asked). A write in between
        drops what was prefetched: the query runs again, and sees it."""
        if self._pipeline is None:
            return
        key = (sql, tuple(params))
        if key not in self._prefetched:
            connection = self._cursor.connection
            assert not isinstance(connection, sqlite3.Connection)  # a pipeline is PostgreSQL's
            cursor = connection.cursor()
            with self._waiting():
                cursor.execute(_pg_sql(sql), params)
            self._prefetched[key] = cursor

    @contextlib.contextmanager
    def _waiting(self) -> Iterator[None]:
        """A wait for the server, with its own time to be answered (see Watch). In pipeline mode libpq counts
        a statement sent as in progress until its transaction syncs, so the watch is armed only around what
        waits: sending, reading an answer, the COMMIT."""
        if self._watch is None:
            yield
            return
        self._watch.renew()
        try:
            yield
        finally:
            if self._pipeline is not None:
                self._watch.rest()

    def _answer(self, sql: str, params: Params, prepare: bool | None = None) -> sqlite3.Cursor | Cursor[Row]:
        """The cursor holding the answer to a query: prefetched, or run now."""
        if self._prefetched:
            cursor = self._prefetched.pop((sql, tuple(params)), None)
            if cursor is not None:
                return cursor
        return self.execute(sql, params, prepare)

    def execute(self, sql: str, params: Params = (), prepare: bool | None = None) -> sqlite3.Cursor | Cursor[Row]:
        """Run a statement. PostgreSQL prepares one run often on a connection (psycopg's prepare_threshold), and
        then plans it once for all values: prepare=False plans it for each run's values, for a query whose
        best plan depends on them (a LIKE that matches nearly everything or nearly nothing)."""
        if self.dialect == "postgresql":
            if self._prefetched and sql.lstrip()[:6].upper() != "SELECT":
                self._prefetched.clear()
            cursor = self._cursor
            assert not isinstance(cursor, sqlite3.Cursor)
            with self._waiting():
                cursor.execute(_pg_sql(sql), params, prepare=prepare)
        else:
            _pg_sql(sql)  # a statement PostgreSQL would get wrong fails on SQLite too
            self._cursor.execute(sql, _sqlite_params(params))
        return self._cursor

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if self.dialect == "postgresql":
            self._prefetched.clear()
            with self._waiting():
                self._cursor.executemany(_pg_sql(sql), rows)
        else:
            _pg_sql(sql)
            self._cursor.executemany(sql, [_sqlite_params(row) for row in rows])

    def one(self, sql: str, params: Params = ()) -> Row | None:
        cursor = self._answer(sql, params)
        with self._waiting():
            row = cursor.fetchone()
        return None if row is None else dict(row)

    def all(self, sql: str, params: Params = (), prepare: bool | None = None) -> list[Row]:
        cursor = self._answer(sql, params, prepare)
        with self._waiting():
            rows = cursor.fetchall()
        return [dict(row) for row in rows]

    def value(self, sql: str, params: Params = ()) -> Any:
        cursor = self._answer(sql, params)
        with self._waiting():
            row = cursor.fetchone()
        return None if row is None else next(iter(dict(row).values()))

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT and return the new row's id."""
        return int(self.value(sql + " RETURNING id", params))

    @property
    def rowcount(self) -> int:
        if self._pipeline is not None:
            with self._waiting():
                self._pipeline.sync()  # a pipelined statement's row count is known once its answer is in
        return self._cursor.rowcount


class Database:
    """A database URL and the connections this process holds to it.

    `timeout` bounds each wait for the database: PostgreSQL's connect timeout (whole seconds,
    at least 2, as libpq counts them) and the wait for a pooled connection. `lock_timeout`
    bounds a wait for other writers: SQLite's write lock, PostgreSQL's lock_timeout.
    `statement_timeout` bounds a PostgreSQL statement, on the server and (plus `timeout`) by the
    watchdog; 0: unbounded, no lock_timeout either (the console's maintenance work may take long
    and wait for a server's locks).
    """

    def __init__(
        self,
        url: str,
        pool_size: int = Settings.database_pool_size,
        timeout: float = Settings.database_timeout,
        statement_timeout: float = Settings.database_statement_timeout,
        lock_timeout: float = Settings.database_lock_timeout,
    ) -> None:
        self.url = url
        scheme = urlsplit(url).scheme
        if scheme == "sqlite":
            self.dialect = "sqlite"
            self.path = url[len("sqlite:///") :]
        elif scheme in ("postgresql", "postgres"):
            self.dialect = "postgresql"
            self.path = ""
        else:
            raise SettingsError(f"unsupported database URL {url!r}: use sqlite:///FILE or postgresql://...")
        self.pool_size = pool_size
        self.timeout = timeout
        self.statement_timeout = statement_timeout
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        # the pool exists once the server has answered, and is dropped when a connection is lost
        self._pool: ConnectionPool[Connection[Row]] | None = None
        self._pool_pid = 0
        self._retry_at = 0.0  # while PostgreSQL is down: when it may be tried again (0: not down)
        self._probe_after = 0.0  # when a pool timeout may ask the server again whether it is up
        self._connecting = False  # a thread connects for callers that do not wait
        self._lock = threading.Lock()
        self._trying = False  # a thread is asking a server that was down whether it answers
        self._answered = threading.Condition(self._lock)

    @contextlib.contextmanager
    def transaction(self, write: bool = True, wait: bool = True, durable: bool = True) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back on any exception.

        On SQLite a writing transaction takes the write lock up front (BEGIN IMMEDIATE),
        so two writers queue on the busy timeout instead of failing on lock upgrade. On
        PostgreSQL a reading one (write=False) runs in autocommit: each statement sees what
        is committed, and nothing can be half-written by work that writes nothing.
        wait=False uses PostgreSQL only through a connection at hand, for callers that can do
        with what they have: without one it refuses at once, and a thread connects meanwhile.
        durable=False lets a PostgreSQL COMMIT return before its WAL is on disk (synchronous_commit off):
        a crash may lose the last fraction of a second of such transactions, never half of one.
        """
        if self.dialect == "sqlite":
            with self._sqlite_errors():
                conn = self._sqlite_connection()
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield Transaction(conn.cursor(), "sqlite")
                except BaseException:
                    conn.rollback()
                    raise
                else:
                    conn.commit()
        elif write:
            with self._pg_connection(wait) as (pg, watch), pg.pipeline() as pipeline, pg.transaction():
                try:
                    tx = Transaction(pg.cursor(), "postgresql", watch, pipeline)
                    if not durable:
                        tx.execute("SET LOCAL synchronous_commit TO off")
                    yield tx
                finally:
                    if watch is not None:
                        watch.renew()  # for the COMMIT or ROLLBACK
        else:
            # reading needs no BEGIN and COMMIT: two round trips saved on every TicketGet and search
            with self._pg_connection(wait) as (pg, watch):
                yield Transaction(pg.cursor(), "postgresql", watch)

    def known_down(self) -> bool:
        """Whether PostgreSQL failed so recently that a request now would be refused without trying."""
        return time.monotonic() < self._retry_at

    def ping(self) -> bool:
        """Whether the database answers; PostgreSQL within `timeout`, whatever the statement bound (a ping
        left unanswered that long counts as a server that stopped answering, like any cut statement)."""
        try:
            if self.dialect == "sqlite":
                with self.transaction(write=False) as tx:
                    tx.value("SELECT 1")
            else:
                with self._pg_connection(wait=True, bound=self.timeout) as (pg, _):
                    pg.execute("SELECT 1")
            return True
        except Exception:
            return False

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.close()
        self._pool = None

    # -- SQLite ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF in _SQLITE_UNAVAILABLE:
                log.warning("the database cannot be used: %s: %s", self.path, error)
                raise DatabaseUnavailableError(f"{self.path}: {error}") from error
            raise

    def _sqlite_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        if self.path != ":memory:":
            try:
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            except OSError as error:
                raise DatabaseUnavailableError(f"{self.path}: {error}") from error
        conn = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self.lock_timeout * 1000)}")
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    # -- PostgreSQL --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _pg_connection(self, wait: bool, bound: float | None = None) -> Iterator[tuple[Connection[Row], Watch | None]]:
        """A live pooled connection, watched while in use (each statement: `bound` seconds, by default
        statement_timeout plus `timeout`). A connection lost or cut while in use, or a statement the
        server cancelled, is DatabaseUnavailableError."""
        import psycopg

        pool, conn = self._pg_checkout(wait)
        seconds = bound if bound is not None else self.statement_timeout and self.statement_timeout + self.timeout
        try:
            with watchdog().watching(conn, seconds) if seconds else contextlib.nullcontext() as watch:
                try:
                    yield conn, watch
                except psycopg.Error as error:
                    raise self._pg_unavailable(pool, conn, watch, error) from error
        finally:
            pool.putconn(conn)

    def _pg_unavailable(
        self, pool: ConnectionPool[Connection[Row]], conn: Connection[Row], watch: Watch | None, error: Exception
    ) -> DatabaseUnavailableError:
        """What `error` says about the database; an error that says nothing of it is raised again."""
        from psycopg.errors import LockNotAvailable, QueryCanceled

        said = " ".join(str(error).split())
        if watch is not None and watch.fired:
            self._not_answering(pool, f"a statement was not answered within {watch.seconds:g} s")
            return self._unavailable("it stopped answering")
        if isinstance(error, QueryCanceled | LockNotAvailable):
            # statement_timeout or lock_timeout: the server rolled the statement back, the transaction follows
            log.warning("the database cancelled a statement: %s", said)
            return self._unavailable(said)
        if not conn.closed:
            raise error
        # the server ended the connection: it rolled back what the open transaction wrote
        reason = f"the connection was lost: {said}"
        log.warning("%s", reason)
        self._lost(pool)
        return self._unavailable(reason)

    def _pg_checkout(self, wait: bool) -> tuple[ConnectionPool[Connection[Row]], Connection[Row]]:
        from psycopg_pool import PoolClosed, PoolTimeout

        for _ in range(3):  # a dead connection (the server restarted) starts the pool over, as may another thread
            pool = self._pg_ready(wait)
            try:
                conn = pool.getconn(self.timeout if wait else 0.001)
            except PoolClosed:
                continue
            except PoolTimeout as error:
                if wait and time.monotonic() >= self._probe_after:
                    # no connection within the timeout: say whether the server is down (once a while: a
                    # saturated server gets no connection per waiting request)
                    self._probe_after = time.monotonic() + RETRY_INTERVAL
                    self._probe()
                raise self._unavailable("no connection free within the timeout") from error
            if _open(conn):
                return pool, conn
            pool.putconn(conn)
            self._lost(pool)
        raise self._unavailable("its connections keep failing")

    def _pg_ready(self, wait: bool) -> ConnectionPool[Connection[Row]]:
        """The pool, once the server has answered; refused at once while it is known to be down.

        Only one thread at a time asks a server that was down; the others that can wait take its
        answer (refused meanwhile, the first requests after a restart would fail for nothing).
        """
        with self._lock:
            if self._pool is not None and self._pool_pid == os.getpid():
                return self._pool
            if wait and self._trying:
                self._answered.wait_for(lambda: not self._trying, self.timeout + QUICK)
                if self._pool is not None and self._pool_pid == os.getpid():
                    return self._pool
                raise self._unavailable("it did not answer the last attempt")
            now = time.monotonic()
            if now < self._retry_at:
                raise self._unavailable("it did not answer the last attempt")
            if not wait:
                if not self._connecting:
                    self._connecting = True
                    threading.Thread(target=self._connect_aside, name="connect-database", daemon=True).start()
                raise self._unavailable("not connected yet")
            if self._retry_at:
                self._retry_at = now + self.timeout + RETRY_INTERVAL
            self._trying = True
        try:
            self._probe()
            with self._lock:
                if self._retry_at:
                    log.warning("the database answers again")
                    self._retry_at = 0.0
                if self._pool is None or self._pool_pid != os.getpid():
                    self._pool = self._new_pool()
                    self._pool_pid = os.getpid()
                return self._pool
        finally:
            with self._lock:
                self._trying = False
                self._answered.notify_all()

    def _connect_aside(self) -> None:
        """Make the pool ready for the next caller that will not wait (an outage is logged by the probe)."""
        try:
            with contextlib.suppress(DatabaseUnavailableError):
                self._pg_ready(wait=True)
        finally:
            self._connecting = False

    def _probe(self) -> None:
        """Connect once, outside the pool: the pool only retries in the background, this says at once."""
        import psycopg

        started = time.monotonic()
        try:
            psycopg.connect(self.url, **self._connect_options()).close()
        except psycopg.Error as error:
            reason = " ".join(str(error).split())
            now = time.monotonic()
            with self._lock:
                if not self._retry_at:
                    log.warning("the database is unreachable, requests are answered 503 until it answers: %s", reason)
                self._retry_at = now + (RETRY_INTERVAL if now - started > QUICK else 0.0)
                self._drop_pool()
            raise self._unavailable(reason) from error

    def _not_answering(self, pool: ConnectionPool[Connection[Row]], reason: str) -> None:
        """The watchdog cut a connection: the server counts as unreachable, tried again after RETRY_INTERVAL."""
        with self._lock:
            if not self._retry_at:
                log.warning("the database stopped answering, requests are answered 503 until it answers: %s", reason)
            self._retry_at = time.monotonic() + RETRY_INTERVAL
            if self._pool is pool:
                self._drop_pool()

    def _lost(self, pool: ConnectionPool[Connection[Row]]) -> None:
        """A connection of `pool` was ended by the server: the next request checks it answers and starts a new pool."""
        with self._lock:
            if self._pool is pool:
                self._drop_pool()

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            # its connections still in use are closed when returned; its workers are not waited for here
            threading.Thread(target=pool.close, name="close-pool", daemon=True).start()

    def _unavailable(self, reason: str) -> DatabaseUnavailableError:
        wait = self._retry_at - time.monotonic()
        return DatabaseUnavailableError(reason, max(1, math.ceil(wait)))

    def _connect_options(self) -> dict[str, Any]:
        """libpq's bounds: on connecting, and on a connection whose server stops answering mid-statement
        (a partition, a frozen machine), which TCP alone would wait out for many minutes."""
        return {
            "connect_timeout": max(2, math.ceil(self.timeout)),
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 20_000,
        }

    def _bounds(self) -> dict[str, str]:
        """statement_timeout and lock_timeout for the pool's connections, after options the URL sets."""
        from psycopg.conninfo import conninfo_to_dict

        if not self.statement_timeout:
            return {}
        given = str(conninfo_to_dict(self.url).get("options", ""))
        ms = {"statement_timeout": self.statement_timeout, "lock_timeout": self.lock_timeout}
        return {"options": " ".join([given, *(f"-c {name}={math.ceil(s * 1000)}" for name, s in ms.items())]).strip()}

    def _new_pool(self) -> ConnectionPool[Connection[Row]]:
        from psycopg import Connection
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        return ConnectionPool(
            self.url,
            connection_class=Connection[Row],
            min_size=1,
            max_size=self.pool_size,
            open=True,
            kwargs={"row_factory": dict_row, "autocommit": True, **self._connect_options(), **self._bounds()},
            timeout=self.timeout,
        )


def _open(conn: Connection[Row]) -> bool:
    """Whether a pooled connection still works, without a round trip while it does.

    A connection the server ended (shut down, restarted, terminated the backend) has its last
    words waiting to be read; an idle working one has nothing to read, unless a notice came.
    """
    if conn.closed:
        return False
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if not poller.poll(0):
        return True
    try:
        conn.execute("")
    except Exception:
        return False
    return True
