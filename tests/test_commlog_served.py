"""Under gunicorn: what a client sends cannot break the communication log, and no log keeps a secret.

The logs an operator reads: `gateway webservice log`, gunicorn's access log (GATEWAY_ACCESS_LOG) and
the error log (the server's stderr).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import BACKENDS, REST, SOAP, TICKET_NS, Server, copy_database, serving

pytestmark = pytest.mark.slow

JSON = {"Content-Type": "application/json"}
ENVELOPE = (
    '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
    f'<t:SessionCreate xmlns:t="{TICKET_NS}"><t:UserLogin>{{login}}</t:UserLogin>{{credential}}'
    "</t:SessionCreate></e:Body></e:Envelope>"
)


@pytest.fixture(scope="module", params=BACKENDS)
def logged_server(request, templates, tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    directory = tmp_path_factory.mktemp("logged")
    url, drop = copy_database(request.param, templates, directory)
    access_log = directory / "access.log"
    try:
        with serving(url, GATEWAY_ACCESS_LOG=str(access_log)) as running:
            yield running, access_log
    finally:
        drop()


def communication_log(server: Server, *markers: str) -> str:
    """`gateway webservice log` of both web services, once every marker is in it (the log is written behind)."""
    deadline = time.monotonic() + 15
    while True:
        shown = "".join(
            server.gateway("webservice", "log", "--name", name, "--limit", "10000").stdout
            for name in ("GenericTicketConnectorREST", "GenericTicketConnectorSOAP")
        )
        if all(marker in shown for marker in markers) or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def test_hostile_bodies_and_the_requests_after_them_are_all_logged(logged_server):
    server, _ = logged_server
    hostile = {
        "deep500": b'{"Marker": "deep500", "D": ' + b'{"a": ' * 500 + b"1" + b"}" * 500 + b"}",
        "deep100k": b'[{"Marker": "deep100k"}, ' + b"[" * 100_000 + b"]" * 100_000 + b"]",
        "nulescape": b'{"Marker": "nulescape", "UserLogin": "a\\u0000b", "Password": "x"}',
        "nulraw": b'{"Marker": "nulraw", "x": "\x00"}',
        "notutf8": b'{"Marker": "notutf8", "x": "\xff\xfe\xc3"}',
        "surrogate": b'{"Marker": "surrogate", "UserLogin": "\\ud800", "Password": "\\udfff"}',
        "huge": b'{"Marker": "huge", "x": "' + b"y" * 3_000_000 + b'"}',
    }
    for body in hostile.values():
        response = requests.post(f"{server.url}{REST}/Session", data=body, headers=JSON, timeout=60)
        assert response.status_code in (200, 400), response.text
    soap_nul = ENVELOPE.format(login="soapnul", credential="<t:Password>x</t:Password>").encode() + b"\x00"
    assert requests.post(f"{server.url}{SOAP}", data=soap_nul, headers={"Content-Type": "text/xml"}).status_code == 400
    after = [f"after{i}" for i in range(4)]
    for marker in after:
        response = requests.post(
            f"{server.url}{REST}/Session", json={"UserLogin": marker, "Password": "x"}, timeout=10
        ).json()
        assert response["Error"]["ErrorCode"] == "SessionCreate.AuthFail"
    shown = communication_log(server, *hostile, "soapnul", *after)
    for marker in [*hostile, "soapnul", *after]:
        assert marker in shown, marker
    assert "Error while decoding request content" in shown  # the deep bodies' answers are kept too
    assert "communication log" not in server.log() and "Traceback" not in server.log()


def _requests(server: Server, sid: str) -> list[tuple[str, list[str], dict]]:
    """(label, the secret's parts, requests arguments) for each spelling; the label is sent as the login."""
    session = f"{server.url}{REST}/Session"

    def soap(label: str, credential: str) -> dict:
        body = ENVELOPE.format(login=label, credential=credential)
        headers = {"Content-Type": "text/xml"}
        return {"method": "POST", "url": f"{server.url}{SOAP}?L={label}", "data": body, "headers": headers}

    def rest(label: str, query: str = "", body: str | None = None, **extra: object) -> dict:
        data = body if body is not None else json.dumps({"UserLogin": label})
        return {"method": "POST", "url": f"{session}?{query}&L={label}", "data": data, "headers": JSON, **extra}

    return [
        ("qencoded", ["Sekrit01"], rest("qencoded", "%50assword=Sekrit01")),
        ("qcase", ["Sekrit02"], rest("qcase", "PASSWORD=Sekrit02&x=1")),
        ("qplus", ["Sekrit03"], rest("qplus", "UserLogin=qplus;Pass%77ord+=Sekrit03")),
        ("jescape", ["Sekrit04"], rest("jescape", body='{"UserLogin": "jescape", "\\u0050assword": "Sekrit04"}')),
        (
            "jlist",
            ["Sekrit05", "Sekrit5b"],
            rest("jlist", body='{"UserLogin": "jlist", "Password": ["Sekrit05", "Sekrit5b"]}'),
        ),
        ("jobject", ["Sekrit06"], rest("jobject", body='{"UserLogin": "jobject", "Password": {"a": "Sekrit06"}}')),
        (
            "jdup",
            ["Sekrit07", "Sekrit7b"],
            rest("jdup", body='{"UserLogin": "jdup", "Password": "Sekrit07", "Password": "Sekrit7b"}'),
        ),
        ("jnul", ["Sekrit08"], rest("jnul", body='{"UserLogin": "jnul", "Password": "Sekrit08\\u0000"}')),
        ("jbroken", ["Sekrit09"], rest("jbroken", body='{"UserLogin": "jbroken", "Password": "Sekrit09", oops')),
        ("header", ["Sekrit10"], rest("header", headers={**JSON, "X-OTRS-Header-Password": "Sekrit10"})),
        ("referer", ["Sekrit11"], rest("referer", headers={**JSON, "Referer": "http://app/x?pw=1&Password=Sekrit11"})),
        ("cdata", ["Sekrit12"], soap("cdata", "<t:Password><![CDATA[Sekrit12]]></t:Password>")),
        ("comment", ["Sek", "rit13"], soap("comment", "<t:Password>Sek<!-- c -->rit13</t:Password>")),
        ("charref", ["ekrit14"], soap("charref", "<t:Password>&#83;ekrit14</t:Password>")),
        ("prefix", ["Sekrit15"], soap("prefix", '<x:Password xmlns:x="urn:other">Sekrit15</x:Password>')),
        ("attribute", ["Sekrit16"], soap("attribute", '<t:Password t:Password="Sekrit16">x</t:Password>')),
        ("sessionget", [sid], {"method": "GET", "url": f"{session}/{sid}?L=sessionget"}),
        ("sessionmissing", ["Sekrit17"], {"method": "GET", "url": f"{session}/Sekrit17?L=sessionmissing"}),
    ]


def test_no_secret_reaches_any_log_in_any_spelling(logged_server):
    server, access_log = logged_server
    created = requests.post(f"{server.url}{REST}/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    sid = created.json()["SessionID"]
    cases = _requests(server, sid)
    for label, _, arguments in cases:
        response = requests.request(timeout=10, **arguments)
        assert response.status_code < 500, (label, response.text)
    address = (urlsplit(server.url).hostname, urlsplit(server.url).port)
    # a path spelled with escapes (requests would normalise it), and a request line gunicorn refuses and quotes
    for line, answer in [
        (f"GET {REST}/%53ession/Sekrit18?L=sessionencoded HTTP/1.1", b"HTTP/1.1 200"),
        ("GET /x?Password=Sekrit19 HTTP/1.1 junk", b"HTTP/1.1 400"),
    ]:
        with socket.create_connection(address, timeout=10) as raw:
            raw.sendall(f"{line}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            assert raw.recv(100).startswith(answer), line
    cases.append(("sessionencoded", ["Sekrit18"], {}))
    labels = [label for label, _, _ in cases]
    shown = communication_log(server, *labels)
    deadline = time.monotonic() + 5
    while "Sekrit19" not in server.log() and "Invalid request" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    logs = {"communication log": shown, "access log": access_log.read_text(errors="replace"), "error log": server.log()}
    assert "Invalid request" in logs["error log"]
    for label, parts, _ in [*cases, ("badline", ["Sekrit19"], {})]:
        for part in parts:
            leaked = [name for name, text in logs.items() if part in text]
            assert leaked == [], f"{label}: {part!r} in {leaked}"
    for label in labels:  # the requests are there, only their secrets are not
        assert label in shown and label in logs["access log"], label
    assert "/Session/***" in logs["access log"] and "/Session/***" in shown


def test_gateways_own_log_lines_are_in_the_error_log_format(templates, tmp_path):
    """gateway's loggers write through gunicorn's error log: time, pid and level on every line (bare text on
    stderr, as before, said nothing of when), redacted like the rest."""
    import sqlite3

    url, drop = copy_database("sqlite", templates, tmp_path)
    try:
        with serving(url, GATEWAY_DATABASE_LOCK_TIMEOUT="1") as running:
            holder = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # the write lock held: the next write waits out the timeout
            try:
                body = {"UserLogin": "root@localhost", "Password": "s3cretLocked", "Ticket": {}, "Article": {}}
                assert requests.post(f"{running.url}{REST}/Ticket", json=body, timeout=30).status_code == 503
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            deadline = time.monotonic() + 10
            while "the database cannot be used" not in running.log() and time.monotonic() < deadline:
                time.sleep(0.1)
            lines = [line for line in running.log().splitlines() if "the database cannot be used" in line]
            assert lines and all(re.match(r"^\[[^]]+\] \[\d+\] \[WARNING\] the database", line) for line in lines)
            assert "s3cretLocked" not in running.log()
    finally:
        drop()
