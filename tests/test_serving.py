"""`gateway serve` under slow and idle clients, kept-alive connections, and beside another instance.

Through a real `gateway serve` (gateway.gunicorn_worker.Worker): a client that sends its request a byte at
a time holds a file descriptor, not a thread, and is disconnected when its time is up.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import BACKENDS, REST, ROOT, SOAP, copy_database, serving
from tests.test_wire import session, ticket_create, until_logged

HEADER_TIMEOUT = 4
BODY_TIMEOUT = 4
HEAD = b"GET /health HTTP/1.1\r\nHost: gateway\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n"
SESSION_CREATE = json.dumps(ROOT).encode()


@pytest.fixture(scope="module", params=BACKENDS)
def patient_server(request, templates, tmp_path_factory) -> Iterator:
    """Short timeouts, and gunicorn's own worker timeout short enough to catch a starved heartbeat."""
    url, drop = copy_database(request.param, templates, tmp_path_factory.mktemp("patient"))
    try:
        with serving(
            url,
            GATEWAY_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
            GATEWAY_BODY_TIMEOUT=str(BODY_TIMEOUT),
            GUNICORN_CMD_ARGS="--timeout 5",
        ) as running:
            yield running
    finally:
        drop()


class Trickler(threading.Thread):
    """Sends `head` a byte every `interval` seconds (or all of it, then so `body`) until answered or disconnected."""

    def __init__(self, address: tuple[str, int], head: bytes, body: bytes = b"", interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.address, self.head, self.body, self.interval = address, head, body, interval
        self.answer = b""
        self.lasted = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        with socket.create_connection(self.address) as sock:
            if self.body:
                sock.sendall(self.head)
            try:
                for byte in self.body or self.head:
                    sock.send(bytes([byte]))
                    if select.select([sock], [], [], self.interval)[0] or self.stop.is_set():
                        break
                while data := sock.recv(4096):
                    self.answer += data
            except OSError:
                pass
            self.lasted = time.monotonic() - started


def address(server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname, parts.port


def timed(call) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.slow
def test_fifty_clients_trickling_headers_and_a_few_bodies_do_not_stall_the_server(patient_server):
    heads = [Trickler(address(patient_server), HEAD) for _ in range(50)]
    rest_body = b"POST " + REST.encode() + b"/Session HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
    soap_body = b"POST " + SOAP.encode() + b" HTTP/1.1\r\nHost: gateway\r\nContent-Type: text/xml\r\n"
    bodies = [
        Trickler(address(patient_server), rest_body + b"Content-Length: 1000\r\n\r\n", b" " * 1000),
        Trickler(address(patient_server), rest_body + b"Transfer-Encoding: chunked\r\n\r\n", b"3e8\r\n" + b" " * 1000),
        Trickler(address(patient_server), soap_body + b"Content-Length: 1000\r\n\r\n", b" " * 1000),
    ]
    for trickler in heads + bodies:
        trickler.start()
    try:
        time.sleep(1)
        health, took = timed(lambda: requests.get(f"{patient_server.url}/health", timeout=2))
        assert health.status_code == 200 and took < 2
        created, took = timed(lambda: requests.post(f"{patient_server.url}{REST}/Session", json=ROOT, timeout=2))
        assert "SessionID" in created.json() and took < 2
        for trickler in heads + bodies:
            trickler.join(timeout=HEADER_TIMEOUT + BODY_TIMEOUT + 5)
    finally:
        for trickler in heads + bodies:
            trickler.stop.set()
    # disconnected by the server when their time was up (the worker looks once a second), a 408 said
    for trickler in heads:
        assert trickler.answer.startswith(b"HTTP/1.1 408 ") and HEADER_TIMEOUT <= trickler.lasted < HEADER_TIMEOUT + 4
    for trickler in bodies:
        assert trickler.answer.startswith(b"HTTP/1.1 408 ") and BODY_TIMEOUT <= trickler.lasted < BODY_TIMEOUT + 4
        assert b"\r\nConnection: close\r\n" in trickler.answer  # the rest of the body may still come
    rest_fault = json.loads(bodies[0].answer.partition(b"\r\n\r\n")[2])
    assert rest_fault == {"faultcode": "Client.RequestTimeout", "faultstring": "The request did not arrive in time."}
    assert b"<faultstring>The request did not arrive in time.</faultstring>" in bodies[2].answer
    # the worker's event loop kept telling the arbiter it lives (--timeout 5)
    assert "WORKER TIMEOUT" not in patient_server.log()


@pytest.mark.slow
def test_an_idle_connection_is_closed_without_an_answer_after_header_timeout(patient_server):
    with socket.create_connection(address(patient_server)) as sock:
        sock.settimeout(HEADER_TIMEOUT + 3)
        _, took = timed(lambda: sock.recv(4096))
    assert _ == b"" and HEADER_TIMEOUT <= took < HEADER_TIMEOUT + 4


@pytest.mark.slow
def test_a_keep_alive_client_makes_its_requests_on_one_connection(patient_server):
    host, port = address(patient_server)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("POST", f"{REST}/Session", body=SESSION_CREATE, headers={"Content-Type": "application/json"})
    assert "SessionID" in json.loads(connection.getresponse().read())
    first = connection.sock
    connection.request("GET", "/health")
    answer = connection.getresponse()
    assert answer.status == 200 and answer.getheader("Connection") != "close"
    assert (answer.getheader("Cache-Control"), answer.getheader("X-Content-Type-Options")) == ("no-store", "nosniff")
    answer.read()
    assert connection.sock is first
    connection.close()


@pytest.mark.slow
def test_pipelined_requests_are_answered_in_order(patient_server):
    """Two requests in one packet: the second's head is what the first one's read left over."""
    with socket.create_connection(address(patient_server)) as sock:
        sock.sendall(
            b"POST " + REST.encode() + b"/Session HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(SESSION_CREATE)).encode() + b"\r\n\r\n" + SESSION_CREATE + HEAD
        )
        sock.settimeout(5)
        received = b""
        while received.count(b"HTTP/1.1 200 ") < 2 or not received.endswith(b"}"):
            received += sock.recv(65536)
    first, second = received.split(b"HTTP/1.1 200 ")[1:]
    assert b'"SessionID"' in first and b'"Database":"ok"' in second


@pytest.mark.slow
def test_a_client_that_does_not_read_its_answer_is_disconnected(patient_server):
    """An answer larger than the socket buffers, never read: the server gives up after body_timeout."""
    session_id = session(patient_server)
    created = requests.post(
        f"{patient_server.url}{REST}/Ticket", data=ticket_create(session_id, "Big", os.urandom(8_000_000)), timeout=60
    ).json()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(address(patient_server))
        path = f"{REST}/Ticket/{created['TicketID']}?SessionID={session_id}&AllArticles=1&Attachments=1"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: gateway\r\n\r\n".encode())
        until_logged(patient_server, "did not read its answer", BODY_TIMEOUT + 20)
        sock.settimeout(5)
        received = b""
        while data := sock.recv(1 << 20):
            received += data
    assert received.startswith(b"HTTP/1.1 200 ") and len(received) < 8_000_000  # cut off, then closed


@pytest.mark.slow
def test_a_stopping_server_does_not_wait_for_heads_still_coming(templates, tmp_path):
    """SIGTERM: a connection still sending its head gets a moment, not all of header_timeout (10 s)."""
    url, drop = copy_database("sqlite", templates, tmp_path)
    try:
        with serving(url) as running:
            tricklers = [Trickler(address(running), HEAD) for _ in range(10)]
            for trickler in tricklers:
                trickler.start()
            time.sleep(1)
            started = time.monotonic()
        assert time.monotonic() - started < 6
    finally:
        drop()


def test_two_instances_side_by_side_leave_no_control_socket(templates, tmp_path):
    """gunicorn 27 makes one control socket per user: each instance took it over from the one before, and
    removed it for all on stopping. gateway makes none."""
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    url, drop = copy_database("sqlite", templates, tmp_path)
    try:
        with (
            serving(url, HOME=str(home), XDG_RUNTIME_DIR=str(runtime)) as one,
            serving(url, HOME=str(home), XDG_RUNTIME_DIR=str(runtime)) as two,
        ):
            assert [requests.get(f"{s.url}/health", timeout=5).status_code for s in (one, two)] == [200, 200]
            assert list(home.rglob("*.ctl")) == list(runtime.rglob("*.ctl")) == []
    finally:
        drop()


CROWDED_BODY_TIMEOUT = 3
CROWDED_MIN_RATE = 4096
CROWDED_BUFFER = 16384
SESSION_HEAD = b"POST " + REST.encode() + b"/Session HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def crowded_server(templates, tmp_path_factory) -> Iterator:
    """One worker (two threads), so that one process's stall shows; small body settings, so the test is short."""
    url, drop = copy_database("sqlite", templates, tmp_path_factory.mktemp("crowded"))
    try:
        with serving(
            url,
            GATEWAY_WORKERS="1",
            GATEWAY_BODY_TIMEOUT=str(CROWDED_BODY_TIMEOUT),
            GATEWAY_BODY_MIN_RATE=str(CROWDED_MIN_RATE),
            GATEWAY_BODY_BUFFER=str(CROWDED_BUFFER),
        ) as running:
            yield running
    finally:
        drop()


class Sender(threading.Thread):
    """Sends `head`, then a body at `rate` bytes per second (`pieces`, ten a second) until answered or disconnected."""

    def __init__(self, address: tuple[str, int], head: bytes, rate: int, chunked: bool = False) -> None:
        super().__init__(daemon=True)
        self.address, self.head, self.rate, self.chunked = address, head, rate, chunked
        self.answer = b""
        self.lasted = 0.0

    def run(self) -> None:
        piece = b" " * max(1, self.rate // 10)
        if self.chunked:
            piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        started = time.monotonic()
        with socket.create_connection(self.address) as sock:
            sock.sendall(self.head)
            try:
                while not select.select([sock], [], [], 0.1)[0]:
                    sock.sendall(piece)
                    if time.monotonic() - started > 60:
                        break
                sock.settimeout(10)
                while data := sock.recv(4096):
                    self.answer += data
            except OSError:
                pass
            self.lasted = time.monotonic() - started


@pytest.mark.slow
def test_slow_bodies_small_and_large_do_not_stall_a_worker(crowded_server):
    """Small bodies trickled wait in the event loop; large ones just above body_min_rate take at most one of the
    two threads, and are cut at a deadline fixed when their head arrived (not extended by each byte)."""
    where = address(crowded_server)
    small = [Trickler(where, SESSION_HEAD + b"Content-Length: 5000\r\n\r\n", b" " * 5000, 0.2) for _ in range(8)]
    small.append(Trickler(where, SESSION_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", b"1388\r\n" + b" " * 5000, 0.2))
    chunked = [
        Sender(where, SESSION_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", 5000, chunked=True) for _ in range(2)
    ]
    length = [Sender(where, SESSION_HEAD + b"Content-Length: 40000\r\n\r\n", 2000) for _ in range(2)]
    for client in small + chunked + length:
        client.start()
    took = []
    for _ in range(12):
        time.sleep(0.5)
        health, seconds = timed(lambda: requests.get(f"{crowded_server.url}/health", timeout=5))
        assert health.status_code == 200
        took.append(seconds)
    created, seconds = timed(lambda: requests.post(f"{crowded_server.url}{REST}/Session", json=ROOT, timeout=5))
    assert "SessionID" in created.json()
    assert max([*took, seconds]) < 2
    for client in small + chunked + length:
        client.join(timeout=30)
    for client in small + chunked + length:
        assert client.answer.startswith(b"HTTP/1.1 408 ")
    # body_timeout + bytes / body_min_rate: of Content-Length, of body_buffer for a chunked body
    print([round(c.lasted, 2) for c in small + chunked + length])
    small_deadline = CROWDED_BODY_TIMEOUT + 5000 / CROWDED_MIN_RATE
    assert all(small_deadline - 0.5 <= client.lasted < small_deadline + 4 for client in small[:-1])
    assert CROWDED_BODY_TIMEOUT - 0.5 <= small[-1].lasted < CROWDED_BODY_TIMEOUT + 4  # a few bytes received
    chunked_deadline = CROWDED_BODY_TIMEOUT + CROWDED_BUFFER / CROWDED_MIN_RATE
    assert all(chunked_deadline - 0.5 <= client.lasted < chunked_deadline + 4 for client in chunked)
    length_deadline = CROWDED_BODY_TIMEOUT + 40000 / CROWDED_MIN_RATE
    assert all(length_deadline - 0.5 <= client.lasted < length_deadline + 4 for client in length)


def answers(sock: socket.socket, count: int) -> bytes:
    """What the server sends until `count` JSON answers have arrived."""
    sock.settimeout(10)
    received = b""
    while received.count(b"HTTP/1.1 200 ") < count or not received.endswith(b"}"):
        data = sock.recv(65536)
        assert data, received
        received += data
    return received


@pytest.mark.slow
def test_chunked_continued_pipelined_and_large_bodies_are_served(crowded_server):
    url = crowded_server.url
    # chunked, as .NET and Java clients send it (requests does for a generator)
    chunked = requests.post(f"{url}{REST}/Session", data=iter([SESSION_CREATE[:5], SESSION_CREATE[5:]]), timeout=5)
    assert "SessionID" in chunked.json()
    length = str(len(SESSION_CREATE)).encode()
    with socket.create_connection(address(crowded_server)) as sock:
        # Expect: 100-continue: the body only after "100 Continue"
        sock.sendall(SESSION_HEAD + b"Expect: 100-continue\r\nContent-Length: " + length + b"\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(SESSION_CREATE)
        assert b'"SessionID"' in answers(sock, 1)
    with socket.create_connection(address(crowded_server)) as sock:
        # pipelined behind a chunked body, then behind a body larger than body_buffer (read by a thread)
        large = SESSION_CREATE + b" " * (2 * CROWDED_BUFFER)
        sock.sendall(
            SESSION_HEAD
            + b"Transfer-Encoding: chunked\r\n\r\n"
            + f"{len(SESSION_CREATE):x}\r\n".encode()
            + SESSION_CREATE
            + b"\r\n0\r\n\r\n"
            + SESSION_HEAD
            + b"Content-Length: "
            + str(len(large)).encode()
            + b"\r\n\r\n"
            + large
            + HEAD
        )
        first, second, third = answers(sock, 3).split(b"HTTP/1.1 200 ")[1:]
    assert b'"SessionID"' in first and b'"SessionID"' in second and b'"Database":"ok"' in third
    # kept alive across a buffered body and a large one
    connection = http.client.HTTPConnection(*address(crowded_server), timeout=5)
    for body in (SESSION_CREATE, large, SESSION_CREATE):
        connection.request("POST", f"{REST}/Session", body=body, headers={"Content-Type": "application/json"})
        assert "SessionID" in json.loads(connection.getresponse().read())
        socket_used = connection.sock
    assert connection.sock is socket_used
    connection.close()


@pytest.mark.slow
def test_the_workers_own_timeout_answer_says_no_store_and_nosniff(crowded_server):
    with socket.create_connection(address(crowded_server)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        sock.settimeout(20)
        answer = b""
        while data := sock.recv(4096):
            answer += data
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"\r\nCache-Control: no-store\r\n" in answer and b"\r\nX-Content-Type-Options: nosniff\r\n" in answer


@pytest.mark.slow
def test_a_client_reading_its_answer_a_little_now_and_then_is_disconnected(crowded_server):
    """Each write makes some progress (within body_timeout), but the request as a whole has its bound: its body's
    deadline, then body_timeout + body_buffer / body_min_rate."""
    session_id = session(crowded_server)
    created = requests.post(
        f"{crowded_server.url}{REST}/Ticket", data=ticket_create(session_id, "Big", os.urandom(8_000_000)), timeout=60
    ).json()
    bound = 2 * CROWDED_BODY_TIMEOUT + CROWDED_BUFFER / CROWDED_MIN_RATE
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(address(crowded_server))
        path = f"{REST}/Ticket/{created['TicketID']}?SessionID={session_id}&AllArticles=1&Attachments=1"
        started = time.monotonic()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: gateway\r\n\r\n".encode())
        sock.settimeout(CROWDED_BODY_TIMEOUT + 1)
        received = b""
        with contextlib.suppress(OSError):
            while (data := sock.recv(16384)) and time.monotonic() - started < bound + 30:
                received += data
                time.sleep(1)
        lasted = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 200 ") and len(received) < 8_000_000
    assert bound - 0.5 <= lasted < bound + 6


@pytest.mark.slow
def test_clients_that_keep_their_side_open_after_a_last_answer_do_not_stall_the_worker(crowded_server):
    """gthread waited up to 2 s in its event loop, per such connection, for the client to close too."""
    clients = [socket.create_connection(address(crowded_server)) for _ in range(6)]
    try:
        for sock in clients:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        time.sleep(0.5)
        health, took = timed(lambda: requests.get(f"{crowded_server.url}/health", timeout=30))
        assert health.status_code == 200 and took < 2
        for sock in clients:  # the answer whole, then the server's side closed
            sock.settimeout(5)
            received = b""
            while data := sock.recv(65536):
                received += data
            assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b"}")
    finally:
        for sock in clients:
            sock.close()


def test_a_body_over_the_limit_is_refused_and_its_connection_closed(templates, tmp_path):
    """The 413 comes before the body is read; keeping the connection would mean reading the rest of it first."""
    url, drop = copy_database("sqlite", templates, tmp_path)
    try:
        with serving(url, GATEWAY_MAX_REQUEST_SIZE="100000") as running:
            for expect in (b"", b"Expect: 100-continue\r\n"):
                with socket.create_connection(address(running), timeout=10) as sock:
                    sock.sendall(
                        f"POST {REST}/Session HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                        "Content-Length: 101000000\r\n".encode()
                        + expect
                        + b"\r\n"
                        + b"{" * 1000
                    )
                    received = b""
                    while chunk := sock.recv(65536):  # the server closes: the loop ends
                        received += chunk
                answer = received.split(b"HTTP/1.1 413 ", 1)
                assert len(answer) == 2, received
                assert b"\r\nConnection: close\r\n" in answer[1] and b"Client.RequestTooLong" in answer[1]
    finally:
        drop()


@pytest.mark.transport_only
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", "400 Bad Request"),
        (b"GET /" + b"x" * 10000 + b" HTTP/1.1\r\nHost: g\r\n\r\n", "414 URI Too Long"),
        (b"GET /health HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n", "431 "),
    ],
    ids=["bad request line", "long URI", "too many headers"],
)
def test_a_request_gunicorn_cannot_parse_is_answered_a_json_fault(patient_server, request_bytes, status):
    """gunicorn's own refusals were HTML pages without the headers every answer carries."""
    with socket.create_connection(address(patient_server), timeout=10) as sock:
        sock.sendall(request_bytes)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()), received
    assert b"Content-Type: application/json" in head and b"Cache-Control: no-store" in head
    assert b"X-Content-Type-Options: nosniff" in head and b"Connection: close" in head
    fault = json.loads(body)
    assert fault["faultcode"] == "Client.BadRequest" and fault["faultstring"].endswith(".")
    assert b"xxxx" not in body  # the client's bytes are not echoed


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name: state, parent, ... (proc(5))."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _sockets(port: int) -> set[str]:
    """The inodes of the IPv4 sockets listening on `port`."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            found.add(f"socket:[{fields[9]}]")
    return found


def _holders(inodes: set[str]) -> list[int]:
    holders = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if inodes & {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}:
                holders.append(int(pid))
    return holders


def _worker_pids(server) -> list[int]:
    """The gunicorn workers of a `gateway serve`: the processes holding its listening socket but its master."""
    pids = _holders(_sockets(address(server)[1]))
    return [pid for pid in pids if int(_stat(pid)[1]) in pids]


def _cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_full_worker_waits_idle(templates, tmp_path):
    """Workers that hold as many connections as they may take (worker_connections) do not accept, and do not
    spin either: heads trickling in cost them next to no CPU."""
    url, drop = copy_database("sqlite", templates, tmp_path)
    try:
        with serving(url, GATEWAY_HEADER_TIMEOUT="30", GUNICORN_CMD_ARGS="--worker-connections 3") as running:
            clients = [socket.create_connection(address(running)) for _ in range(6)]
            try:
                for client in clients:
                    client.sendall(b"GET /health HTTP/1.1\r\n")  # a head never finished
                time.sleep(1)
                workers = _worker_pids(running)
                before = sum(_cpu_seconds(pid) for pid in workers)
                time.sleep(2)
                assert sum(_cpu_seconds(pid) for pid in workers) - before < 0.3
            finally:
                for client in clients:
                    client.close()
    finally:
        drop()
