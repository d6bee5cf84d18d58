"""Cut a PostgreSQL connection whose server stopped answering in the middle of a statement.

A frozen server (a stopped VM, a SIGSTOPped postmaster) leaves the kernel acknowledging every
packet, so neither TCP keepalives nor tcp_user_timeout ever give up, and statement_timeout is
the server's own clock, which stopped too. One daemon thread per process (started on first use,
again in a forked child) watches the connections in use: one whose statement runs past its
deadline has its socket shut down, so the thread blocked on it gets an error at once instead of
never. The socket is shut down through a duplicate descriptor: the one libpq owns stays open
until psycopg closes the connection.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg import Connection


class Watch:
    """One connection in use: its statement's deadline, and whether the watchdog cut it."""

    def __init__(self, conn: Connection[Any], seconds: float) -> None:
        self.conn = conn
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.fired = False
        self.armed = True  # the caller may be waiting for the server

    def renew(self) -> None:
        """A statement starts now, or its answer is waited for: it has `seconds` to be answered."""
        self.deadline = time.monotonic() + self.seconds
        self.armed = True

    def rest(self) -> None:
        """The caller waits for nothing (pipeline mode, between statements): whatever libpq says, the request's
        own work is going on, which is no sign of a dead server."""
        self.armed = False


class Watchdog:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self._watches: set[Watch] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the thread looks at the watches next (inf: when one is added)

    @contextlib.contextmanager
    def watching(self, conn: Connection[Any], seconds: float) -> Iterator[Watch]:
        """Watch `conn` while the block runs; the block renews the deadline as each statement starts."""
        watch = Watch(conn, seconds)
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="database-watchdog", daemon=True)
                self._thread.start()
            self._watches.add(watch)
            if watch.deadline < self._wakes_at:  # a wake-up per request would cost a thread switch each
                self._changed.notify()
        try:
            yield watch
        finally:
            with self._changed:  # after this the watchdog no longer touches the connection's socket
                self._watches.discard(watch)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for watch in self._watches:
                    # past its deadline between statements (the request's own work) is no sign of a dead server
                    if not watch.fired and watch.armed and watch.deadline <= now and _in_statement(watch.conn):
                        watch.fired = True
                        _shut_down(watch.conn)
                if not self._watches:
                    self._wakes_at = float("inf")
                    self._changed.wait()
                    continue
                # a deadline passed between statements is looked at again within a second
                nearest = min((watch.deadline for watch in self._watches if watch.deadline > now), default=now + 1)
                self._wakes_at = now + min(nearest - now, 1.0)
                self._changed.wait(self._wakes_at - now)


def _in_statement(conn: Connection[Any]) -> bool:
    """Whether a statement was sent and not yet answered (libpq's state, read without psycopg's lock)."""
    from psycopg.pq import TransactionStatus

    return conn.pgconn.transaction_status == TransactionStatus.ACTIVE


def _shut_down(conn: Connection[Any]) -> None:
    # the connection may have just failed on its own
    with contextlib.suppress(Exception), socket.socket(fileno=os.dup(conn.pgconn.socket)) as duplicate:
        duplicate.shutdown(socket.SHUT_RDWR)


_watchdog: Watchdog | None = None
_create = threading.Lock()


def watchdog() -> Watchdog:
    """This process's watchdog (a forked child gets its own: the parent's thread did not come along)."""
    global _watchdog
    with _create:
        if _watchdog is None or _watchdog.pid != os.getpid():
            _watchdog = Watchdog()
        return _watchdog


def _forget() -> None:
    global _watchdog, _create
    _watchdog, _create = None, threading.Lock()  # the parent's may have been held by a thread that is gone


os.register_at_fork(after_in_child=_forget)
