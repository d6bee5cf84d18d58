"""The outbox and its SMTP worker, against a real SMTP server (aiosmtpd) and the real console.

Nothing is mocked: messages are stored through outbox.enqueue, delivered by `gateway mail-worker`
(or a Worker in-process where timing is controlled) to an aiosmtpd server that records every
envelope, and checked byte for byte.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import re
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult

from gateway.mail import outbox
from gateway.store import ticket_rows
from gateway.store.database import Database, as_datetime, utcnow
from tests.conftest import GATEWAY_BIN, free_port, refused, run_console
from tests.smtp import Received, Smtp
from tests.smtp import start_smtp as smtp_server

SENDER = "support@gateway.test"
USER, PASSWORD = "mailer", "Sup3r-s3cret-pw"


def number_of(received: Received) -> int:
    """The number raw_message() put in the Message-ID."""
    return int(re.search(rb"Message-ID: <(\d+)@gateway.test>", received.content).group(1))


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., Smtp]]:
    with contextlib.ExitStack() as servers:
        yield lambda port=None, **kwargs: servers.enter_context(smtp_server(port, **kwargs))


@pytest.fixture
def smtp(start_smtp) -> Smtp:
    return start_smtp()


@pytest.fixture
def worker_settings(settings, smtp):
    return dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout=5.0,
        mail_retry_delay=60.0,
        mail_poll_interval=0.2,
    )


def console_env(database_url: str, port: int, **overrides: object) -> dict[str, str]:
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_SMTP_HOST": "127.0.0.1",
        "GATEWAY_SMTP_PORT": str(port),
        "GATEWAY_SMTP_TIMEOUT": "5",
        "GATEWAY_MAIL_POLL_INTERVAL": "0.2",
    }
    env.update({f"GATEWAY_{key.upper()}": str(value) for key, value in overrides.items()})
    return env


@pytest.fixture
def console(database_url, smtp):
    def run(
        *args: str, port: int | None = None, env: dict[str, str] | None = None, **overrides: object
    ) -> subprocess.CompletedProcess:
        return run_console(*args, env={**console_env(database_url, port or smtp.port, **overrides), **(env or {})})

    return run


@pytest.fixture
def spawn(database_url, smtp):
    processes = []

    def start(*args: str, port: int | None = None, **overrides: object) -> subprocess.Popen:
        process = subprocess.Popen(
            [str(GATEWAY_BIN), *args],
            env=console_env(database_url, port or smtp.port, **overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def raw_message(number: int, to: str = "customer@example.test", final_crlf: bool = True) -> bytes:
    """Synthetic bytes with what SMTP transparency and mbox habits could damage."""
    lines = [
        f"From: Support <{SENDER}>",
        f"To: {to}",
        f"Subject: Outbox test {number}",
        f"Message-ID: <{number}@gateway.test>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "From here on the body starts.",
        ".a line starting with a dot",
        "..two dots",
        ".",
        "  trailing spaces  ",
        "",
        "-- ",
        "Support",
    ]
    return "\r\n".join(lines).encode("ascii") + (b"\r\n" if final_crlf else b"")


def new_article(db: Database) -> int:
    with db.transaction() as tx:
        ticket_id = ticket_rows.insert_ticket(
            tx,
            {
                "tn": f"{time.time_ns()}",
                "title": "Outbox",
                "queue_id": tx.value("SELECT MIN(id) FROM queue"),
                "ticket_lock_id": tx.value("SELECT MIN(id) FROM ticket_lock_type"),
                "user_id": 1,
                "responsible_user_id": 1,
                "ticket_priority_id": tx.value("SELECT MIN(id) FROM ticket_priority"),
                "ticket_state_id": tx.value("SELECT MIN(id) FROM ticket_state"),
                "create_by": 1,
            },
        )
        return ticket_rows.insert_article(
            tx,
            ticket_id,
            tx.value("SELECT MIN(id) FROM article_sender_type"),
            tx.value("SELECT MIN(id) FROM communication_channel"),
            1,
            1,
            {"content_type": "text/plain"},
        )


def enqueue(db: Database, number: int, recipients: tuple[str, ...] = ("customer@example.test",), **kwargs) -> int:
    article_id = new_article(db)
    with db.transaction() as tx:
        return outbox.enqueue(tx, article_id, SENDER, recipients, raw_message(number, recipients[0], **kwargs))


def rows(db: Database, sql: str, params=()) -> list[dict]:
    with db.transaction(write=False) as tx:
        return tx.all(sql, params)


def message(db: Database, mail_id: int) -> dict:
    return rows(db, "SELECT * FROM mail_queue WHERE id = ?", [mail_id])[0]


def attempts(db: Database, mail_id: int) -> list[dict]:
    return rows(db, "SELECT * FROM mail_attempt WHERE mail_id = ? ORDER BY id", [mail_id])


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> str:
    """SIGTERM: the worker finishes the message in flight and exits 0 with its summary."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    return out


