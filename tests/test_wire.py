"""Real clients on the real wire: bodies as HTTP delivers them, faults instead of HTML pages, a WSDL that
names the server it came from. Through gunicorn, where werkzeug's test client would hide the differences
(gunicorn gives no CONTENT_LENGTH for a chunked or absent body, and terminates the input itself)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
import zeep
from lxml import etree
from spyne.protocol.soap import Soap11

from gateway.admin import webservices
from gateway.environ import REQUEST_ID
from gateway.middleware.errors import UnexpectedErrors
from gateway.transport.rest import RestApplication
from gateway.transport.soap import ZnunySoap11
from gateway.webservice import presets
from tests.conftest import BACKENDS, REST, SOAP, TICKET_NS, copy_database, serving
from tests.golden import soap_body

ROOT = {"X-OTRS-Header-UserLogin": "root@localhost", "X-OTRS-Header-Password": "root"}
SOAP_FAULT = "{http://schemas.xmlsoap.org/soap/envelope/}Fault"
SESSION_CREATE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    f'<SessionCreate xmlns="{TICKET_NS}"><UserLogin>root@localhost</UserLogin>'
    "<Password>root</Password></SessionCreate></soapenv:Body></soapenv:Envelope>"
)


# -- sending exactly these bytes -----------------------------------------------------------------------------


def raw(server, request: str) -> tuple[int, dict[str, str], bytes]:
    """Send a request byte for byte (http.client and requests add a Content-Length to every POST)."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request.replace("\n", "\r\n").encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def bodiless(method: str, path: str, headers: dict[str, str]) -> str:
    """What `curl -X <method> -H ...` sends: no body, and so no Content-Length or Transfer-Encoding."""
    lines = "".join(f"{name}: {value}\n" for name, value in headers.items())
    return f"{method} {path} HTTP/1.1\nHost: 127.0.0.1\nUser-Agent: curl/8\nAccept: */*\n{lines}\n"


