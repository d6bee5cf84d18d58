"""`gateway serve` under slow and idle clients, kept-alive connections, and beside another instance.

Through a real `gateway serve` (gateway.gunicorn_worker.Worker): a client that sends its request a byte at
a time holds a file descriptor, not a thread, and is disconnected when its time is up.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
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
            GUNICORN_CMD_ARGS="--timeout 3",
        ) as running:
            yield running
    finally:
        drop()


class Trickler(threading.Thread):
    """Sends `head` a byte every half second (or all of it, then so `body`) until the server answers or disconnects."""

    def __init__(self, address: tuple[str, int], head: bytes, body: bytes = b"") -> None:
        super().__init__(daemon=True)
        self.address, self.head, self.body = address, head, body
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
                    if select.select([sock], [], [], 0.5)[0] or self.stop.is_set():
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
        assert trickler.answer.startswith(b"HTTP/1.1 408 ") and HEADER_TIMEOUT <= trickler.lasted < HEADER_TIMEOUT + 2.5
    for trickler in bodies:
        assert trickler.answer.startswith(b"HTTP/1.1 408 ") and BODY_TIMEOUT <= trickler.lasted < BODY_TIMEOUT + 2.5
    rest_fault = json.loads(bodies[0].answer.partition(b"\r\n\r\n")[2])
    assert rest_fault == {"faultcode": "Client.RequestTimeout", "faultstring": "The request did not arrive in time."}
    assert b"<faultstring>The request did not arrive in time.</faultstring>" in bodies[2].answer
    # the worker's event loop kept telling the arbiter it lives (--timeout 3)
    assert "WORKER TIMEOUT" not in patient_server.log()


@pytest.mark.slow
def test_an_idle_connection_is_closed_without_an_answer_after_header_timeout(patient_server):
    with socket.create_connection(address(patient_server)) as sock:
        sock.settimeout(HEADER_TIMEOUT + 3)
        _, took = timed(lambda: sock.recv(4096))
    assert _ == b"" and HEADER_TIMEOUT <= took < HEADER_TIMEOUT + 2.5


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