# -- what is stored is what is sent ------------------------------------------------------------------


def test_the_server_receives_the_stored_bytes_and_bcc_only_in_the_envelope(console, db, smtp):
    plain = enqueue(db, 1)
    bcc = enqueue(db, 2, ("to@example.test", "cc@example.test", "hidden@example.test"), final_crlf=False)
    result = console("mail-worker", "--once")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sent 2, failed 0, deferred 0"
    first, second = sorted(smtp.handler.received, key=number_of)
    assert first.content == raw_message(1)
    assert second.content == raw_message(2, "to@example.test", final_crlf=False) + b"\r\n"  # only CRLF added
    assert first.mail_from == second.mail_from == SENDER
    assert second.rcpt_tos == ["to@example.test", "cc@example.test", "hidden@example.test"]
    assert b"hidden@example.test" not in second.content
    for mail_id in (plain, bcc):
        row = message(db, mail_id)
        assert (row["state"], row["attempts"], row["last_smtp_code"]) == ("sent", 1, 250)
        assert row["sent_time"] is not None and row["locked_until"] is None
        [attempt] = attempts(db, mail_id)
        assert attempt["smtp_code"] == 250 and "queued" in attempt["smtp_message"] and attempt["worker"]


def test_delivery_state_of_many_articles_in_one_call(db, worker_settings, smtp):
    sent_id, failed_id = enqueue(db, 1), enqueue(db, 2)
    queued_article = new_article(db)
    with db.transaction() as tx:
        outbox.enqueue(tx, queued_article, SENDER, ["later@example.test"], raw_message(3))
    articles = {row["id"]: row["article_id"] for row in rows(db, "SELECT id, article_id FROM mail_queue")}
    smtp.handler.data_replies = [None, "554 5.7.1 Spam detected"]
    with db.transaction() as tx:  # deferred far into the future
        tx.execute(
            "UPDATE mail_queue SET due_time = ? WHERE article_id = ?", [utcnow().replace(year=2999), queued_article]
        )
    assert outbox.Worker(worker_settings, db).run_once() == (1, 1, 0)
    with db.transaction(write=False) as tx:
        state = outbox.delivery(tx, [articles[sent_id], articles[failed_id], queued_article, 999999])
    assert set(state) == {articles[sent_id], articles[failed_id], queued_article}
    assert state[articles[sent_id]]["State"] == "sent" and state[articles[sent_id]]["SMTPCode"] == 250
    assert state[articles[failed_id]] == {
        **state[articles[failed_id]],
        "State": "failed",
        "Attempts": 1,
        "SMTPCode": 554,
        "SMTPMessage": "DATA: 5.7.1 Spam detected",
    }
    assert state[queued_article] == {
        "State": "queued",
        "Attempts": 0,
        "SMTPCode": None,
        "SMTPMessage": "",
        "Time": state[queued_article]["Time"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", state[queued_article]["Time"])


def test_a_message_is_stored_only_with_its_article(db):
    article_id = new_article(db)
    with pytest.raises(RuntimeError), db.transaction() as tx:
        outbox.enqueue(tx, article_id, SENDER, ["a@example.test"], raw_message(1))
        raise RuntimeError("the article failed")
    with pytest.raises(ValueError), db.transaction() as tx:
        outbox.enqueue(tx, article_id, SENDER, ["a@example.test\nRCPT TO:<x@evil.test>"], raw_message(1))
    assert rows(db, "SELECT id FROM mail_queue") == []


# -- failures: temporary, permanent, partial -----------------------------------------------------------


@pytest.mark.slow
def test_smtp_down_defers_and_a_running_worker_delivers_once_it_is_back(console, spawn, db, start_smtp):
    mail_id = enqueue(db, 1)
    port = free_port()  # nothing listens here yet
    result = console("mail-worker", "--once", port=port, mail_retry_delay=1)
    assert result.returncode == 0 and result.stdout.strip() == "sent 0, failed 0, deferred 1", result.stderr
    [attempt] = attempts(db, mail_id)
    assert attempt["smtp_code"] is None and "Connection refused" in attempt["smtp_message"]
    assert message(db, mail_id)["state"] == "queued"
    listed = console("mail-queue", "list", "--state", "queued").stdout
    assert "Connection refused" in listed and "customer@example.test" in listed

    server = start_smtp(port=port)
    worker = spawn("mail-worker", port=port, mail_retry_delay=1)
    wait_for(lambda: message(db, mail_id)["state"] == "sent")
    assert stop(worker).strip() == "sent 1, failed 0, deferred 0"
    assert [number_of(received) for received in server.handler.received] == [1]
    assert [row["smtp_code"] for row in attempts(db, mail_id)] == [None, 250]


def test_550_fails_for_good_and_the_reply_is_listed(console, db, smtp):
    mail_id = enqueue(db, 1)
    smtp.handler.data_replies = ["550 5.7.1 Message rejected by policy"]
    assert console("mail-worker", "--once").stdout.strip() == "sent 0, failed 1, deferred 0"
    assert console("mail-worker", "--once").stdout.strip() == "sent 0, failed 0, deferred 0"
    assert smtp.handler.received == [] and len(attempts(db, mail_id)) == 1
    [line] = console("mail-queue", "list", "--state", "failed").stdout.splitlines()
    assert line.startswith(f"{mail_id}\t") and "\tfailed\t1 attempts\t" in line
    assert line.endswith("550 DATA: 5.7.1 Message rejected by policy")


def test_recipients_refused_all_or_in_part(db, worker_settings, smtp):
    smtp.handler.refuse = {"gone@example.test": "550 5.1.1 No such user", "full@example.test": "452 4.2.2 Full"}
    all_refused = enqueue(db, 1, ("gone@example.test",))
    partly = enqueue(db, 2, ("ok@example.test", "gone@example.test"))
    held_back = enqueue(db, 3, ("ok@example.test", "full@example.test", "gone@example.test"))
    assert outbox.Worker(worker_settings, db).run_once() == (1, 1, 1)
    row = message(db, all_refused)
    assert (row["state"], row["last_smtp_code"]) == ("failed", 550)
    assert row["last_smtp_message"] == "RCPT TO: gone@example.test 550 5.1.1 No such user"
    row = message(db, partly)
    assert row["state"] == "sent" and "refused: gone@example.test 550 5.1.1 No such user" in row["last_smtp_message"]
    row = message(db, held_back)  # accepted by ok@, to be tried again for full@ alone
    assert (row["state"], row["recipient"], row["last_smtp_code"]) == ("queued", "full@example.test", 250)
    assert sorted((number_of(r), tuple(r.rcpt_tos)) for r in smtp.handler.received) == [
        (2, ("ok@example.test",)),
        (3, ("ok@example.test",)),
    ]


def make_due(db: Database, mail_id: int) -> None:
    """Time passes: the back-off is over."""
    with db.transaction() as tx:
        tx.execute("UPDATE mail_queue SET due_time = ? WHERE id = ?", [utcnow().replace(year=2000), mail_id])


def backoff(db: Database, mail_id: int) -> float:
    row, last = message(db, mail_id), attempts(db, mail_id)[-1]
    due, tried = (as_datetime(value) for value in (row["due_time"], last["attempt_time"]))
    return (due - tried).total_seconds()


def test_451_is_retried_with_growing_delays_then_sent(db, worker_settings, smtp):
    mail_id = enqueue(db, 1)
    smtp.handler.data_replies = ["451 4.3.0 Try again later"] * 2
    worker = outbox.Worker(worker_settings, db)
    assert worker.run_once() == (0, 0, 1)
    assert backoff(db, mail_id) == 60
    assert worker.run_once() == (0, 0, 0)  # not due yet
    make_due(db, mail_id)
    assert worker.run_once() == (0, 0, 1)
    assert backoff(db, mail_id) == 120
    make_due(db, mail_id)
    assert worker.run_once() == (1, 0, 0)
    assert [(a["smtp_code"], a["smtp_message"]) for a in attempts(db, mail_id)] == [
        (451, "DATA: 4.3.0 Try again later")
    ] * 2 + [(250, "2.0.0 Ok: queued")]
    assert message(db, mail_id)["attempts"] == 3 and len(smtp.handler.received) == 1


def test_temporary_failures_fail_after_max_attempts(db, worker_settings, smtp):
    mail_id = enqueue(db, 1)
    smtp.handler.data_replies = ["451 4.3.0 Try again later"] * 3
    worker = outbox.Worker(dataclasses.replace(worker_settings, mail_max_attempts=2), db)
    assert worker.run_once() == (0, 0, 1)
    make_due(db, mail_id)
    assert worker.run_once() == (0, 1, 0)
    row = message(db, mail_id)
    assert (row["state"], row["attempts"], row["last_smtp_code"]) == ("failed", 2, 451)


def test_a_connection_closed_mid_batch_releases_the_rest(db, worker_settings, smtp):
    ids = [enqueue(db, number) for number in range(1, 5)]
    smtp.handler.data_replies = [None, "421 4.3.2 Service shutting down"]
    assert outbox.Worker(worker_settings, db).run_once() == (3, 0, 1)
    assert [message(db, mail_id)["state"] for mail_id in ids] == ["sent", "queued", "sent", "sent"]
    assert [len(attempts(db, mail_id)) for mail_id in ids] == [1, 1, 1, 1]  # the released ones were not tried
    assert sorted(number_of(received) for received in smtp.handler.received) == [1, 3, 4]


# -- several workers, and workers that die -------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing(spawn, db, smtp):
    for number in range(1, 9):
        enqueue(db, number)
    smtp.handler.delay = 0.25
    first = spawn("mail-worker", mail_claim_timeout=1)
    wait_for(lambda: len(smtp.handler.received) >= 3)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = spawn("mail-worker", mail_claim_timeout=1)  # takes over once the dead worker's leases expire
    wait_for(lambda: {row["state"] for row in rows(db, "SELECT state FROM mail_queue")} == {"sent"})
    stop(second)
    times = collections.Counter(number_of(received) for received in smtp.handler.received)
    assert set(times) == set(range(1, 9))
    assert max(times.values()) <= 2 and list(times.values()).count(2) <= 1


@pytest.mark.slow
def test_sigterm_lets_the_message_in_flight_finish_and_releases_the_rest(spawn, db, smtp):
    for number in range(1, 7):
        enqueue(db, number)
    smtp.handler.delay = 0.25
    worker = spawn("mail-worker")
    wait_for(lambda: len(smtp.handler.received) >= 2)
    summary = stop(worker)
    sent = len(rows(db, "SELECT id FROM mail_queue WHERE state = 'sent'"))
    assert summary.strip() == f"sent {sent}, failed 0, deferred 0" and sent < 6
    assert sorted(number_of(received) for received in smtp.handler.received) == list(range(1, sent + 1))
    released = rows(db, "SELECT COUNT(*) AS n FROM mail_queue WHERE state = 'queued' AND locked_by IS NULL")
    assert released == [{"n": 6 - sent}]


@pytest.mark.slow
def test_three_workers_deliver_each_of_60_messages_once(spawn, db, smtp):
    for number in range(1, 61):
        enqueue(db, number)
    smtp.handler.delay = 0.02
    workers = [spawn("mail-worker", "--once", mail_batch_size=5) for _ in range(3)]
    summaries = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        summaries.append(re.fullmatch(r"sent (\d+), failed 0, deferred 0\n", out).group(1))
    assert sum(map(int, summaries)) == 60
    times = collections.Counter(number_of(received) for received in smtp.handler.received)
    assert set(times) == set(range(1, 61)) and set(times.values()) == {1}
    assert len(rows(db, "SELECT DISTINCT worker FROM mail_attempt")) >= 2


# -- TLS and authentication ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    # handled=False: aiosmtpd answers a failure with 535 itself
    return AuthResult(
        success=(auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode()), handled=False
    )


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_login_delivers_and_never_shows_the_password(console, db, start_smtp, certificate, security):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if security == "starttls":
        tls = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    else:  # aiosmtpd cannot tell that an implicit-TLS session is encrypted: it would never offer AUTH
        tls = {"ssl_context": context, "auth_require_tls": False}
    server = start_smtp(authenticator=authenticate, auth_required=True, **tls)
    mail_id = enqueue(db, 1)
    # the worker verifies the server against the system's CAs; here that is the test's own certificate
    settings = {"port": server.port, "env": {"SSL_CERT_FILE": str(cert)}, "smtp_security": security, "smtp_user": USER}
    wrong = console("mail-worker", "--once", **settings, smtp_password="wrong-" + PASSWORD)
    assert wrong.stdout.strip() == "sent 0, failed 0, deferred 1"
    assert attempts(db, mail_id)[0]["smtp_code"] == 535
    make_due(db, mail_id)
    right = console("mail-worker", "--once", **settings, smtp_password=PASSWORD)
    assert right.stdout.strip() == "sent 1, failed 0, deferred 0", right.stderr
    assert [number_of(received) for received in server.handler.received] == [1]
    recorded = repr(rows(db, "SELECT * FROM mail_attempt")) + repr(rows(db, "SELECT last_smtp_message FROM mail_queue"))
    for text in (wrong.stdout, wrong.stderr, right.stdout, right.stderr, recorded):
        assert PASSWORD not in text


# -- administration ---------------------------------------------------------------------------------------


def test_mail_queue_list_retry_and_purge(console, db, smtp, worker_settings):
    sent, failed, deferred = (enqueue(db, number) for number in (1, 2, 3))
    smtp.handler.data_replies = [None, "550 5.1.1 No such user", "451 4.3.0 Later"]
    worker = outbox.Worker(worker_settings, db)
    assert worker.run_once() == (1, 1, 1)
    assert [line.split("\t")[2] for line in console("mail-queue", "list").stdout.splitlines()] == [
        "sent",
        "failed",
        "queued",
    ]
    article_id = message(db, failed)["article_id"]
    [line] = console("mail-queue", "list", "--article-id", str(article_id)).stdout.splitlines()
    assert line.startswith(f"{failed}\t{article_id}\tfailed\t1 attempts\tfailed ")
    purged = console("mail-queue", "purge", "--state", "failed", "--older-than-days", "1")
    assert purged.stdout.strip() == "Purged 0 failed message(s)."  # it failed only just now

    refused(console("mail-queue", "retry", "--id", "999999"), "999999")
    refused(console("mail-queue", "retry", "--id", str(deferred), "--id", str(sent)), "was sent")
    assert message(db, deferred)["attempts"] == 1  # the refused command changed nothing
    assert console("mail-queue", "retry", "--id", str(deferred)).stdout.strip() == "1 message(s) due now."
    assert console("mail-queue", "retry").stdout.strip() == "1 message(s) due now."
    assert [(message(db, mail_id)["state"], message(db, mail_id)["attempts"]) for mail_id in (failed, deferred)] == [
        ("queued", 0),
        ("queued", 0),
    ]

    assert console("mail-queue", "purge").stdout.strip() == "Purged 1 sent message(s)."
    assert rows(db, "SELECT id FROM mail_queue ORDER BY id") == [{"id": failed}, {"id": deferred}]
    assert attempts(db, sent) == []
    assert worker.run_once() == (2, 0, 0)
    assert sorted(number_of(received) for received in smtp.handler.received) == [1, 2, 3]
