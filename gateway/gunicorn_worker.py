"""gunicorn's worker for `gateway serve`: a slow or idle client costs a file descriptor, not a thread.

gunicorn's threaded worker (gthread) gives a connection to a thread once a byte of it has
arrived, and the thread then reads the request blockingly: a few clients sending a header line
or a body byte now and then hold every thread (gunicorn's sync worker stalls the same way, on
the first of them). This worker reads in the worker's own event loop instead, without
blocking, and gives the connection to a thread (the parser fed what was read) only with the
request in hand:

- the head (at most 64 KiB in the loop; a longer one goes to the parser, which refuses it or
  reads the rest under the head's deadline), within ``header_timeout`` seconds of the
  connection (or of the first byte of a kept-alive connection's next request); else the
  client is answered 408 and disconnected (a connection that sent nothing is just closed);
- then the body, if it is at most ``body_buffer`` bytes: ``Content-Length`` bytes, or a
  chunked body up to its last chunk (a cheap scan: a false early end is harmless, the thread
  reads the rest under the deadline). The body's deadline is fixed when the head is in:
  ``body_timeout`` plus one second per ``body_min_rate`` bytes of its Content-Length (a chunked
  body: of what has arrived, at most ``body_buffer``). A body late in the loop goes to a thread
  all the same, which answers 408 at once (`ClientTimeoutError`, gateway.middleware.errors)
  unless the body was complete after all. The bodies a worker holds in the loop are at most
  ``BUFFER_BUDGET`` bytes together (a body beyond it is the thread's, below).

A body the loop does not wait for (larger than ``body_buffer``, ``Expect: 100-continue``, or a
head the parser will refuse) is read by the thread, under the same deadline computed once
(a chunked body: ``body_timeout`` + ``body_buffer`` / ``body_min_rate`` in all), and at most
``threads - 1`` such connections have a thread at once (the others wait in the loop, on their
deadline): one thread is always left for requests in hand, such as /health. The answer is
written blocking, each write bounded by ``body_timeout`` (SO_SNDTIMEO), and the request as a
whole (body deadline, then ``body_timeout`` + ``body_buffer`` / ``body_min_rate`` for the
application and the answer) is cut by shutting the socket down, so a client reading its
answer a little now and then does not keep a thread either. A connection closed after its
last answer waits for the client's side to close (RFC 9112 9.6) in the loop as well: gthread
waited there blocking, up to 2 s per connection.

Kept-alive connections stay with the worker that accepted them, so which worker accepts matters:
every worker is woken for a new connection and the first one awake takes it, and four connections a
client opens at once could all land on one process (one GIL) while the others idle. A worker that
has just accepted therefore leaves new connections to the others for ``ACCEPT_PAUSE`` seconds per
request it is busy with (being read or answered; idle kept-alive connections do not count), at most
``MAX_ACCEPT_PAUSE``, as nginx's accept mutex delays a busy worker. A worker that is the only one
never pauses; when all are paused, the first whose pause ends accepts.

TLS and HTTP/2 connections are served as gthread serves them (their head cannot be read
before the handshake): terminating TLS is the proxy's job.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from gunicorn.http.unreader import SocketUnreader
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from gateway.errors import ClientTimeoutError
from gateway.settings import load

_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n"
    b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"
)
# the longest head read in the loop: what a real client sends is a few KiB
MAX_HEAD = 64 * 1024
# bodies buffered in the loop by all connections of a worker together: beyond, a body is read by a thread
BUFFER_BUDGET = 64 * 1024 * 1024
# how long a worker holding connections leaves new ones to the others: per connection held, and at most
ACCEPT_PAUSE = 0.002
MAX_ACCEPT_PAUSE = 0.02
# a closed connection's wait for the client to close too, and what of it is read meanwhile (close_graceful's)
LINGER = 2.0
MAX_DRAIN = 65536


class DeadlineUnreader(SocketUnreader):  # type: ignore[misc]
    """The parser's socket reads, each waiting at most until the request's deadline."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
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
        return data