def chunked(server, path: str, body: bytes, content_type: str, chunk: int = 1000) -> http.client.HTTPResponse:
    """POST `body` with Transfer-Encoding: chunked, as Java's and .NET's SOAP stacks do by default."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    pieces = (body[i : i + chunk] for i in range(0, len(body), chunk))
    connection.request("POST", path, body=pieces, headers={"Content-Type": content_type}, encode_chunked=True)
    response = connection.getresponse()
    response.data = response.read()
    connection.close()
    return response


def session(server) -> str:
    response = requests.post(
        f"{server.url}{REST}/Session", json={"UserLogin": "root@localhost", "Password": "root"}, timeout=10
    )
    return response.json()["SessionID"]


def ticket_create(session_id: str, title: str, attachment: bytes = b"") -> bytes:
    request = {
        "SessionID": session_id,
        "Ticket": {
            "Title": title,
            "Queue": "Raw",
            "State": "new",
            "Priority": "3 normal",
            "CustomerUser": "someone@example.test",
        },
        "Article": {"Subject": "Help", "Body": "It burns", "ContentType": "text/plain; charset=utf8"},
    }
    if attachment:
        request["Attachment"] = {
            "Content": base64.b64encode(attachment).decode(),
            "ContentType": "text/plain",
            "Filename": "big.txt",
        }
    return json.dumps(request).encode()


def titled(server, session_id: str, title: str) -> list[str]:
    """TicketIDs of tickets with this title."""
    found = requests.post(
        f"{server.url}{REST}/Ticket/Search", json={"SessionID": session_id, "Title": title}, timeout=10
    ).json()
    assert "Error" not in found, found
    return found.get("TicketID", [])


# -- bodies: none, empty, chunked ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.transport_only
def test_a_bodiless_post_with_header_credentials_creates_a_session(server):
    """Golden case 60: curl -X POST with X-OTRS-Header-UserLogin/Password and nothing else."""
    status, headers, body = raw(server, bodiless("POST", f"{REST}/Session", ROOT))
    assert status == 200 and headers["Content-Type"] == "application/json; charset=UTF-8"
    session_id = json.loads(body)["SessionID"]
    data = requests.get(f"{server.url}{REST}/Session/{session_id}", timeout=10).json()
    assert {item["Key"]: item["Value"] for item in data["SessionData"]}["UserLogin"] == "root@localhost"


@pytest.mark.slow
@pytest.mark.transport_only
@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed")
def test_the_real_curl_creates_a_session_without_a_body(server):
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            *(f for k, v in ROOT.items() for f in ("-H", f"{k}: {v}")),
            f"{server.url}{REST}/Session",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert len(json.loads(result.stdout)["SessionID"]) == 32


@pytest.mark.slow
@pytest.mark.transport_only
def test_a_bodiless_delete_removes_the_session_by_header(server):
    session_id = session(server)
    status, _, body = raw(server, bodiless("DELETE", f"{REST}/Session/{session_id}", ROOT))
    assert status == 200 and json.loads(body) == {"Success": 1}
    gone = requests.get(f"{server.url}{REST}/Session/{session_id}", timeout=10).json()
    assert gone["Error"]["ErrorCode"] == "SessionGet.SessionInvalid"


@pytest.mark.slow
@pytest.mark.transport_only
def test_content_length_zero_is_no_body(server):
    status, _, body = raw(server, bodiless("POST", f"{REST}/Session", {**ROOT, "Content-Length": "0"}))
    assert status == 200 and len(json.loads(body)["SessionID"]) == 32


@pytest.mark.slow
@pytest.mark.transport_only
def test_a_chunked_rest_ticket_create_creates_the_ticket(server):
    session_id = session(server)
    response = chunked(server, f"{REST}/Ticket", ticket_create(session_id, "Sent in chunks"), "application/json")
    assert response.status == 200, response.data
    ticket_id = json.loads(response.data)["TicketID"]
    got = requests.get(f"{server.url}{REST}/Ticket/{ticket_id}", params={"SessionID": session_id}, timeout=10)
    assert got.json()["Ticket"][0]["Title"] == "Sent in chunks"


@pytest.mark.slow
@pytest.mark.transport_only
def test_a_chunked_soap_session_create(server):
    response = chunked(server, SOAP, SESSION_CREATE.encode(), "text/xml; charset=utf-8", chunk=100)
    assert response.status == 200, response.data
    session_id = soap_body(response.data).findtext(f"{{{TICKET_NS}}}SessionID")
    assert len(session_id) == 32
    assert "SessionData" in requests.get(f"{server.url}{REST}/Session/{session_id}", timeout=10).json()


@pytest.mark.slow
@pytest.mark.transport_only
@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed")
def test_the_real_curl_sends_soap_chunked_after_100_continue(server):
    """What .NET's HttpWebRequest does by default: Expect: 100-continue, then a chunked body."""
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Expect: 100-continue",
            "-H",
            "Content-Type: text/xml; charset=utf-8",
            "--data-binary",
            SESSION_CREATE,
            f"{server.url}{SOAP}",
        ],
        capture_output=True,
        timeout=30,
    )
    assert len(soap_body(result.stdout).findtext(f"{{{TICKET_NS}}}SessionID")) == 32


@pytest.fixture(scope="module")
def small_webservice(server, tmp_path_factory) -> str:
    """GenericTicketConnectorREST with MaxLength 20000, added to the running server."""
    preset = presets.read("GenericTicketConnectorREST")
    path = tmp_path_factory.mktemp("small") / "SmallREST.yml"
    path.write_text(re.sub(r"MaxLength: '\d+'", "MaxLength: '20000'", preset))
    assert server.gateway("webservice", "add", "--name", "SmallREST", "--source-path", str(path)).returncode == 0
    added = time.monotonic()
    url = f"{server.url}/otrs/nph-genericinterface.pl/Webservice/SmallREST"
    while requests.get(f"{url}/openapi.json", timeout=5).status_code != 200:
        assert time.monotonic() < added + 10, "the new web service was not served"
        time.sleep(0.2)
    # one worker serves it; every other one does once its refresh interval (1 s in serving()) has passed
    time.sleep(max(0.0, added + 1.5 - time.monotonic()))
    return "/otrs/nph-genericinterface.pl/Webservice/SmallREST"


