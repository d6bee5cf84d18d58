"""Session rows (keyed by the SHA-256 of the session id) and failed-login counters."""

from __future__ import annotations

import datetime as dt

from gateway.store.database import Row, Transaction, utcnow


def add(
    tx: Transaction, key: str, user_type: str, login: str, user_id: int | None, remote_addr: str, user_agent: str
) -> None:
    now = utcnow()
    tx.execute(
        "INSERT INTO sessions (id, user_type, user_login, user_id, remote_addr, user_agent, create_time,"
        " last_request) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [key, user_type, login, user_id, remote_addr[:50], user_agent[:250], now, now],
    )


def get(tx: Transaction, key: str) -> Row | None:
    return tx.one(
        "SELECT id, user_type, user_login, user_id, remote_addr, user_agent, create_time, last_request"
        " FROM sessions WHERE id = ?",
        [key],
    )


def with_user(tx: Transaction, key: str) -> Row | None:
    """A session and the validity of its agent or customer user, in one query: every request asks."""
    return tx.one(
        "SELECT s.user_type, s.user_login, s.create_time, s.last_request, u.id AS agent_id,"
        " u.valid_id AS agent_valid, c.customer_id, c.valid_id AS customer_valid FROM sessions s"
        " LEFT JOIN users u ON s.user_type = 'User' AND u.login = s.user_login"
        " LEFT JOIN customer_user c ON s.user_type = 'Customer' AND c.login = s.user_login WHERE s.id = ?",
        [key],
    )


def touch(tx: Transaction, key: str) -> None:
    tx.execute("UPDATE sessions SET last_request = ? WHERE id = ?", [utcnow(), key])


def delete(tx: Transaction, key: str) -> bool:
    tx.execute("DELETE FROM sessions WHERE id = ?", [key])
    return tx.rowcount > 0


def delete_expired(tx: Transaction, idle_before: dt.datetime, created_before: dt.datetime) -> int:
    tx.execute("DELETE FROM sessions WHERE last_request < ? OR create_time < ?", [idle_before, created_before])
    return tx.rowcount


def failures(tx: Transaction, keys: list[str], since: dt.datetime) -> dict[str, int]:
    """The failures counted under each key in a window that started at `since` or later."""
    marks = ", ".join("?" * len(keys))
    rows = tx.all(
        f"SELECT failure_key, failures FROM login_failure WHERE failure_key IN ({marks}) AND window_start >= ?",
        [*keys, since],
    )
    return {row["failure_key"]: int(row["failures"]) for row in rows}


def add_failure(tx: Transaction, key: str, since: dt.datetime) -> int:
    """Count one failure in the current window (a window older than `since` starts over); the count now."""
    now = utcnow()
    return int(
        tx.value(
            "INSERT INTO login_failure (failure_key, failures, window_start) VALUES (?, 1, ?)"
            " ON CONFLICT (failure_key) DO UPDATE SET"
            " failures = CASE WHEN login_failure.window_start >= ? THEN login_failure.failures + 1 ELSE 1 END,"
            " window_start = CASE WHEN login_failure.window_start >= ? THEN login_failure.window_start ELSE ? END"
            " RETURNING failures",
            [key, now, since, since, now],
        )
    )


def purge_failures(tx: Transaction, before: dt.datetime, limit: int) -> int:
    """Delete at most `limit` counters whose window started before `before` (they count nothing)."""
    tx.execute(
        "DELETE FROM login_failure WHERE failure_key IN"
        " (SELECT failure_key FROM login_failure WHERE window_start < ? LIMIT ?)",
        [before, limit],
    )
    return tx.rowcount


def failures_from(tx: Transaction, since: dt.datetime, at_least: int) -> list[Row]:
    """The counters of windows that started at `since` or later with `at_least` failures (by window_start's index)."""
    return tx.all(
        "SELECT failure_key, failures, window_start FROM login_failure WHERE window_start >= ? AND failures >= ?"
        " ORDER BY window_start DESC",
        [since, at_least],
    )


def clear_failures(tx: Transaction, key: str) -> None:
    tx.execute("DELETE FROM login_failure WHERE failure_key = ?", [key])
