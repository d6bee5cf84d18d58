"""The communication log: one row per request a web service answered.

The debugger's filters each have an index of migration 0007 (webservice_id first): an operation, an HTTP
status, a remote address and "ok" (error_code IS NULL) the index on that column with id last, so a page
of the newest entries is read in index order, not sorted from every match. A time range with an end
takes ix_communication_log_time and sorts what it holds (a narrow range is what one looks for); one
open towards now is read newest first by id. "An error" is an HTTP status of 400 or more, or an Error.ErrorCode answered
with HTTP 200: the partial index ix_communication_log_failed holds exactly those, so the errors are
read newest first however rare they are (the condition is written as the index's, _IS_ERROR, for
SQLite to see that it applies).
"""

from __future__ import annotations

import datetime as dt

from gateway.store.database import Row, Transaction, Value

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


ENTRY = "id, communication_id, remote_ip, operation, http_status, error_code, duration_ms, create_time"
_IS_ERROR = "(http_status >= 400 OR error_code IS NOT NULL)"


def page(
    tx: Transaction,
    webservice_id: int,
    since: dt.datetime | None,
    until: dt.datetime | None,
    operation: str,
    status: str,
    remote: str,
    before: int | None,
    limit: int,
) -> list[Row]:
    """Up to `limit` entries, newest first, without their bodies; the filters that are set combine.

    status: "" any, "ok", "error", or an HTTP status ("404"); since and until are both inclusive.
    """
    where = ["webservice_id = ?"]
    params: list[Value] = [webservice_id]
    # a range open towards now ("since yesterday") is read newest first by id, stopping at a page: on SQLite,
    # which keeps no statistics, the unary + keeps it from reading the whole range through the time index
    # and sorting it; a range with an end takes that index (the entries after its end are not read)
    since_term = "+create_time >= ?" if until is None and tx.dialect == "sqlite" else "create_time >= ?"
    for condition, value in (
        (since_term, since),
        ("create_time <= ?", until),
        ("operation = ?", operation or None),
        ("remote_ip = ?", remote or None),
        ("id < ?", before),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    if status == "error":
        where.append(_IS_ERROR)
    elif status == "ok":
        # read newest first from ix_communication_log_error (error_code IS NULL): the unary + keeps SQLite, which
        # has no statistics, from taking the status range instead and sorting nearly every entry
        where.append("error_code IS NULL AND +http_status < 400")
    elif status:
        where.append("http_status = ?")
        params.append(int(status))
    return tx.all(
        f"SELECT {ENTRY} FROM communication_log WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        [*params, limit],
    )


def operations(tx: Transaction, webservice_id: int) -> list[str]:
    """The operations a web service's log names, in order: one index probe per operation (a loose index scan),
    not a pass over every entry."""
    rows = tx.all(
        "WITH RECURSIVE found (operation) AS ("
        " SELECT MIN(operation) FROM communication_log WHERE webservice_id = ? AND operation > ''"
        " UNION ALL SELECT (SELECT MIN(operation) FROM communication_log WHERE webservice_id = ?"
        " AND operation > found.operation) FROM found WHERE found.operation IS NOT NULL"
        ") SELECT operation FROM found WHERE operation IS NOT NULL",
        [webservice_id, webservice_id],
    )
    return [row["operation"] for row in rows]


def entry(tx: Transaction, webservice_id: int, entry_id: int) -> Row | None:
    return tx.one(
        f"SELECT {ENTRY}, request, response FROM communication_log WHERE id = ? AND webservice_id = ?",
        [entry_id, webservice_id],
    )


def per_minute(tx: Transaction, webservice_id: int, start: dt.datetime, end: dt.datetime) -> list[Row]:
    """minute, requests, errors for each minute in [start, end) that has entries; minute as the backend gives it
    (SQLite: text)."""
    minute = (
        "date_trunc('minute', create_time)"
        if tx.dialect == "postgresql"
        else "strftime('%Y-%m-%d %H:%M:00', create_time)"
    )
    return tx.all(
        f"SELECT {minute} AS minute, COUNT(*) AS requests, SUM(CASE WHEN {_IS_ERROR} THEN 1 ELSE 0 END) AS errors"
        " FROM communication_log WHERE webservice_id = ? AND create_time >= ? AND create_time < ?"
        " GROUP BY minute",
        [webservice_id, start, end],
    )


def purge(tx: Transaction, before: dt.datetime) -> int:
    tx.execute("DELETE FROM communication_log WHERE create_time < ?", [before])
    return tx.rowcount


def delete_webservice(tx: Transaction, webservice_id: int) -> int:
    tx.execute("DELETE FROM communication_log WHERE webservice_id = ?", [webservice_id])
    return tx.rowcount