@pytest.mark.slow
@pytest.mark.transport_only
def test_a_chunked_body_over_maxlength_is_a_413_and_writes_nothing(server, small_webservice):
    session_id = session(server)
    small = chunked(server, f"{small_webservice}/Ticket", ticket_create(session_id, "Small enough"), "application/json")
    assert small.status == 200  # the web service works for a body within its MaxLength
    assert titled(server, session_id, "Small enough") == [str(json.loads(small.data)["TicketID"])]
    response = chunked(
        server,
        f"{small_webservice}/Ticket",
        ticket_create(session_id, "Too long in chunks", b"x" * 30000),
        "application/json",
    )
    assert response.status == 413
    assert json.loads(response.data)["faultcode"] == "Client.RequestTooLong"
    assert titled(server, session_id, "Too long in chunks") == []


@pytest.fixture(scope="module", params=BACKENDS)
def limited_server(request, templates, tmp_path_factory) -> Iterator:
    url, drop = copy_database(request.param, templates, tmp_path_factory.mktemp("limited"))
    try:
        with serving(url, GATEWAY_MAX_REQUEST_SIZE="65536") as running:
            yield running
    finally:
        drop()


@pytest.mark.slow
@pytest.mark.transport_only
def test_a_chunked_body_over_max_request_size_is_a_413_and_writes_nothing(limited_server):
    session_id = session(limited_server)
    response = chunked(
        limited_server,
        f"{REST}/Ticket",
        ticket_create(session_id, "Over the server's limit", b"x" * 100_000),
        "application/json",
    )
    assert response.status == 413 and b"65536" in response.data
    soap = chunked(limited_server, SOAP, SESSION_CREATE.encode().replace(b"root@localhost", b"r" * 70_000), "text/xml")
    assert soap.status == 413 and soap_body(soap.data).tag == SOAP_FAULT
    assert titled(limited_server, session_id, "Over the server's limit") == []


# -- unexpected errors: a fault naming the request id, the traceback in the log -----------------------------


def names_request_id(message: str, headers: dict[str, str], log: str) -> str:
    request_id = headers["X-Request-ID"]
    assert f"request id {request_id}" in message
    logged = log[log.index(f"request {request_id}: unexpected error") :]
    assert logged.splitlines()[1] == "Traceback (most recent call last):"
    return logged


def until_logged(server, text: str, seconds: float = 10) -> str:
    deadline = time.monotonic() + seconds
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} not in the server log"
        time.sleep(0.1)
    return server.log()


