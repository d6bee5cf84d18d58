"""The outbox tables: mail_queue (one row per message, its stored bytes and state) and mail_attempt.

Recipients are one text column, newline-separated: the envelope, Bcc included. A finished message's
due_time is the time it finished, so ix_mail_queue_claim (state, due_time, id) serves the claim,
the listing by state and the purge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from gateway.store.database import Row, Transaction, Value

QUEUED, SENT, FAILED = "queued", "sent", "failed"
_MESSAGE = "id, sender, recipient, raw_message, attempts"


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def add(tx: Transaction, article_id: int, sender: str, recipient: str, raw: bytes, now: dt.datetime) -> int:
    return tx.insert(
        "INSERT INTO mail_queue (article_id, sender, recipient, raw_message, state, attempts, due_time, create_time)"
        " VALUES (?, ?, ?, ?, 'queued', 0, ?, ?)",
        [article_id, sender, recipient, raw, now, now],
    )


def claim(
    tx: Transaction, now: dt.datetime, due_by: dt.datetime, lease_until: dt.datetime, token: str, limit: int
) -> list[Row]:
    """Lease up to `limit` due messages nobody holds; SKIP LOCKED lets concurrent claims pass each other
    on PostgreSQL, SQLite's write lock (BEGIN IMMEDIATE) serialises them."""
    skip = " FOR UPDATE SKIP LOCKED" if tx.dialect == "postgresql" else ""
    rows = tx.all(
        "UPDATE mail_queue SET locked_until = ?, locked_by = ? WHERE id IN ("
        " SELECT id FROM mail_queue WHERE state = 'queued' AND due_time <= ?"
        " AND (locked_until IS NULL OR locked_until <= ?) ORDER BY due_time, id LIMIT ?" + skip + ")"
        f" RETURNING {_MESSAGE}",
        [lease_until, token, due_by, now, limit],
    )
    return sorted(rows, key=lambda row: row["id"])


def renew(tx: Transaction, mail_id: int, token: str, lease_until: dt.datetime) -> bool:
    """Extend the lease before sending; False when it expired and another worker holds it now."""
    tx.execute(
        "UPDATE mail_queue SET locked_until = ? WHERE id = ? AND locked_by = ? AND state = 'queued'",
        [lease_until, mail_id, token],
    )
    return tx.rowcount == 1


def release(tx: Transaction, mail_ids: Sequence[int], token: str) -> None:
    if mail_ids:
        tx.execute(
            f"UPDATE mail_queue SET locked_until = NULL, locked_by = NULL WHERE id IN ({_marks(mail_ids)})"
            " AND locked_by = ?",
            [*mail_ids, token],
        )


def record(
    tx: Transaction,
    mail_id: int,
    token: str,
    worker: str,
    now: dt.datetime,
    code: int | None,
    message: str,
    state: str,
    due_time: dt.datetime,
    recipient: str,
) -> None:
    """One attempt, and its outcome on the message unless another worker's claim has replaced ours."""
    tx.execute(
        "INSERT INTO mail_attempt (mail_id, attempt_time, smtp_code, smtp_message, worker) VALUES (?, ?, ?, ?, ?)",
        [mail_id, now, code, message, worker[:200]],
    )
    tx.execute(
        "UPDATE mail_queue SET state = ?, attempts = attempts + 1, due_time = ?, sent_time = ?, recipient = ?,"
        " last_smtp_code = ?, last_smtp_message = ?, locked_until = NULL, locked_by = NULL"
        " WHERE id = ? AND locked_by = ?",
        [state, due_time, now if state == SENT else None, recipient, code, message, mail_id, token],
    )


def delivery(tx: Transaction, article_ids: Sequence[int]) -> list[Row]:
    """The messages of many articles at once, oldest first, each with the time of its last attempt."""
    if not article_ids:
        return []
    return tx.all(
        "SELECT q.article_id, q.state, q.attempts, q.last_smtp_code, q.last_smtp_message, q.create_time,"
        " (SELECT MAX(a.attempt_time) FROM mail_attempt a WHERE a.mail_id = q.id) AS last_attempt"
        f" FROM mail_queue q WHERE q.article_id IN ({_marks(article_ids)}) ORDER BY q.id",
        list(article_ids),
    )


def listing(tx: Transaction, state: str | None, article_id: int | None, limit: int | None = None) -> list[Row]:
    """Oldest first; with a limit, the newest `limit` messages."""
    where: list[str] = []
    params: list[Value] = []
    if state:
        where.append("state = ?")
        params.append(state)
    if article_id is not None:
        where.append("article_id = ?")
        params.append(article_id)
    sql = (
        "SELECT id, article_id, state, attempts, due_time, sent_time, recipient, last_smtp_code, last_smtp_message"
        " FROM mail_queue" + (" WHERE " + " AND ".join(where) if where else "")
    )
    if limit is None:
        return tx.all(sql + " ORDER BY id", params)
    return tx.all(f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?) newest ORDER BY id", [*params, limit])


def totals(tx: Transaction) -> dict[str, tuple[int, int]]:
    """Messages and their delivery attempts per state (those there are)."""
    return {
        row["state"]: (int(row["count"]), int(row["attempts"] or 0))
        for row in tx.all("SELECT state, COUNT(*) AS count, SUM(attempts) AS attempts FROM mail_queue GROUP BY state")
    }


def counts(tx: Transaction) -> dict[str, int]:
    """Messages per state (those there are), read from ix_mail_queue_claim."""
    return {
        row["state"]: int(row["count"])
        for row in tx.all("SELECT state, COUNT(*) AS count FROM mail_queue GROUP BY state")
    }


def message(tx: Transaction, mail_id: int) -> Row | None:
    return tx.one(
        "SELECT id, article_id, state, attempts, due_time, sent_time, create_time, sender, recipient, raw_message"
        " FROM mail_queue WHERE id = ?",
        [mail_id],
    )


def attempts(tx: Transaction, mail_id: int) -> list[Row]:
    """Oldest first."""
    return tx.all(
        "SELECT attempt_time, smtp_code, smtp_message, worker FROM mail_attempt WHERE mail_id = ? ORDER BY id",
        [mail_id],
    )


def states(tx: Transaction, mail_ids: Sequence[int]) -> dict[int, str]:
    rows = tx.all(f"SELECT id, state FROM mail_queue WHERE id IN ({_marks(mail_ids)})", list(mail_ids))
    return {row["id"]: row["state"] for row in rows}


def retry(tx: Transaction, mail_ids: Sequence[int] | None, now: dt.datetime) -> int:
    """Make messages due now with a fresh attempt count: the given ones, else every failed one."""
    sql = "UPDATE mail_queue SET state = 'queued', attempts = 0, due_time = ? WHERE "
    if mail_ids is None:
        tx.execute(sql + "state = 'failed'", [now])
    else:
        tx.execute(sql + f"id IN ({_marks(mail_ids)}) AND state <> 'sent'", [now, *mail_ids])
    return tx.rowcount


def purge(tx: Transaction, state: str, finished_by: dt.datetime) -> int:
    tx.execute("DELETE FROM mail_queue WHERE state = ? AND due_time <= ?", [state, finished_by])
    return tx.rowcount
