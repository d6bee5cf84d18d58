"""The debugger: a web service's communication log, filtered and paged, one exchange in full, and a
chart of requests and errors per minute drawn on the server as SVG (no script)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from werkzeug import Response
from werkzeug.exceptions import NotFound

from gateway.admin import debugger as admin
from gateway.errors import AdminError
from gateway.web.page import Page
from gateway.web.webservices import found

CHART_HOURS = 3
_WIDTH, _HEIGHT = 720, 120  # the chart's drawing area, in SVG units


@dataclasses.dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclasses.dataclass(frozen=True)
class Chart:
    requests: list[Bar]
    errors: list[Bar]
    peak: int
    ticks: list[tuple[float, str]]  # x and the hour it marks
    width: int = _WIDTH
    height: int = _HEIGHT


def chart(points: list[admin.ChartPoint]) -> Chart:
    peak = max((p.requests for p in points), default=0)
    step = _WIDTH / max(len(points), 1)
    scale = (_HEIGHT - 10) / peak if peak else 0.0
    requests, errors, ticks = [], [], []
    for i, point in enumerate(points):
        x = i * step
        label = f"{point.minute:%H:%M}: {point.requests} requests, {point.errors} errors"
        if point.requests:
            h = point.requests * scale
            requests.append(Bar(round(x, 2), round(_HEIGHT - h, 2), round(max(step - 0.5, 0.5), 2), round(h, 2), label))
        if point.errors:
            h = point.errors * scale
            errors.append(Bar(round(x, 2), round(_HEIGHT - h, 2), round(max(step - 0.5, 0.5), 2), round(h, 2), label))
        if point.minute.minute == 0:
            ticks.append((round(x, 2), f"{point.minute:%H:%M}"))
    return Chart(requests, errors, peak, ticks)


def _time(text: str) -> dt.datetime | None:
    """A datetime-local field's value (read as UTC, the log's time), or None when empty."""
    if not text.strip():
        return None
    try:
        return dt.datetime.fromisoformat(text.strip()).replace(tzinfo=None)
    except ValueError:
        raise AdminError(f"{text!r} is not a time (YYYY-MM-DD HH:MM)") from None


def log(page: Page, name: str) -> Response:
    ws = found(page, name)
    args = page.request.args
    form = {key: args.get(key, "") for key in ("since", "until", "operation", "status", "remote")}
    error = ""
    try:
        log_filter = admin.LogFilter(
            since=_time(form["since"]),
            until=_time(form["until"]),
            operation=form["operation"],
            status=form["status"],
            remote=form["remote"].strip(),
        )
    except AdminError as refused:
        error, log_filter = str(refused), admin.LogFilter(since=None, until=None)
    before = args.get("before", type=int)
    db = page.runtime.db
    try:
        result = admin.log_page(db, name, log_filter, before)
    except AdminError as refused:
        error, result = str(refused), admin.log_page(db, name, admin.LogFilter(since=None, until=None), before)
    return page.render(
        "log.html",
        ws=ws,
        entries=result.entries,
        older=result.older,
        paged=before is not None,
        form=form,
        filters={k: v for k, v in form.items() if v},
        operations=admin.log_operations(db, name),
        chart=chart(admin.log_chart(db, name, CHART_HOURS)),
        hours=CHART_HOURS,
        error=error,
    )


def entry(page: Page, name: str, entry: int) -> Response:
    ws = found(page, name)
    try:
        exchange = admin.log_entry(page.runtime.db, name, entry)
    except AdminError:
        raise NotFound(f"{name}'s log has no entry {entry}.") from None
    return page.render("log_entry.html", ws=ws, entry=exchange)
