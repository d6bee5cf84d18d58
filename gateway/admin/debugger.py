"""The communication log as Znuny's GenericInterface debugger shows it: filtered, paged, one entry pretty-printed,
requests and errors per minute.

An error is an HTTP status of 400 or more, or an Error.ErrorCode answered with HTTP 200 (as Znuny
answers business errors). What is shown is what was stored: redacted when it was written, never
un-redacted here; a body that does not parse (not JSON or XML, or cut at the log's size limit) is
shown as stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

from lxml import etree

from gateway import safexml
from gateway.errors import AdminError
from gateway.store import commlog, webservices
from gateway.store.database import Database, Row, Transaction, as_datetime, utcnow

_STATUS = re.compile(r"[1-5][0-9][0-9]")
MAX_PAGE = 500


@dataclasses.dataclass(frozen=True)
class LogFilter:
    """What the debugger shows; each field set narrows it. since and until are inclusive (UTC, as stored);
    status is "" (any), "ok", "error" or an HTTP status ("404"); remote is an exact address."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    operation: str = ""
    status: str = ""
    remote: str = ""


@dataclasses.dataclass(frozen=True)
class LogPage:
    """entries: id, communication_id, remote_ip, operation, http_status, error_code, duration_ms, create_time;
    older: the `before` of the next (older) page, None when there is none."""

    entries: list[Row]
    older: int | None


@dataclasses.dataclass(frozen=True)
class LogEntry:
    """One exchange; request is "<METHOD> <path>[?query]" and its body, both bodies pretty-printed."""

    id: int
    communication_id: str
    remote_ip: str
    operation: str
    http_status: int
    error_code: str | None
    duration_ms: int
    create_time: dt.datetime
    request: str
    response: str


@dataclasses.dataclass(frozen=True)
class ChartPoint:
    minute: dt.datetime
    requests: int
    errors: int


def _stored(moment: dt.datetime | None) -> dt.datetime | None:
    """A time as the log stores it, naive UTC: an aware time (a browser's local one) is converted."""
    if moment is None or moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise AdminError(f"{moment.isoformat()} is outside the years 1 to 9999 in UTC") from None


def _webservice_id(tx: Transaction, name: str) -> int:
    row = webservices.by_name(tx, name)
    if row is None:
        raise AdminError(f"there is no web service {name!r}")
    return int(row["id"])


def log_page(db: Database, name: str, filter: LogFilter, before: int | None = None, limit: int = 50) -> LogPage:
    """Newest first; keyset paging (`before` an id), so a page stays right while new entries arrive."""
    if filter.status not in ("", "ok", "error") and not _STATUS.fullmatch(filter.status):
        raise AdminError(f"status {filter.status!r} is none of ok, error or an HTTP status such as 404")
    if not 1 <= limit <= MAX_PAGE:
        raise AdminError(f"a page holds 1 to {MAX_PAGE} entries, not {limit}")
    with db.transaction(write=False) as tx:
        rows = commlog.page(
            tx,
            _webservice_id(tx, name),
            _stored(filter.since),
            _stored(filter.until),
            filter.operation,
            filter.status,
            filter.remote,
            before,
            limit + 1,
        )
    entries = [{**row, "create_time": as_datetime(row["create_time"])} for row in rows[:limit]]
    return LogPage(entries, entries[-1]["id"] if len(rows) > limit else None)


def log_operations(db: Database, name: str) -> list[str]:
    """The operations the web service's log names (those it no longer has too), for the filter's choice."""
    with db.transaction(write=False) as tx:
        return commlog.operations(tx, _webservice_id(tx, name))


def log_entry(db: Database, name: str, entry_id: int) -> LogEntry:
    with db.transaction(write=False) as tx:
        row = commlog.entry(tx, _webservice_id(tx, name), entry_id)
    if row is None:
        raise AdminError(f"the log of web service {name!r} has no entry {entry_id}")
    line, blank, body = (row["request"] or "").partition("\n\n")
    return LogEntry(
        id=row["id"],
        communication_id=row["communication_id"],
        remote_ip=row["remote_ip"] or "",
        operation=row["operation"] or "",
        http_status=row["http_status"],
        error_code=row["error_code"],
        duration_ms=row["duration_ms"],
        create_time=as_datetime(row["create_time"]),
        request=f"{line}{blank}{pretty(body)}",
        response=pretty(row["response"] or ""),
    )


def pretty(text: str) -> str:
    """JSON indented (key order kept), XML indented (read by the transport's parser: nothing fetched or
    expanded); anything else, or a document that does not parse, as it is."""
    start = text.lstrip()[:1]
    try:
        if start in ("{", "["):
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        if start == "<":
            root = etree.fromstring(text.encode("utf-8"), safexml.parser())
            etree.indent(root, space="  ")
            return etree.tostring(root, encoding="unicode")
    except (ValueError, RecursionError, etree.XMLSyntaxError):
        pass
    return text


def log_chart(db: Database, name: str, hours: int = 3, now: dt.datetime | None = None) -> list[ChartPoint]:
    """One point per minute of the `hours` up to `now` (its minute the last), minutes without requests zero."""
    if not 1 <= hours <= 48:
        raise AdminError(f"the chart covers 1 to 48 hours, not {hours}")
    last = (_stored(now) or utcnow()).replace(second=0, microsecond=0)
    minutes = [last - dt.timedelta(minutes=back) for back in range(hours * 60 - 1, -1, -1)]
    with db.transaction(write=False) as tx:
        rows = commlog.per_minute(tx, _webservice_id(tx, name), minutes[0], last + dt.timedelta(minutes=1))
    counts = {as_datetime(row["minute"]): (int(row["requests"]), int(row["errors"])) for row in rows}
    return [ChartPoint(minute, *counts.get(minute, (0, 0))) for minute in minutes]
