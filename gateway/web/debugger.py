"""The debugger: a web service's communication log, filtered and paged, one exchange in full, and a
chart of requests and errors per minute drawn on the server as SVG (no script)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from werkzeug import Response
from werkzeug.exceptions import NotFound

from gateway.admin import debugger as admin
from gateway.errors import AdminError
from gateway.web.page import BIGGEST_ID, Page
from gateway.web.webservices import found

CHART_HOURS = 3
# a time given to the minute (as datetime-local fields send it), with or without an offset
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TO_THE_MINUTE = re.compile(r".*[T ]\d{2}:\d{2}(?:Z|[+-]\d{2}:?\d{2})?")
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
    """One bar per minute, scaled to the busiest one; the errors drawn over the requests they are part of."""
    peak = max((p.requests for p in points), default=0)
    step = _WIDTH / max(len(points), 1)
    scale = (_HEIGHT - 10) / peak if peak else 0.0
    width = round(max(step - 0.5, 0.5), 2)
    requests: list[Bar] = []
    errors: list[Bar] = []
    ticks: list[tuple[float, str]] = []
    for i, point in enumerate(points):
        x = round(i * step, 2)
        label = f"{point.minute:%H:%M}: {point.requests} requests, {point.errors} errors"
        for count, bars in ((point.requests, requests), (point.errors, errors)):
            if count:
                height = round(count * scale, 2)
                bars.append(Bar(x, round(_HEIGHT - height, 2), width, height, label))
        if point.minute.minute == 0 and x < _WIDTH - 40:  # a label needs room to the right of its line
            ticks.append((x, f"{point.minute:%H:%M}"))
    return Chart(requests, errors, peak, ticks)


def _time(text: str, end: bool = False) -> dt.datetime | None:
    """A datetime-local field's value, or None when empty. Without an offset it is UTC, the log's time (the
    debugger converts one given). A field to the minute, as browsers send it, ends with that minute's last
    second when it is the end of the range (both ends are inclusive)."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise AdminError(f"{text!r} is not a time (YYYY-MM-DD HH:MM)") from None
    if end and _TO_THE_MINUTE.fullmatch(text):
        return moment.replace(second=59)  # not + 59 s: the last minute of the year 9999 has one too
    if end and _DAY.fullmatch(text):
        return moment.replace(hour=23, minute=59, second=59)
    return moment


def log(page: Page, name: str) -> Response:
    ws = found(page, name)
    args = page.request.args
    form = {key: args.get(key, "") for key in ("since", "until", "operation", "status", "remote")}
    error = ""
    try:
        log_filter = admin.LogFilter(
            since=_time(form["since"]),
            until=_time(form["until"], end=True),
            operation=form["operation"],
            status=form["status"],
            remote=form["remote"].strip(),
        )
        before = args.get("before", type=int)
        if before is not None and not 0 < before <= BIGGEST_ID:
            raise AdminError(f"'before' must be an entry number, not {before}")
        result = admin.log_page(page.runtime.db, name, log_filter, before)
    except AdminError as refused:  # the filter is refused: nothing listed rather than what it did not ask for
        error, result = str(refused), admin.LogPage([], None)
    db = page.runtime.db
    return page.render(
        "log.html",
        status=400 if error else 200,
        ws=ws,
        entries=result.entries,
        older=result.older,
        paged="before" in args,
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
