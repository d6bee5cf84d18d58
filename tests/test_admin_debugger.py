"""The debugger (gateway.admin.debugger): the communication log filtered, paged, one entry pretty-printed, a chart.

Entries are made by real requests through the app where what is logged matters (the error code, redaction),
and written through store.commlog.add_many where their time, status or address must be chosen.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random

import pytest

from gateway.admin import debugger
from gateway.admin.debugger import LogFilter
from gateway.errors import AdminError
from gateway.store import commlog, webservices
from tests.conftest import REST, ROOT, SOAP, TICKET_NS, keep_bodies, run_console

REST_NAME, SOAP_NAME = "GenericTicketConnectorREST", "GenericTicketConnectorSOAP"
T0 = dt.datetime(2026, 12, 2, 10, 0, 0)


def webservice_id(db, name: str) -> int:
    with db.transaction(write=False) as tx:
        return webservices.by_name(tx, name)["id"]


@dataclasses.dataclass(frozen=True)
class Made:
    """An entry written through add_many, as the filters see it."""

    label: str
    webservice: str = REST_NAME
    operation: str = "TicketGet"
    status: int = 200
    error_code: str | None = None
    remote: str = "10.0.0.1"
    time: dt.datetime = T0
    request: str = "GET /Ticket/1\n\n"
    response: str = "{}"

    @property
    def error(self) -> bool:
        return self.status >= 400 or self.error_code is not None


def write(db, *made: Made) -> None:
    """In the given order: ids rise with it."""
    ids = {name: webservice_id(db, name) for name in {m.webservice for m in made}}
    with db.transaction() as tx:
        commlog.add_many(
            tx,
            [
                (
                    ids[m.webservice],
                    m.label,
                    m.remote,
                    m.operation,
                    m.status,
                    m.error_code,
                    3,
                    m.request,
                    m.response,
                    m.time,
                )
                for m in made
            ],
        )


def labels(page: debugger.LogPage) -> list[str]:
    return [entry["communication_id"] for entry in page.entries]


def newest_first(made, keep) -> list[str]:
    return [m.label for m in reversed(made) if m.webservice == REST_NAME and keep(m)]


# -- the error code -------------------------------------------------------------------------------------


def test_an_operation_error_is_logged_with_its_error_code_and_a_success_without(client, gateway, db, database_url):
    ok = client.post(f"{REST}/Session", json=ROOT)
    assert "SessionID" in ok.json
    failed = client.get(f"{REST}/Ticket/987654", query_string=ROOT)
    assert failed.status_code == 200 and failed.json["Error"]["ErrorCode"].startswith("TicketGet.")
    soap = client.post(
        SOAP,
        content_type="text/xml",
        data=(
            f'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><TicketGet xmlns="{TICKET_NS}">'
            "<UserLogin>root@localhost</UserLogin><Password>root</Password><TicketID>987654</TicketID>"
            "</TicketGet></e:Body></e:Envelope>"
        ),
    )
    assert soap.status_code == 200 and b"TicketGet." in soap.data
    gateway.commlog.flush()

    error_code = failed.json["Error"]["ErrorCode"]
    entries = debugger.log_page(db, REST_NAME, LogFilter()).entries
    assert [(e["operation"], e["http_status"], e["error_code"]) for e in entries] == [
        ("TicketGet", 200, error_code),
        ("SessionCreate", 200, None),
    ]
    [soap_entry] = debugger.log_page(db, SOAP_NAME, LogFilter()).entries
    assert (soap_entry["http_status"], soap_entry["error_code"]) == (200, error_code)
    # an error answered with HTTP 200 counts as an error
    assert labels(debugger.log_page(db, REST_NAME, LogFilter(status="error"))) == [entries[0]["communication_id"]]
    assert labels(debugger.log_page(db, REST_NAME, LogFilter(status="ok"))) == [entries[1]["communication_id"]]

    shown = run_console("webservice", "log", "--name", REST_NAME, env={"GATEWAY_DATABASE_URL": database_url})
    lines = [line for line in shown.stdout.splitlines() if not line.startswith("  ")]
    assert f"  200 {error_code}  TicketGet  " in lines[0]
    assert "  200  SessionCreate  " in lines[1]


# -- filters and paging ---------------------------------------------------------------------------------

MIXED = [
    Made("a", operation="SessionCreate", remote="10.0.0.2", time=T0),
    Made("b", status=404, time=T0 + dt.timedelta(minutes=1)),
    Made("c", error_code="TicketGet.AccessDenied", time=T0 + dt.timedelta(minutes=2)),
    Made("other", webservice=SOAP_NAME, time=T0 + dt.timedelta(minutes=2)),
    Made("d", operation="TicketSearch", status=500, remote="10.0.0.2", time=T0 + dt.timedelta(minutes=3)),
    Made("e", operation="", status=404, remote="10.0.0.3", time=T0 + dt.timedelta(minutes=4)),
    Made("f", operation="TicketSearch", time=T0 + dt.timedelta(minutes=5)),
    Made("g", error_code="TicketGet.AccessDenied", remote="10.0.0.2", time=T0 + dt.timedelta(minutes=6)),
    Made("h", time=T0 + dt.timedelta(minutes=7)),
]

FILTERS = {
    "nothing": (LogFilter(), lambda m: True),
    "since": (LogFilter(since=T0 + dt.timedelta(minutes=2)), lambda m: m.time >= T0 + dt.timedelta(minutes=2)),
    "until": (LogFilter(until=T0 + dt.timedelta(minutes=3)), lambda m: m.time <= T0 + dt.timedelta(minutes=3)),
    "operation": (LogFilter(operation="TicketSearch"), lambda m: m.operation == "TicketSearch"),
    "ok": (LogFilter(status="ok"), lambda m: not m.error),
    "error": (LogFilter(status="error"), lambda m: m.error),
    "status": (LogFilter(status="404"), lambda m: m.status == 404),
    "remote": (LogFilter(remote="10.0.0.2"), lambda m: m.remote == "10.0.0.2"),
    "range and error": (
        LogFilter(since=T0 + dt.timedelta(minutes=1), until=T0 + dt.timedelta(minutes=4), status="error"),
        lambda m: T0 + dt.timedelta(minutes=1) <= m.time <= T0 + dt.timedelta(minutes=4) and m.error,
    ),
    "operation, remote and ok": (
        LogFilter(operation="TicketGet", remote="10.0.0.1", status="ok"),
        lambda m: m.operation == "TicketGet" and m.remote == "10.0.0.1" and not m.error,
    ),
    "remote and error": (LogFilter(remote="10.0.0.2", status="error"), lambda m: m.remote == "10.0.0.2" and m.error),
    "aware since": (
        LogFilter(
            since=(T0 + dt.timedelta(minutes=5)).replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=2)))
        ),
        lambda m: m.time >= T0 + dt.timedelta(minutes=5),
    ),
}


def test_each_filter_alone_and_combined(db):
    write(db, *MIXED)
    for name, (log_filter, keep) in FILTERS.items():
        expected = newest_first(MIXED, keep)
        # every filter finds something, and (but "nothing") leaves something out
        assert expected and (name == "nothing" or len(expected) < len(newest_first(MIXED, bool))), name
        assert labels(debugger.log_page(db, REST_NAME, log_filter)) == expected, name
    page = debugger.log_page(db, REST_NAME, LogFilter(status="error"))
    assert set(page.entries[0]) == {
        "id",
        "communication_id",
        "remote_ip",
        "operation",
        "http_status",
        "error_code",
        "duration_ms",
        "create_time",
    }
    assert page.entries[0]["create_time"] == T0 + dt.timedelta(minutes=6) and page.older is None
    assert debugger.log_operations(db, REST_NAME) == ["SessionCreate", "TicketGet", "TicketSearch"]
    assert debugger.log_operations(db, "TimeAccountingREST") == []


def test_a_bad_filter_or_an_unknown_web_service_is_refused(db):
    for status in ("fine", "4040", "40", "600"):
        with pytest.raises(AdminError, match="status"):
            debugger.log_page(db, REST_NAME, LogFilter(status=status))
    with pytest.raises(AdminError, match="1 to 500"):
        debugger.log_page(db, REST_NAME, LogFilter(), limit=0)
    with pytest.raises(AdminError, match="no web service 'Nope'"):
        debugger.log_page(db, "Nope", LogFilter())


def test_paging_120_entries_shows_each_once_and_new_entries_do_not_shift_the_pages(db):
    randomly = random.Random(12)
    made = [
        Made(f"e{i:03}", status=randomly.choice([200, 200, 404]), time=T0 + dt.timedelta(seconds=i)) for i in range(120)
    ]
    write(db, *made, Made("soap", webservice=SOAP_NAME))
    seen, before, sizes = [], None, []
    while True:
        page = debugger.log_page(db, REST_NAME, LogFilter(), before=before, limit=50)
        seen += labels(page)
        sizes.append(len(page.entries))
        if before is None:
            write(db, Made("newer", time=T0 + dt.timedelta(hours=1)))  # arrives while the admin reads page 1
        if page.older is None:
            break
        before = page.older
    assert sizes == [50, 50, 20]
    assert seen == [m.label for m in reversed(made)]
    # a filter pages the same way
    errors, before = [], None
    while True:
        page = debugger.log_page(db, REST_NAME, LogFilter(status="404"), before=before, limit=7)
        errors += labels(page)
        if page.older is None:
            break
        before = page.older
    assert errors == [m.label for m in reversed(made) if m.status == 404]
    # exactly a page's worth: no empty page after it
    assert debugger.log_page(db, REST_NAME, LogFilter(until=T0 + dt.timedelta(seconds=49)), limit=50).older is None


# -- one entry ------------------------------------------------------------------------------------------


def test_an_entry_shows_json_indented_in_its_order_and_a_secret_redacted(client, gateway, db, settings):
    keep_bodies(gateway, db, settings, REST_NAME)
    client.post(f"{REST}/Session?Lang=de", json={"UserLogin": "root@localhost", "Password": "root"})
    gateway.commlog.flush()
    [row] = debugger.log_page(db, REST_NAME, LogFilter()).entries
    entry = debugger.log_entry(db, REST_NAME, row["id"])
    assert (entry.id, entry.communication_id, entry.operation, entry.http_status) == (
        row["id"],
        row["communication_id"],
        "SessionCreate",
        200,
    )
    # the password is hidden wherever it is repeated: in the login too
    assert entry.request == (
        "POST /Session?Lang=de\nContent-Type: application/json\n\n"
        '{\n  "Password": "***",\n  "UserLogin": "***@localhost"\n}'
    )
    assert entry.response == '{\n  "SessionID": "***"\n}'
    assert isinstance(entry.create_time, dt.datetime) and entry.duration_ms >= 0

    kept = {"z": 1, "a": {"y": [1, 2.5, "ü"], "b": None}}
    write(db, Made("order", request=f"POST /Ticket\n\n{json.dumps(kept)}", response=json.dumps([kept])))
    entry = debugger.log_entry(db, REST_NAME, debugger.log_page(db, REST_NAME, LogFilter()).entries[0]["id"])
    assert entry.request == "POST /Ticket\n\n" + json.dumps(kept, indent=2, ensure_ascii=False)
    assert entry.request.index('"z"') < entry.request.index('"a"') < entry.request.index('"y"')
    assert entry.response == json.dumps([kept], indent=2, ensure_ascii=False)


def test_an_entry_shows_xml_indented_and_a_secret_redacted(client, gateway, db, settings):
    keep_bodies(gateway, db, settings, SOAP_NAME)
    client.post(
        SOAP,
        content_type="text/xml",
        headers={"SOAPAction": '"http://www.otrs.org/TicketConnector/#SessionCreate"'},
        data=(
            '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><SessionCreate>'
            "<UserLogin>agent1</UserLogin><Password>agent1</Password></SessionCreate></e:Body></e:Envelope>"
        ),
    )
    gateway.commlog.flush()
    [row] = debugger.log_page(db, SOAP_NAME, LogFilter()).entries
    entry = debugger.log_entry(db, SOAP_NAME, row["id"])
    line, _, body = entry.request.partition("\n\n")
    # the headers a SOAP mismatch turns on are kept with the request line
    assert line == 'POST /\nContent-Type: text/xml\nSOAPAction: "http://www.otrs.org/TicketConnector/#SessionCreate"'
    assert body.splitlines() == [
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">',
        "  <e:Body>",
        "    <SessionCreate>",
        "      <UserLogin>***</UserLogin>",
        "      <Password>***</Password>",
        "    </SessionCreate>",
        "  </e:Body>",
        "</e:Envelope>",
    ]
    response = entry.response.splitlines()
    assert len(response) > 4 and response[1].startswith("  <") and "agent1" not in entry.response
    assert any(line.strip().startswith("<tns:SessionID>***</") for line in response), entry.response


@pytest.mark.parametrize(
    "body",
    [
        '{"Password": "***", "cut": "at the log\'s size lim',  # truncated
        "<a><Password>***</Password><b>",  # truncated XML
        "UserLogin=agent1&Password=***",  # a form
        "[withheld: the request held 40 secret values]",
        "<a>&e;</a>",  # an entity the stored document no longer declares
        "",
    ],
)
def test_what_does_not_parse_is_shown_as_stored(db, body):
    write(db, Made("odd", request=f"POST /Ticket\n\n{body}", response=body))
    entry = debugger.log_entry(db, REST_NAME, debugger.log_page(db, REST_NAME, LogFilter()).entries[0]["id"])
    assert (entry.request, entry.response) == (f"POST /Ticket\n\n{body}", body)


def test_an_entry_of_another_web_service_is_refused(db):
    write(db, Made("soap", webservice=SOAP_NAME))
    [row] = debugger.log_page(db, SOAP_NAME, LogFilter()).entries
    assert debugger.log_entry(db, SOAP_NAME, row["id"]).communication_id == "soap"
    with pytest.raises(AdminError, match=f"no entry {row['id']}"):
        debugger.log_entry(db, REST_NAME, row["id"])


# -- the chart ------------------------------------------------------------------------------------------


def test_the_chart_counts_requests_and_errors_per_minute_with_zeros(db):
    now = dt.datetime(2026, 12, 2, 10, 30, 20)
    write(
        db,
        Made("before the window", time=dt.datetime(2026, 12, 2, 7, 30, 59)),
        Made("first minute", time=dt.datetime(2026, 12, 2, 7, 31, 0)),
        Made("error code", error_code="TicketGet.AccessDenied", time=dt.datetime(2026, 12, 2, 10, 28, 59)),
        Made("ok", time=dt.datetime(2026, 12, 2, 10, 30, 5)),
        Made("404", status=404, time=dt.datetime(2026, 12, 2, 10, 30, 10)),
        Made("500", status=500, time=dt.datetime(2026, 12, 2, 10, 30, 59)),
        Made("after now's minute", time=dt.datetime(2026, 12, 2, 10, 31, 0)),
        Made("soap", webservice=SOAP_NAME, status=500, time=dt.datetime(2026, 12, 2, 10, 30, 0)),
    )
    points = debugger.log_chart(db, REST_NAME, hours=3, now=now)
    assert len(points) == 180
    assert [p.minute for p in points] == [dt.datetime(2026, 12, 2, 7, 31) + dt.timedelta(minutes=i) for i in range(180)]
    assert {p.minute.strftime("%H:%M"): (p.requests, p.errors) for p in points if p.requests} == {
        "07:31": (1, 0),
        "10:28": (1, 1),
        "10:30": (3, 2),
    }
    [last] = debugger.log_chart(db, REST_NAME, hours=1, now=now)[-1:]
    assert (last.requests, last.errors) == (3, 2)
    assert sum(p.requests for p in debugger.log_chart(db, SOAP_NAME, hours=1, now=now)) == 1
    with pytest.raises(AdminError, match="1 to 48 hours"):
        debugger.log_chart(db, REST_NAME, hours=0)