@pytest.mark.slow
@pytest.mark.transport_only
def test_a_character_xml_cannot_carry_is_replaced_in_soap_answers(server):
    """A control character is valid in JSON but not in XML: SOAP answers carry U+FFFD in its place
    instead of failing for that ticket ever after, REST shows the value as stored."""
    session_id = session(server)
    created = requests.post(
        f"{server.url}{REST}/Ticket", data=ticket_create(session_id, "bell \u0007 title"), timeout=10
    ).json()
    envelope = (
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        f'<TicketGet xmlns="{TICKET_NS}"><SessionID>{session_id}</SessionID>'
        f"<TicketID>{created['TicketID']}</TicketID></TicketGet></soapenv:Body></soapenv:Envelope>"
    )
    response = requests.post(f"{server.url}{SOAP}", data=envelope, headers={"Content-Type": "text/xml"}, timeout=10)
    assert response.status_code == 200
    assert soap_body(response.content).find(f".//{{{TICKET_NS}}}Title").text == "bell \ufffd title"
    got = requests.get(f"{server.url}{REST}/Ticket/{created['TicketID']}", params={"SessionID": session_id}, timeout=10)
    assert got.json()["Ticket"][0]["Title"] == "bell \u0007 title"


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broken_database_is_a_fault_naming_the_request_id(backend, templates, tmp_path):
    """The sessions table is dropped under a running server: SessionCreate fails where nobody expects it."""
    from gateway.store.database import Database

    url, drop = copy_database(backend, templates, tmp_path)
    try:
        with serving(url) as running:
            session(running)  # the server works, and holds its connections open
            db = Database(url)
            with db.transaction() as tx:
                tx.execute("DROP TABLE sessions")
            db.close()
            rest = requests.post(
                f"{running.url}{REST}/Session", timeout=10, json={"UserLogin": "root@localhost", "Password": "root"}
            )
            assert rest.status_code == 500 and rest.headers["Content-Type"].startswith("application/json")
            assert set(rest.json()) == {"faultcode", "faultstring"} and rest.json()["faultcode"] == "Server"
            soap = requests.post(
                f"{running.url}{SOAP}", data=SESSION_CREATE, headers={"Content-Type": "text/xml"}, timeout=10
            )
            assert soap.status_code == 500 and soap_body(soap.content).tag == SOAP_FAULT
            log = until_logged(running, f"request {soap.headers['X-Request-ID']}")
            for response, message in (
                (rest, rest.json()["faultstring"]),
                (soap, soap_body(soap.content).findtext("faultstring")),
            ):
                assert "sessions" in names_request_id(message, response.headers, log)
                assert "sessions" not in message  # no SQL or table names for the client
    finally:
        drop()


