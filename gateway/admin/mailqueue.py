"""The outbox as an administrator sees it (`gateway mail-queue`, the admin pages' mail queue): the messages by
state, one message with its headers and delivery attempts, retry and purge.

Retry and purge are recorded in the change history (subject mail) in the transaction that makes them,
when they change anything: a retry of given messages once per message, the rest once for the outbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from email import policy
from email.parser import BytesHeaderParser

from gateway.errors import AdminError
from gateway.store import history, mailqueue
from gateway.store.database import Database, Row, as_datetime, utcnow

OUTBOX = "outbox"  # the object_name of a change to the outbox as a whole


@dataclasses.dataclass(frozen=True)
class MailMessage:
    """One message: recipients are the envelope's (Bcc included), headers the stored message's, decoded
    for display (encoded words read, folded lines joined); attempts_log: attempt_time, smtp_code,
    smtp_message, worker, oldest first."""

    id: int
    article_id: int | None
    state: str
    attempts: int
    due_time: dt.datetime
    sent_time: dt.datetime | None
    create_time: dt.datetime
    sender: str
    recipients: list[str]
    headers: list[tuple[str, str]]
    attempts_log: list[Row]


def _messages(count: int, state: str) -> str:
    return f"{count} {state} message{'' if count == 1 else 's'}"


def state_counts(db: Database) -> dict[str, int]:
    """Messages per state, every state named (0 when there is none)."""
    with db.transaction(write=False) as tx:
        found = mailqueue.counts(tx)
    return {state: found.get(state, 0) for state in (mailqueue.QUEUED, mailqueue.SENT, mailqueue.FAILED)}


def list_messages(
    db: Database, state: str | None = None, article_id: int | None = None, limit: int | None = None
) -> list[Row]:
    """Oldest first; with a limit, the newest `limit` messages (still oldest first)."""
    if limit is not None and limit < 1:
        raise AdminError(f"a listing holds at least one message, not {limit}")
    with db.transaction(write=False) as tx:
        return mailqueue.listing(tx, state, article_id, limit)


def message(db: Database, mail_id: int) -> MailMessage:
    with db.transaction(write=False) as tx:
        row = mailqueue.message(tx, mail_id)
        if row is None:
            raise AdminError(f"there is no message {mail_id} in the outbox")
        attempts = mailqueue.attempts(tx, mail_id)
    headers = BytesHeaderParser(policy=policy.default).parsebytes(bytes(row["raw_message"]))
    return MailMessage(
        id=row["id"],
        article_id=row["article_id"],
        state=row["state"],
        attempts=row["attempts"],
        due_time=as_datetime(row["due_time"]),
        sent_time=as_datetime(row["sent_time"]),
        create_time=as_datetime(row["create_time"]),
        sender=row["sender"],
        recipients=row["recipient"].splitlines(),
        headers=[(name, str(value)) for name, value in headers.items()],
        attempts_log=[{**attempt, "attempt_time": as_datetime(attempt["attempt_time"])} for attempt in attempts],
    )


def retry(db: Database, mail_ids: Sequence[int] = (), *, actor: str) -> int:
    """Failed or deferred messages become due now with a fresh attempt count; none given: every failed one."""
    with db.transaction() as tx:
        if not mail_ids:
            count = mailqueue.retry(tx, None, utcnow())
            if count:
                history.record(tx, history.MAIL, None, OUTBOX, actor, "retry", _messages(count, mailqueue.FAILED))
            return count
        found = mailqueue.states(tx, mail_ids)
        for mail_id in mail_ids:
            if mail_id not in found:
                raise AdminError(f"there is no message {mail_id} in the outbox")
            if found[mail_id] == mailqueue.SENT:
                raise AdminError(f"message {mail_id} was sent already")
        unique = list(dict.fromkeys(mail_ids))
        for mail_id in unique:
            history.record(
                tx, history.MAIL, None, str(mail_id), actor, "retry", f"message {mail_id}, was {found[mail_id]}"
            )
        return mailqueue.retry(tx, unique, utcnow())


def purge(db: Database, state: str = mailqueue.SENT, older_than_days: int = 0, *, actor: str) -> int:
    """Delete finished messages (never queued ones) with their attempts."""
    if state not in (mailqueue.SENT, mailqueue.FAILED):
        raise AdminError(f"only sent or failed messages can be purged, not {state!r}")
    if older_than_days > 36500:  # a century: further back than any message, and than timedelta reaches
        raise AdminError(f"older than {older_than_days} days is further back than 36500 days (a century)")
    if older_than_days < 0:
        raise AdminError(f"older than {older_than_days} days: the number of days must not be negative")
    with db.transaction() as tx:
        count = mailqueue.purge(tx, state, utcnow() - dt.timedelta(days=older_than_days))
        if count:
            older = f", finished more than {older_than_days} days ago" if older_than_days else ""
            history.record(tx, history.MAIL, None, OUTBOX, actor, "purge", f"{_messages(count, state)}{older}")
        return count


def mail_changes(db: Database, limit: int = 20) -> list[Row]:
    """The outbox's changes, newest first: object_name (a message id or "outbox"), actor, action, detail,
    create_time."""
    with db.transaction(write=False) as tx:
        rows = history.changes(tx, history.MAIL, None, limit)
    return [{**row, "create_time": as_datetime(row["create_time"])} for row in rows]
