"""Two gateway nodes and two mail workers on one PostgreSQL behave as one service.

Node A and node B are two `gateway serve` (gunicorn, two workers each) on different ports; the mail
workers are two `gateway mail-worker` processes delivering to one aiosmtpd. Sessions, web services and
the outbox live in the database, so what one node does the other sees; node A's master is killed with
SIGKILL in the middle of a mixed load, and B goes on. Run with -s to see the figures.
"""

from __future__ import annotations

import collections
import contextlib
import email
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import GATEWAY_BIN, REST, ROOT, copy_database, free_port, until
from tests.smtp import start_smtp

pytestmark = pytest.mark.slow

TICKET = {"Title": "two nodes", "Queue": "Raw", "State": "open", "Priority": "3 normal", "CustomerUser": "customer1"}
CLIENTS, ROUNDS, KILL_AFTER = 4, 12, 16  # 4 clients x 12 rounds of create, update, get; A dies after 16 creates


@contextlib.contextmanager
def node(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """`gateway serve` on a free port (its process is gunicorn's master: serve execs it)."""
    port = free_port()
    process = subprocess.Popen(
        [str(GATEWAY_BIN), "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: _up(url) or process.poll() is not None, 30)
        assert process.poll() is None, "node did not start"
        yield url, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def mail_worker(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [str(GATEWAY_BIN), "mail-worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def cluster(templates, tmp_path: Path):
    url, drop = copy_database("postgresql", templates, tmp_path)
    try:
        with start_smtp() as smtp:
            env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
            env.update(
                {
                    "GATEWAY_HOME": str(tmp_path),
                    "GATEWAY_DATABASE_URL": url,
                    "GATEWAY_WORKERS": "2",
                    "GATEWAY_WEBSERVICE_REFRESH_INTERVAL": "1",
                    "GATEWAY_ACCESS_LOG": "",
                    "GATEWAY_SMTP_HOST": "127.0.0.1",
                    "GATEWAY_SMTP_PORT": str(smtp.port),
                    "GATEWAY_MAIL_POLL_INTERVAL": "0.2",
                    "GATEWAY_MAIL_BATCH_SIZE": "5",
                }
            )
            with node(env) as a, node(env) as b, mail_worker(env), mail_worker(env):
                yield {"a": a, "b": b, "url": url, "env": env, "smtp": smtp}
    finally:
        drop()


def test_two_nodes_on_one_postgresql_are_one_service(cluster):
    (a, a_master), (b, _) = cluster["a"], cluster["b"]

    # a session made on A works on B, and is gone on both once removed on either
    sid = requests.post(f"{a}{REST}/Session", json=ROOT, timeout=10).json()["SessionID"]
    assert requests.get(f"{b}{REST}/Session/{sid}", params={"SessionID": sid}, timeout=10).json()["SessionData"]
    removed = requests.delete(f"{b}{REST}/Session/{sid}", params=ROOT, timeout=10)  # Znuny: by password
    assert removed.json() == {"Success": 1}, removed.text
    for base in (a, b):
        gone = requests.get(f"{base}{REST}/Session/{sid}", params={"SessionID": sid}, timeout=10).json()
        assert gone["Error"]["ErrorCode"] == "SessionGet.SessionInvalid", gone

    # a web service added on the console is served by both within the refresh interval
    added = subprocess.run(
        [str(GATEWAY_BIN), "webservice", "add", "--name", "TwoNodes", "--preset", "TimeAccountingREST"],
        env=cluster["env"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    path = "/otrs/nph-genericinterface.pl/Webservice/TwoNodes/TimeAccountingGet"
    for base in (a, b):
        took = until(lambda base=base: requests.post(f"{base}{path}", json={}, timeout=10).status_code != 404, 5)
        assert took < 5

    # a mixed load alternating between the nodes; A's master killed in the middle
    tally = collections.Counter()
    created: dict[int, str] = {}  # ticket id -> node that answered
    unknown_creates = []  # creates whose answer was lost with node A: all of the ticket, or none of it
    lock = threading.Lock()
    a_dead = threading.Event()  # its master killed
    a_gone = threading.Event()  # a client found it no longer answering
    errors: list[str] = []

    def send(base: str, method: str, path: str, body: dict | None) -> dict | None:
        with lock:
            tally["requests"] += 1
        try:
            query = ROOT if body is None else None  # a GET carries its credentials in the query
            answer = requests.request(method, f"{base}{REST}{path}", json=body, params=query, timeout=30)
        except requests.ConnectionError:
            assert base == a and a_dead.is_set(), f"{base} refused a connection"
            with lock:
                tally["connection errors (node A killed)"] += 1
            a_gone.set()
            return None
        if answer.status_code != 200 or "Error" in answer.json():
            with lock:
                tally["error answers"] += 1
                errors.append(f"{method} {answer.status_code} {answer.text[:200]}")
            return None
        return answer.json()

    def client(n: int) -> None:
        try:
            rounds(n)
        except Exception as error:  # an exception would only end its thread: the test fails on it instead
            with lock:
                errors.append(f"client {n}: {error!r}")

    def rounds(n: int) -> None:
        """Alternates between the nodes, as a load balancer would, until A stops answering: then only B."""
        for round_ in range(ROUNDS):
            base = a if (n + round_) % 2 == 0 and not a_gone.is_set() else b
            article = {"Subject": f"c{n} r{round_}", "Body": "b", "ContentType": "text/plain; charset=utf8"}
            mail = {**article, "ArticleSend": 1, "To": f"client{n}@example.test"}
            answer = send(base, "POST", "/Ticket", {**ROOT, "Ticket": TICKET, "Article": mail})
            if answer is None:  # A died with the request: its ticket is whole or absent, never retried blindly
                unknown_creates.append((n, round_))
                continue
            ticket_id = int(answer["TicketID"])
            with lock:
                created[ticket_id] = base
                if len(created) == KILL_AFTER:
                    os.kill(a_master.pid, signal.SIGKILL)
                    a_dead.set()
            update = {**ROOT, "Article": article, "Ticket": {"State": "open"}}
            for path, method, body in (
                (f"/Ticket/{ticket_id}", "PATCH", update),
                (f"/Ticket/{ticket_id}", "GET", None),
            ):
                other = b if base == a or a_gone.is_set() else a
                got = send(other, method, path, body)
                if got is None and other == a:
                    got = send(b, method, path, body)  # B answers what A no longer can
                if method == "GET" and got is not None and str(got["Ticket"][0]["TicketID"]) != str(ticket_id):
                    with lock:
                        errors.append(f"TicketGet {ticket_id} answered {got['Ticket'][0]['TicketID']}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a client hangs"
    assert a_dead.is_set() and not errors, errors[:5]
    until(lambda: not _up(a), 10)  # A's workers followed their master
    assert _up(b)  # B kept serving
    assert tally["error answers"] == 0, (tally, errors[:5])

    with psycopg.connect(cluster["url"]) as conn:
        rows = conn.execute(
            "SELECT t.id, t.tn, (SELECT COUNT(*) FROM article a WHERE a.ticket_id = t.id),"
            " (SELECT COUNT(*) FROM ticket_history h WHERE h.ticket_id = t.id)"
            " FROM ticket t WHERE t.title = 'two nodes'"
        ).fetchall()
        queued = conn.execute("SELECT COUNT(*) FROM mail_queue").fetchone()[0]
    numbers = [tn for _, tn, _, _ in rows]
    assert len(numbers) == len(set(numbers)), "a ticket number given twice"
    assert set(created) <= {ticket_id for ticket_id, *_ in rows}  # every answered create is stored
    assert len(rows) <= len(created) + len(unknown_creates)  # and nothing was stored that no client asked for
    assert all(articles >= 1 and history >= 1 for _, _, articles, history in rows), "a half-written ticket"
    assert queued == len(rows)  # one mail per ticket, written with it

    # every queued mail is delivered, by one of the two workers, once
    smtp = cluster["smtp"]
    until(lambda: len(smtp.handler.received) >= queued, 60)
    time.sleep(1)  # a late duplicate would arrive now
    ids = collections.Counter(
        email.message_from_bytes(message.content)["Message-ID"] for message in smtp.handler.received
    )
    duplicates = sum(count - 1 for count in ids.values())
    with psycopg.connect(cluster["url"]) as conn:
        states = dict(conn.execute("SELECT state, COUNT(*) FROM mail_queue GROUP BY state").fetchall())
        workers = conn.execute("SELECT COUNT(DISTINCT worker) FROM mail_attempt").fetchone()[0]
    assert duplicates == 0 and len(ids) == queued, ids
    assert states == {"sent": queued}, states
    print(
        f"\n  requests {tally['requests']}, error answers {tally['error answers']},"
        f" connection errors at node A's death {tally['connection errors (node A killed)']},"
        f" tickets {len(rows)} (answered {len(created)}, answer lost {len(unknown_creates)}),"
        f" mails sent {len(ids)} by {workers} workers, duplicates {duplicates}"
    )
