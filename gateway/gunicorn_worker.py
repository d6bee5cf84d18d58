"""gunicorn's worker for `gateway serve`: a slow or idle client costs a file descriptor, not a thread.

gunicorn's threaded worker (gthread) gives a connection to a thread once a byte of it has
arrived, and the thread then reads the request head blockingly, without a time limit: a few
clients sending a header line now and then hold every thread (gunicorn's sync worker stalls
the same way, on the first of them). This worker reads the head in the worker's own event
loop instead, without blocking, and gives the connection to a thread only with the whole head
received (the parser is fed what was read); a head not complete within ``header_timeout``
seconds of the connection (or of the first byte of a kept-alive connection's next request)
is answered 408 and closed there (a connection that sent nothing is just closed). The body is
read by the thread, under a deadline of ``body_timeout`` seconds, extended by one second per
``body_min_rate`` bytes received, so a large upload on a slow line passes while a trickle is
cut off; a client that reads its answer no faster than one write per ``body_timeout`` is
dropped too. A body cut off raises `ClientTimeoutError`, which the application answers 408
(gateway.middleware.errors).

TLS and HTTP/2 connections are served as gthread serves them (their head cannot be read
before the handshake): terminating TLS is the proxy's job.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import struct
import time
from functools import partial
from typing import Any

from gunicorn.http.unreader import SocketUnreader
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from gateway.errors import ClientTimeoutError
from gateway.settings import load

_TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class DeadlineUnreader(SocketUnreader):  # type: ignore[misc]
    """The parser's socket reads, each waiting at most until the request's deadline."""

    def __init__(self, sock: socket.socket, min_rate: int) -> None:
        super().__init__(sock)
        self.min_rate = min_rate
        self.deadline = 0.0

    def chunk(self, size_hint: int | None = None) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ClientTimeoutError("the request did not arrive in time")
        self.sock.settimeout(remaining)
        try:
            data: bytes = super().chunk(size_hint)
        except TimeoutError:
            raise ClientTimeoutError("the request did not arrive in time") from None
        finally:
            # answers are written blocking, bounded by SO_SNDTIMEO (see Worker._to_thread)
            self.sock.settimeout(None)
        self.deadline += len(data) / self.min_rate
        return data


class Connection(TConn):  # type: ignore[misc]
    """gthread's connection, with the request head read so far and when it must be complete."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.head = bytearray()
        self.head_deadline = 0.0
        self.head_read = False


class Worker(ThreadWorker):  # type: ignore[misc]
    """gthread, with request heads read by the event loop and bodies read under a deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = load()
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout
        self.body_min_rate = settings.body_min_rate
        # connections whose head is being read, oldest first (one timeout for all: in deadline order)
        self.reading_heads: dict[Connection, None] = {}
        # with the parser's own limits: a longer head is refused by the parser, which needs no more of it
        self.max_head = self.cfg.limit_request_line + self.cfg.limit_request_fields * (
            self.cfg.limit_request_field_size + 2
        )

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, client = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.enqueue_req(Connection(self.cfg, sock, client, listener.getsockname()))

    def enqueue_req(self, conn: TConn) -> None:
        """Every way gthread gives a connection to a thread (new, kept alive, pipelined) reads its head first."""
        if not isinstance(conn, Connection) or conn.head_read or conn.is_http2 or not self._plain(conn):
            if isinstance(conn, Connection):
                conn.head_read = False
            super().enqueue_req(conn)  # the thread makes the socket blocking
            return
        conn.head = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.head_deadline = time.monotonic() + self.header_timeout
        if conn.sock.gettimeout() != 0.0:  # kept-alive connections are non-blocking already
            conn.sock.setblocking(False)
        # usually the head has arrived already (a kept-alive connection is here because it is readable)
        complete = self._head_complete(conn.head) or self._receive(conn)
        if complete:
            self._to_thread(conn)
        elif complete is None:
            self.nr_conns -= 1
            conn.close()
        else:
            self.reading_heads[conn] = None
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _plain(self, conn: TConn) -> bool:
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    def _head_complete(self, head: bytearray, start: int = 0) -> bool:
        """Whether the head has ended at or after `start` (a bare LF ends no head the parser accepts:
        it refuses it without reading more)."""
        return head.find(b"\r\n\r\n", start) >= 0 or head.find(b"\n\n", start) >= 0 or len(head) > self.max_head

    def _receive(self, conn: Connection) -> bool | None:
        """Read what has arrived: whether the head is complete now, None if the client has gone."""
        try:
            data = conn.sock.recv(8192)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return None
        if not data:
            return None
        conn.head += data
        return self._head_complete(conn.head, max(0, len(conn.head) - len(data) - 3))

    def _read_head(self, conn: Connection, _sock: socket.socket) -> None:
        complete = self._receive(conn)
        if complete is False:
            return
        if complete is None:
            self._drop(conn)
            return
        self._stop_reading(conn)
        self._to_thread(conn)

    def _to_thread(self, conn: Connection) -> None:
        conn.init()  # a plain HTTP/1 connection: only makes the parser
        if not isinstance(conn.parser.unreader, DeadlineUnreader):
            conn.parser.unreader = DeadlineUnreader(conn.sock, self.body_min_rate)
            seconds = int(self.body_timeout)
            timeval = struct.pack("ll", seconds, int((self.body_timeout - seconds) * 1e6))
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        # the head is complete or will be refused: what more the parser reads is bounded by its deadline
        conn.parser.unreader.unread(bytes(conn.head))
        conn.parser.unreader.deadline = conn.head_deadline
        conn.head = bytearray()
        conn.head_read = True
        self.enqueue_req(conn)

    def handle_request(self, req: Any, conn: Connection) -> bool:
        """The head is parsed: the body's deadline starts now."""
        conn.parser.unreader.deadline = time.monotonic() + self.body_timeout
        try:
            result: bool = super().handle_request(req, conn)
        except BlockingIOError:  # a write waited SO_SNDTIMEO: one line, not gthread's traceback
            self.log.info("%s did not read its answer for %s s: disconnected", conn.client, self.body_timeout)
            raise StopIteration from None
        return result

    def _stop_reading(self, conn: Connection) -> None:
        del self.reading_heads[conn]
        self.poller.unregister(conn.sock)

    def _drop(self, conn: Connection, answer: bytes = b"") -> None:
        self._stop_reading(conn)
        if answer:
            with contextlib.suppress(OSError):  # a courtesy: a client gone or not reading gets nothing
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also close the connections whose head is late (gthread calls this every turn of its loop)."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive:  # stopping: a head still coming has the little while gthread gives a kept-alive connection
            for conn in self.reading_heads:
                conn.head_deadline = min(conn.head_deadline, now + STOP_KEEPALIVE_LINGER)
        for conn in list(self.reading_heads):
            if conn.head_deadline > now:
                break
            self._drop(conn, _TIMEOUT_ANSWER if conn.head else b"")
