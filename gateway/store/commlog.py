"""The communication log: one row per request a web service answered."""

from __future__ import annotations

import datetime as dt

from gateway.store.database import Row, Transaction

# (webservice_id, communication_id, remote_ip, operation, http_status, error_code, duration_ms, request,
# response, create_time)
Record = tuple[int, str, str, str, int, str | None, int, str, str, dt.datetime]


def add_many(tx: Transaction, rows: list[Record]) -> None:
    """Rows of (webservice_id, communication_id, remote_ip, operation, http_status, error_code, duration_ms,
    request, response, create_time)."""
    tx.executemany(
        "INSERT INTO communication_log (webservice_id, communication_id, remote_ip, operation, http_status,"
        " error_code, duration_ms, request, response, create_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r[0], r[1], r[2][:50], r[3][:200], r[4], None if r[5] is None else r[5][:100], *r[6:]) for r in rows],
    )


def latest(tx: Transaction, webservice_id: int, limit: int) -> list[Row]:
    return tx.all(
        "SELECT communication_id, remote_ip, operation, http_status, error_code, duration_ms, request, response,"
        " create_time FROM communication_log WHERE webservice_id = ? ORDER BY id DESC LIMIT ?",
        [webservice_id, limit],
    )


def purge(tx: Transaction, before: dt.datetime) -> int:
    tx.execute("DELETE FROM communication_log WHERE create_time < ?", [before])
    return tx.rowcount
