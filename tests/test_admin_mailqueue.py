"""The mail queue as the admin pages and the console see it (gateway.admin.mailqueue): counts, one message with
its headers, recipients and attempts, retry and purge recorded in the change history.

Messages are stored by outbox.enqueue and delivered by the real worker to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
from collections.abc import Iterator

import pytest

from gateway.admin import mailqueue
from gateway.errors import AdminError
from gateway.mail import outbox
from gateway.store.database import utcnow
from tests.conftest import run_console
from tests.smtp import Smtp, start_smtp
from tests.test_outbox import SENDER, make_due, new_article, raw_message

HEADERS = (
    b"From: =?UTF-8?Q?J=C3=BCrgen_Support?= <support@gateway.test>\r\n"
    b"To: Rita <rita@example.test>, cc@example.test\r\n"
    b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= und\r\n"
    b" =?ISO-8859-1?Q?K=E4se?=\r\n"
    b"Message-ID: <1@gateway.test>\r\n"
    b"X-Folded: one\r\n"
    b"\ttwo\r\n"
    b"\r\n"
    b"Subject: not a header, the body\r\n"
)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with start_smtp() as server:
        yield server


@pytest.fixture
def worker(settings, smtp, db) -> outbox.Worker:
    return outbox.Worker(
        dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_timeout=5.0), db
    )


def enqueue(db, raw: bytes, recipients: tuple[str, ...] = ("customer@example.test",)) -> int:
    article_id = new_article(db)
    with db.transaction() as tx:
        return outbox.enqueue(tx, article_id, SENDER, recipients, raw)


def test_a_message_shows_its_decoded_headers_recipients_and_attempts(db, worker, smtp):
    mail_id = enqueue(db, HEADERS, ("rita@example.test", "cc@example.test", "hidden@example.test"))
    shown = mailqueue.message(db, mail_id)
    assert (shown.id, shown.state, shown.attempts, shown.sender, shown.sent_time) == (
        mail_id,
        "queued",
        0,
        SENDER,
        None,
    )
    assert shown.recipients == ["rita@example.test", "cc@example.test", "hidden@example.test"]
    assert shown.headers == [
        ("From", "Jürgen Support <support@gateway.test>"),
        ("To", "Rita <rita@example.test>, cc@example.test"),
        ("Subject", "Grüße aus Köln und Käse"),
        ("Message-ID", "<1@gateway.test>"),
        ("X-Folded", "one\ttwo"),  # unfolded as RFC 5322 says: the line break goes, the blank stays
    ]
    assert shown.attempts_log == [] and isinstance(shown.create_time, dt.datetime)

    smtp.handler.data_replies = ["451 4.3.0 Try again later"]
    assert worker.run_once() == (0, 0, 1)
    make_due(db, mail_id)
    assert worker.run_once() == (1, 0, 0)
    shown = mailqueue.message(db, mail_id)
    assert (shown.state, shown.attempts) == ("sent", 2) and isinstance(shown.sent_time, dt.datetime)
    assert [(a["smtp_code"], a["smtp_message"]) for a in shown.attempts_log] == [
        (451, "DATA: 4.3.0 Try again later"),
        (250, "2.0.0 Ok: queued"),
    ]
    first, second = shown.attempts_log
    assert first["worker"] and first["attempt_time"] <= second["attempt_time"] <= utcnow()
    with pytest.raises(AdminError, match="no message 999999"):
        mailqueue.message(db, 999999)


def test_counts_per_state_and_a_limited_listing(db, worker, smtp):
    assert mailqueue.state_counts(db) == {"queued": 0, "sent": 0, "failed": 0}
    sent, failed, queued = (enqueue(db, raw_message(number)) for number in (1, 2, 3))
    smtp.handler.data_replies = [None, "550 5.1.1 No such user", "451 4.3.0 Later"]
    assert worker.run_once() == (1, 1, 1)
    assert mailqueue.state_counts(db) == {"queued": 1, "sent": 1, "failed": 1}
    assert [row["id"] for row in mailqueue.list_messages(db)] == [sent, failed, queued]
    assert [row["id"] for row in mailqueue.list_messages(db, limit=2)] == [failed, queued]
    assert [row["id"] for row in mailqueue.list_messages(db, state="sent", limit=2)] == [sent]


def changes(db) -> list[tuple[str, str, str, str]]:
    return [(c["object_name"], c["actor"], c["action"], c["detail"]) for c in mailqueue.mail_changes(db)]


def test_retry_and_purge_are_recorded_with_who_did_them(db, worker, smtp, database_url):
    sent, failed, deferred = (enqueue(db, raw_message(number)) for number in (1, 2, 3))
    smtp.handler.data_replies = [None, "550 5.1.1 No such user", "451 4.3.0 Later"]
    assert worker.run_once() == (1, 1, 1)

    with pytest.raises(AdminError, match="was sent already"):
        mailqueue.retry(db, [deferred, sent], actor="root@localhost")
    assert mailqueue.purge(db, "failed", 1, actor="root@localhost") == 0  # it failed only just now
    assert changes(db) == []  # a refusal, or a purge that found nothing, changed nothing

    assert mailqueue.retry(db, [deferred, deferred], actor="root@localhost") == 1
    assert mailqueue.retry(db, actor="agent1") == 1
    assert mailqueue.retry(db, actor="agent1") == 0
    console = run_console("mail-queue", "purge", env={"GATEWAY_DATABASE_URL": database_url})
    assert console.stdout.strip() == "Purged 1 sent message(s)."
    assert changes(db) == [
        ("outbox", f"console ({getpass.getuser()})", "purge", "1 sent message"),
        ("outbox", "agent1", "retry", "1 failed message"),
        (str(deferred), "root@localhost", "retry", f"message {deferred}, was queued"),
    ]
    [newest] = mailqueue.mail_changes(db, limit=1)
    assert newest["action"] == "purge" and isinstance(newest["create_time"], dt.datetime)

    with db.transaction() as tx:  # finished long ago
        tx.execute("UPDATE mail_queue SET due_time = ? WHERE id = ?", [utcnow() - dt.timedelta(days=40), failed])
    mailqueue.retry(db, [failed], actor="root@localhost")
    assert worker.run_once() == (2, 0, 0)
    with db.transaction() as tx:
        tx.execute("UPDATE mail_queue SET due_time = ?", [utcnow() - dt.timedelta(days=40)])
    assert mailqueue.purge(db, "sent", 30, actor="root@localhost") == 2
    assert changes(db)[0] == ("outbox", "root@localhost", "purge", "2 sent messages, finished more than 30 days ago")
