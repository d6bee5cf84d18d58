"""The admin pages' sessions, keyed like GI sessions by the SHA-256 of the cookie's value."""

from __future__ import annotations

import datetime as dt

from gateway.store.database import Row, Transaction, utcnow


def add(tx: Transaction, key: str, user_id: int, login: str, remote_addr: str, user_agent: str) -> None:
    now = utcnow()
    tx.execute(
        "INSERT INTO admin_session (id, user_id, user_login, remote_addr, user_agent, create_time, last_request)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [key, user_id, login, remote_addr[:50], user_agent[:250], now, now],
    )


def with_user(tx: Transaction, key: str) -> Row | None:
    """A session with its agent's current login and validity, in one query: every page asks."""
    return tx.one(
        "SELECT s.user_id, s.create_time, s.last_request, u.login, u.valid_id FROM admin_session s"
        " JOIN users u ON u.id = s.user_id WHERE s.id = ?",
        [key],
    )


def touch(tx: Transaction, key: str) -> None:
    tx.execute("UPDATE admin_session SET last_request = ? WHERE id = ?", [utcnow(), key])


def delete(tx: Transaction, key: str) -> None:
    tx.execute("DELETE FROM admin_session WHERE id = ?", [key])


def delete_user(tx: Transaction, login: str) -> None:
    tx.execute("DELETE FROM admin_session WHERE user_id = (SELECT id FROM users WHERE login = ?)", [login])


def delete_expired(tx: Transaction, idle_before: dt.datetime, created_before: dt.datetime) -> None:
    tx.execute("DELETE FROM admin_session WHERE last_request < ? OR create_time < ?", [idle_before, created_before])
