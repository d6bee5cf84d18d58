"""One interface over the two backends: SQLite (embedded default) and PostgreSQL (production).

SQL in this package is written once, with ``?`` placeholders; for PostgreSQL it is
rewritten to psycopg's ``%s`` style (and literal ``%`` escaped) once per statement.
No library spares the rewrite: psycopg knows no ``?`` (its RawCursor takes ``$1``), and
SQLite reads ``$1`` only as a named parameter, which Python 3.12+ refuses to bind from a
sequence. The rewrite is safe because a ``?`` it cannot tell from a placeholder is refused.
Connections are opened lazily in the process that uses them, so a gunicorn master
that imports the app with ``--preload`` never hands a connection to its workers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlsplit

from gateway.errors import SettingsError

if TYPE_CHECKING:
    from psycopg import Connection, Cursor
    from psycopg_pool import ConnectionPool

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
    """A cursor bound to one open transaction."""

    def __init__(self, cursor: sqlite3.Cursor | Cursor[Row], dialect: str) -> None:
        self._cursor = cursor
        self.dialect = dialect

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor | Cursor[Row]:
        if self.dialect == "postgresql":
            self._cursor.execute(_pg_sql(sql), params)
        else:
            _pg_sql(sql)  # a statement PostgreSQL would get wrong fails on SQLite too
            self._cursor.execute(sql, _sqlite_params(params))
        return self._cursor

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if self.dialect == "postgresql":
            self._cursor.executemany(_pg_sql(sql), rows)
        else:
            _pg_sql(sql)
            self._cursor.executemany(sql, [_sqlite_params(row) for row in rows])

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row = self.execute(sql, params).fetchone()
        return None if row is None else dict(row)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return [dict(row) for row in self.execute(sql, params).fetchall()]

    def value(self, sql: str, params: Params = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else next(iter(dict(row).values()))

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT and return the new row's id."""
        return int(self.value(sql + " RETURNING id", params))

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class Database:
    """A database URL and the connections this process holds to it."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
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
        self._local = threading.local()
        self._pool: ConnectionPool[Connection[Row]] | None = None
        self._pool_pid = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back on any exception.

        On SQLite a writing transaction takes the write lock up front (BEGIN IMMEDIATE),
        so two writers queue on the busy timeout instead of failing on lock upgrade. On
        PostgreSQL a reading one (write=False) runs in autocommit: each statement sees what
        is committed, and nothing can be half-written by work that writes nothing.
        """
        if self.dialect == "sqlite":
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
            with self._pg_pool().connection() as pg, pg.transaction():
                yield Transaction(pg.cursor(), "postgresql")
        else:
            # reading needs no BEGIN and COMMIT: two round trips saved on every TicketGet and search
            with self._pg_pool().connection() as pg:
                yield Transaction(pg.cursor(), "postgresql")

    def ping(self) -> bool:
        try:
            with self.transaction(write=False) as tx:
                tx.value("SELECT 1")
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

    def _sqlite_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _pg_pool(self) -> ConnectionPool[Connection[Row]]:
        if self._pool is None or self._pool_pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    from psycopg import Connection
                    from psycopg.rows import dict_row
                    from psycopg_pool import ConnectionPool

                    self._pool = ConnectionPool(
                        self.url,
                        connection_class=Connection[Row],
                        min_size=1,
                        max_size=self.pool_size,
                        open=True,
                        kwargs={"row_factory": dict_row, "autocommit": True},
                        timeout=5,
                    )
                    self._pool_pid = os.getpid()
        return self._pool