@pytest.mark.transport_only
@pytest.mark.parametrize(
    ("path", "body", "content_type", "protocol"),
    [
        (f"{REST}/Session", '{"UserLogin": "root@localhost", "Password": "root"}', "application/json", RestApplication),
        (SOAP, SESSION_CREATE, "text/xml", ZnunySoap11),
    ],
)
def test_an_error_outside_the_operations_is_a_fault_in_the_web_services_shape(
    client, monkeypatch, caplog, path, body, content_type, protocol
):
    """In-process, with a failing component injected: once the deep-JSON crash was fixed (now a 400), no
    input was left that breaks the stack outside an operation or a serializer."""

    def broken(*args):
        raise RuntimeError("the request parser is broken")

    monkeypatch.setattr(protocol, "request_data" if protocol is RestApplication else "create_in_document", broken)
    response = client.post(path, data=body, content_type=content_type, headers={"X-Request-ID": "client-id-42"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "client-id-42"
    if protocol is ZnunySoap11:
        fault = soap_body(response.data)
        assert fault.tag == SOAP_FAULT
        message = fault.findtext("faultstring")
    else:
        assert response.json["faultcode"] == "Server"
        message = response.json["faultstring"]
    assert "request id client-id-42" in message and "broken" not in message
    record = next(r for r in caplog.records if r.name == "gateway.errors")
    assert record.getMessage() == f"request client-id-42: unexpected error in POST {path}"
    assert "RuntimeError: the request parser is broken" in caplog.text  # the traceback


@pytest.mark.transport_only
def test_a_broken_exchange_is_logged_without_the_session_id(client, gateway, db, monkeypatch, caplog):
    """The server log names the path without a session ID in it; the communication log keeps the exchange."""

    def broken(*args):
        raise RuntimeError("the request parser is broken")

    monkeypatch.setattr(RestApplication, "request_data", broken)
    response = client.get(f"{REST}/Session/SecretSessionId42", headers={"X-Request-ID": "broken-get"})
    assert response.status_code == 500
    record = next(r for r in caplog.records if r.name == "gateway.errors")
    assert record.getMessage() == f"request broken-get: unexpected error in GET {REST}/Session/***"
    assert "SecretSessionId42" not in caplog.text
    gateway.commlog.flush()
    logged = next(
        row
        for row in webservices.webservice_log(db, "GenericTicketConnectorREST", 10)
        if row["communication_id"] == "broken-get"
    )
    assert logged["http_status"] == 500 and "SecretSessionId42" not in logged["request"]


@pytest.mark.transport_only
def test_an_answer_that_cannot_be_serialized_is_a_soap_fault_naming_the_request_id(client, monkeypatch, caplog):
    """In-process, with a serializer that fails: the client gets a 500 fault, not spyne's empty 200 envelope."""
    original = Soap11.serialize

    def failing(self, ctx, message):
        if ctx.out_error is None:
            raise RuntimeError("cannot write this answer")
        return original(self, ctx, message)

    monkeypatch.setattr(Soap11, "serialize", failing)
    response = client.post(SOAP, data=SESSION_CREATE, content_type="text/xml", headers={"X-Request-ID": "no-answer"})
    assert response.status_code == 500
    fault = soap_body(response.data)
    assert fault.tag == SOAP_FAULT and "request id no-answer" in fault.findtext("faultstring")
    assert "RuntimeError: cannot write this answer" in caplog.text


def test_an_error_after_the_answer_began_replaces_its_headers():
    """As gunicorn does (PEP 3333): headers not yet sent are replaced when exc_info is passed."""
    calls = []

    def server_start_response(status, headers, exc_info=None):
        assert not calls or exc_info is not None, "a second start_response without exc_info"
        calls.append(status)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        raise RuntimeError("after the answer began")

    body = UnexpectedErrors(app)(
        {"REQUEST_METHOD": "POST", "PATH_INFO": "/x", REQUEST_ID: "abc"}, server_start_response
    )
    assert calls == ["200 OK", "500 Internal Server Error"]
    assert "request id abc" in json.loads(b"".join(body))["faultstring"]


@pytest.mark.transport_only
def test_json_nested_deeper_than_python_can_parse_is_a_400(client):
    response = client.post(f"{REST}/Session", data="[" * 200_000, content_type="application/json")
    assert response.status_code == 400 and response.json["faultcode"] == "Client.JsonDecodeError"


# -- the WSDL names the server it came from -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.transport_only
def test_zeep_strictly_from_the_wsdl_of_a_server_without_public_url(server):
    """`gateway serve --bind 127.0.0.1:<port>` without public_url: the WSDL's soap:address is that port."""
    assert "GATEWAY_PUBLIC_URL" not in server.env
    port = urlsplit(server.url).port
    assert port != 8080
    wsdl = requests.get(f"{server.url}{SOAP}?wsdl", timeout=10).content
    addresses = etree.fromstring(wsdl).findall(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert [a.get("location") for a in addresses] == [f"http://127.0.0.1:{port}{SOAP}"]
    client = zeep.Client(f"{server.url}{SOAP}?wsdl")  # strict, and the service address from the WSDL alone
    session_id = client.service.SessionCreate(UserLogin="root@localhost", Password="root").SessionID
    assert len(session_id) == 32
    created = requests.post(
        f"{server.url}{REST}/Ticket", data=ticket_create(session_id, "Seen by zeep"), timeout=10
    ).json()
    got = client.service.TicketGet(SessionID=session_id, TicketID=created["TicketID"])
    assert got.Ticket[0].Title == "Seen by zeep" and got.Error is None


@pytest.mark.slow
@pytest.mark.transport_only
def test_the_openapi_document_names_the_bind_address(server):
    document = requests.get(f"{server.url}{REST}/openapi.json", timeout=10).json()
    assert document["servers"] == [{"url": f"{server.url}{REST.replace('/otrs/', '/znuny/')}"}]


@pytest.mark.slow
@pytest.mark.transport_only
def test_the_host_header_decides_nothing(server):
    wsdl = requests.get(f"{server.url}{SOAP}?wsdl", headers={"Host": "evil.example:1"}, timeout=10).text
    assert "evil.example" not in wsdl and urlsplit(server.url).netloc in wsdl