class Connection(TConn):  # type: ignore[misc]
    """gthread's connection, with the request read so far and when it must be complete."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.head = bytearray()  # the head, and the body as far as read in the loop
        self.head_deadline = 0.0
        self.head_end = -1  # where the body starts, once the head is complete
        self.body_length: int | None = None  # Content-Length; None: no body to wait for, or chunked
        self.chunked = False
        self.scanned = 0  # where the chunked body's scan for its end resumes
        self.body_start = 0.0  # when the head was in
        self.body_deadline = 0.0
        self.reserved = 0  # bytes of BUFFER_BUDGET this connection may buffer
        self.reads_body = False  # its thread reads (part of) the body from the socket
        self.bound = 0.0  # when the request, answer included, is cut
        self.head_read = False
        self.linger: Callable[[Connection], None] | None = None
        self.linger_deadline = 0.0
        self.drained = 0

    def close(self, graceful: bool = False) -> None:
        """gthread's graceful close waits up to 2 s in the event loop for the client to close its side: the loop
        lingers without blocking instead."""
        if graceful and self.linger is not None:
            self.linger(self)
        else:
            super().close(graceful)


class Worker(ThreadWorker):  # type: ignore[misc]
    """gthread, with requests read by the event loop as far as they are small, and all under a deadline."""

    wsgi: Any  # the application, as gunicorn's load_wsgi sets it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = load()
        if settings.database_url.startswith("postgres") and 2 * self.cfg.threads + 1 > settings.database_pool_size:
            self.log.warning(
                "%d threads (two connections each at most) share %d database connections with the communication"
                " log: raise database_pool_size",
                self.cfg.threads,
                settings.database_pool_size,
            )
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout
        self.body_min_rate = settings.body_min_rate
        self.body_buffer = settings.body_buffer
        # connections whose head is being read, oldest first (one timeout for all: in deadline order)
        self.reading_heads: dict[Connection, None] = {}
        # connections whose body is being read in the loop (deadlines differ: all are looked at)
        self.reading_bodies: dict[Connection, None] = {}
        # connections whose thread will read from the socket, waiting for one of the threads they may have
        self.waiting: deque[Connection] = deque()
        self.body_readers = 0
        self.max_body_readers = max(1, self.cfg.threads - 1)
        self.in_threads: dict[Connection, None] = {}
        self.accept_after = 0.0  # when this worker accepts again (see ACCEPT_PAUSE)
        self.buffered = 0
        # connections closed on the worker's side, waiting for the client's FIN, oldest first
        self.lingering: dict[Connection, None] = {}
        # a longer head is refused by the parser (its own limits), or read by it under the head's deadline
        self.max_head = min(
            MAX_HEAD,
            self.cfg.limit_request_line + self.cfg.limit_request_fields * (self.cfg.limit_request_field_size + 2),
        )

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, client = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = Connection(self.cfg, sock, client, listener.getsockname())
        conn.linger = self._linger
        self.enqueue_req(conn)
        if self.cfg.workers > 1:
            busy = len(self.in_threads) + len(self.reading_heads) + len(self.reading_bodies) + len(self.waiting)
            self.accept_after = time.monotonic() + min(ACCEPT_PAUSE * busy, MAX_ACCEPT_PAUSE)
            self.set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        """gthread's loop enables accepting again at each turn: not before the pause since the last accept."""
        if not enabled or time.monotonic() >= self.accept_after:
            super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """The loop's wait ends when a pause does, so that accepting resumes on time (not accepting because the
        worker is full is no pause: its wait stays as gthread's)."""
        pause = self.accept_after - time.monotonic()
        if self.alive and not self._accepting and pause > 0:
            timeout = min(timeout, pause)
        super().wait_for_and_dispatch_events(timeout)

    def enqueue_req(self, conn: TConn) -> None:
        """Every way gthread gives a connection to a thread (new, kept alive, pipelined) reads its request first."""
        if not isinstance(conn, Connection) or conn.head_read or conn.is_http2 or not self._plain(conn):
            if isinstance(conn, Connection):
                conn.head_read = False
            super().enqueue_req(conn)  # the thread makes the socket blocking
            return
        conn.head = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.head_deadline = time.monotonic() + self.header_timeout
        conn.head_end, conn.body_length, conn.chunked, conn.scanned, conn.reads_body = -1, None, False, 0, False
        if conn.sock.gettimeout() != 0.0:  # kept-alive connections are non-blocking already
            conn.sock.setblocking(False)
        # usually the head has arrived already (a kept-alive connection is here because it is readable)
        ready = self._in_hand(conn) or self._receive(conn)
        if ready:
            self._to_thread(conn)
        elif ready is None:
            self.nr_conns -= 1
            conn.close()
        else:
            (self.reading_bodies if conn.head_end >= 0 else self.reading_heads)[conn] = None
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read, conn))

    def _plain(self, conn: TConn) -> bool:
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    def _in_hand(self, conn: Connection) -> bool:
        """Whether the request is as complete as the loop waits for (the head found, its body looked at)."""
        if conn.head_end < 0:
            end = conn.head.find(b"\r\n\r\n")
            if end < 0:
                # a bare LF ends no head the parser accepts (it refuses it without reading more); a long head
                # is the parser's
                conn.reads_body = conn.head.find(b"\n\n") >= 0 or len(conn.head) > self.max_head
                return conn.reads_body
            conn.head_end = end + 4
            if not self._wait_for_body(conn, bytes(conn.head[:end])):
                conn.reads_body = True
                return True
        body = len(conn.head) - conn.head_end
        if conn.body_length is not None:
            return body >= conn.body_length
        if not conn.chunked:
            return True
        conn.body_deadline = conn.body_start + self.body_timeout + min(body, self.body_buffer) / self.body_min_rate
        start = max(conn.head_end - 2, conn.scanned)
        last = conn.head.find(b"\r\n0\r\n", start)  # the last chunk; then the trailers, ended by an empty line
        conn.scanned = last if last >= 0 else max(start, len(conn.head) - 4)
        if last >= 0 and conn.head.find(b"\r\n\r\n", last + 2) >= 0:
            return True
        if body >= conn.reserved:  # larger than the loop keeps: the rest is the thread's
            conn.reads_body = True
            return True
        return False

    def _wait_for_body(self, conn: Connection, head: bytes) -> bool:
        """Whether the loop reads the body (and sets its deadline): only what it needs of the head is parsed,
        anything unusual is left to gunicorn's parser, in a thread."""
        now = time.monotonic()
        conn.body_start = now
        conn.body_deadline = now + self.body_timeout
        lengths: list[bytes] = []
        codings: list[bytes] = []
        expect = False
        for line in head.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if not colon or name[:1] in (b" ", b"\t"):
                return False
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                codings += [coding.strip() for coding in value.split(b",")]
            elif name == b"expect":
                expect = expect or b"100-continue" in value
        if codings:
            if lengths or codings[-1] != b"chunked":
                return False
            conn.chunked, size = True, self.body_buffer
        elif lengths:
            if len(lengths) > 1 or not lengths[0].isdigit():
                return False
            conn.body_length = size = int(lengths[0])
            conn.body_deadline += size / self.body_min_rate
        else:
            return True  # no body
        if expect:  # the client waits for "100 Continue", which the thread sends
            conn.body_deadline = now + self.body_timeout + size / self.body_min_rate
            return False
        if size > self.body_buffer or self.buffered + size > BUFFER_BUDGET:
            conn.body_deadline = now + self.body_timeout + size / self.body_min_rate
            return False
        conn.reserved = size
        self.buffered += size
        return True

    def _receive(self, conn: Connection) -> bool | None:
        """Read what has arrived: whether the request is in hand now, None if the client has gone."""
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return None
        if not data:
            return None
        conn.head += data
        return self._in_hand(conn)

    def _read(self, conn: Connection, _sock: socket.socket) -> None:
        head = conn.head_end < 0
        ready = self._receive(conn)
        if ready is None:
            self._drop(conn)
        elif ready:
            self._stop_reading(conn)
            self._to_thread(conn)
        elif head and conn.head_end >= 0:  # the head is in, the body is coming: its own deadline now
            del self.reading_heads[conn]
            self.reading_bodies[conn] = None

    def _to_thread(self, conn: Connection, late: bool = False) -> None:
        self._release(conn)
        if conn.reads_body and not late and self.body_readers >= self.max_body_readers:
            self.waiting.append(conn)  # readable, but not polled: its turn comes when a body reader is done
            return
        conn.init()  # a plain HTTP/1 connection: only makes the parser
        if not isinstance(conn.parser.unreader, DeadlineUnreader):
            conn.parser.unreader = DeadlineUnreader(conn.sock)
            seconds = int(self.body_timeout)
            timeval = struct.pack("ll", seconds, int((self.body_timeout - seconds) * 1e6))
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        # the head is complete or will be refused: what more the parser reads is bounded by its deadline
        conn.parser.unreader.unread(bytes(conn.head))
        conn.parser.unreader.deadline = conn.head_deadline if conn.head_end < 0 else conn.body_deadline
        if conn.head_end < 0:
            conn.body_deadline = conn.head_deadline + self.body_timeout
        conn.bound = conn.body_deadline + self.body_timeout + self.body_buffer / self.body_min_rate
        conn.head = bytearray()
        conn.head_read = True
        if conn.reads_body:
            self.body_readers += 1
        self.in_threads[conn] = None
        self.enqueue_req(conn)

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """gunicorn's refusal of a request it cannot parse (400, 414, 431 ...), as a JSON fault with the
        headers of every answer instead of its HTML page; it names the reason, never the client's bytes."""
        written = _Written(client)
        super().handle_error(req, written, addr, exc)
        status = written.data.partition(b"\r\n")[0].partition(b" ")[2].decode("latin-1") or "400 Bad Request"
        code = "Server" if status.startswith("5") else "Client.BadRequest"
        body = json.dumps({"faultcode": code, "faultstring": f"{status[4:]}."}, separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"
        )
        with contextlib.suppress(OSError):  # a client gone gets nothing
            client.setblocking(False)
            client.send(head.encode("latin-1") + body)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _honouring_close(self.wsgi)

    def handle_request(self, req: Any, conn: Connection) -> bool:
        """The head is parsed: the body's deadline, set when the head was in, applies now."""
        conn.parser.unreader.deadline = conn.body_deadline
        try:
            result: bool = super().handle_request(req, conn)
        except BlockingIOError:  # a write waited SO_SNDTIMEO: one line, not gthread's traceback
            self.log.info("%s did not read its answer for %s s: disconnected", conn.client, self.body_timeout)
            raise StopIteration from None
        return result

    def finish_request(self, conn: TConn, fs: Future[Any]) -> None:
        """A thread is done with the connection: the next request waiting for a body reader's thread gets one."""
        if isinstance(conn, Connection):
            self.in_threads.pop(conn, None)
            if conn.reads_body:
                conn.reads_body = False
                self.body_readers -= 1
                if self.waiting:
                    self._to_thread(self.waiting.popleft())
        super().finish_request(conn, fs)

    def _release(self, conn: Connection) -> None:
        self.buffered -= conn.reserved
        conn.reserved = 0

    def _stop_reading(self, conn: Connection) -> None:
        self.reading_heads.pop(conn, None)
        self.reading_bodies.pop(conn, None)
        self.poller.unregister(conn.sock)

    def _drop(self, conn: Connection, answer: bytes = b"") -> None:
        self._stop_reading(conn)
        self._release(conn)
        if answer:
            with contextlib.suppress(OSError):  # a courtesy: a client gone or not reading gets nothing
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()

    def _linger(self, conn: Connection) -> None:
        """Close as gunicorn's close_graceful does (RFC 9112 9.6: FIN, then what the client still sends is read
        and dropped, so that no reset cuts the answer short), the waiting done by the event loop."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            conn.sock.close()
            return
        conn.linger_deadline = time.monotonic() + LINGER
        conn.drained = 0
        self.lingering[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))

    def _drain(self, conn: Connection, _sock: socket.socket) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.drained += len(data)
        if not data or conn.drained >= MAX_DRAIN:
            self._closed(conn)

    def _closed(self, conn: Connection) -> None:
        del self.lingering[conn]
        self.poller.unregister(conn.sock)
        conn.sock.close()

    def murder_pending(self) -> None:
        """Also deal with the requests that are late (gthread calls this every turn of its loop): a head is
        answered 408 here, a body by the application in a thread; a request in a thread too long is cut."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive:  # stopping: a head still coming has the little while gthread gives a kept-alive connection
            for conn in self.reading_heads:
                conn.head_deadline = min(conn.head_deadline, now + STOP_KEEPALIVE_LINGER)
            for conn in [*self.reading_bodies, *self.waiting]:
                conn.body_deadline = min(conn.body_deadline, now + STOP_KEEPALIVE_LINGER)
        for conn in list(self.reading_heads):
            if conn.head_deadline > now:
                break
            self._drop(conn, _TIMEOUT_ANSWER if conn.head else b"")
        for conn in [conn for conn in self.reading_bodies if conn.body_deadline <= now]:
            self._stop_reading(conn)
            self._to_thread(conn, late=True)
        for conn in [conn for conn in self.waiting if conn.body_deadline <= now]:
            self.waiting.remove(conn)
            self._to_thread(conn, late=True)
        for conn in list(self.lingering):  # in deadline order
            if conn.linger_deadline > now:
                break
            self._closed(conn)
        for conn in [conn for conn in self.in_threads if conn.bound <= now]:
            del self.in_threads[conn]
            conn.bound = float("inf")
            with contextlib.suppress(OSError):  # its thread's read or write fails: the thread is free
                # and what the socket still holds for the client is dropped (a reset), not delivered at its pace
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.sock.shutdown(socket.SHUT_RDWR)


def _honouring_close(app: Any) -> Any:
    """The application, whose ``Connection: close`` closes the connection after the answer.

    gunicorn drops the header as hop-by-hop and would keep the connection: after a 413 or a
    late body's 408 it would then read the rest of a body nobody wants before the next request.
    gthread hands the application its Response's bound start_response, which can force the close.
    """

    def closing(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if any(name.lower() == "connection" and value.strip().lower() == "close" for name, value in headers):
                response = getattr(start_response, "__self__", None)
                if response is not None:
                    response.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return closing


class _Written:
    """A client socket whose writes are kept, not sent (gunicorn's error page, rewritten before it goes)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def setblocking(self, flag: bool) -> None:
        pass

    def gettimeout(self) -> float | None:
        return 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)
