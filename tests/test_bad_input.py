"""Bad input gets its documented status and body, writes nothing, and the server keeps answering."""

from __future__ import annotations

import dataclasses

import pytest
from werkzeug.test import Client

from gateway.app import make_app
from tests.conftest import REST, SOAP, TICKET_NS
from tests.golden import soap_body

ENVELOPE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<tic:SessionCreate xmlns:tic="' + TICKET_NS + '"><tic:UserLogin>{login}</tic:UserLogin>'
    "<tic:Password>root</tic:Password></tic:SessionCreate></soapenv:Body></soapenv:Envelope>"
)
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY login SYSTEM "file:///etc/passwd">]>' + ENVELOPE.format(
    login="&login;"
)
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
    + ENVELOPE.format(login="&f;")
)


def sessions(db) -> int:
    with db.transaction(write=False) as tx:
        return tx.value("SELECT COUNT(*) FROM sessions")


def still_answers(client) -> None:
    response = client.post(f"{REST}/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    assert response.status_code == 200 and "SessionID" in response.json


@pytest.mark.transport_only
@pytest.mark.parametrize(
    "body", [XXE, BOMB, "<soapenv:Envelope><broken>", "not xml at all", "", '<x xmlns="urn:other">no envelope</x>']
)
def test_unsafe_or_malformed_xml_is_a_400_soap_fault(client, db, body):
    response = client.post(SOAP, data=body.encode(), content_type="text/xml; charset=UTF-8")
    assert response.status_code == 400
    fault = soap_body(response.data)
    assert fault.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Fault"
    assert "root:" not in response.data.decode()  # no file content leaked
    assert sessions(db) == 0
    still_answers(client)


@pytest.mark.transport_only
@pytest.mark.parametrize("body", ['{"UserLogin": "root@localhost", "Password": ', "{'single': 'quotes'}", "\xff"])
def test_malformed_json_is_a_400(client, db, body):
    response = client.post(f"{REST}/Session", data=body.encode("latin-1"), content_type="application/json")
    assert response.status_code == 400
    assert response.json["faultcode"] == "Client.JsonDecodeError"
    assert sessions(db) == 0
    still_answers(client)


def tickets(db) -> int:
    with db.transaction(write=False) as tx:
        return tx.value("SELECT COUNT(*) FROM ticket")


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("Session", '{"UserLogin": "\\ud800", "Password": "root"}'),
        ("Ticket/Search", '{"UserLogin": "root@localhost", "Password": "root", "Title": "x\\udfff"}'),
        (
            "Ticket",
            '{"UserLogin": "root@localhost", "Password": "root", "Ticket": {"Title": "\\ud800", "Queue": "Raw",'
            ' "State": "new", "Priority": "3 normal", "CustomerUser": "c@example.test"},'
            ' "Article": {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8"}}',
        ),
    ],
)
def test_a_lone_surrogate_escape_is_a_400(client, db, route, body):
    """Found while fuzzing, by hand (schemathesis sends valid UTF-8 only): "\\ud800" decoded to a string no
    database driver encodes, and every operation answered 500."""
    before = tickets(db)
    response = client.post(f"{REST}/{route}", data=body, content_type="application/json")
    assert response.status_code == 400, response.data
    assert response.json["faultcode"] == "Client.JsonDecodeError"
    assert "escape without its pair" in response.json["faultstring"]
    assert (sessions(db), tickets(db)) == (0, before)
    still_answers(client)


@pytest.mark.transport_only
def test_a_surrogate_pair_escape_is_read(client):
    body = '{"UserLogin": "root@localhost", "Password": "root", "Title": "\\ud83d\\ude00"}'
    assert "Error" not in client.post(f"{REST}/Ticket/Search", data=body).json


@pytest.mark.transport_only
def test_json_with_a_bom_is_read(client):
    body = '\ufeff{"UserLogin": "root@localhost", "Password": "root"}'.encode()
    assert "SessionID" in client.post(f"{REST}/Session", data=body).json


@pytest.mark.transport_only
def test_wrongly_typed_values_are_a_400_naming_the_field(client, db):
    response = client.post(f"{REST}/Session", json={"UserLogin": {"nested": 1}, "Password": "root"})
    assert response.status_code == 400
    assert "UserLogin" in response.json["faultstring"]
    assert sessions(db) == 0


@pytest.mark.transport_only
def test_body_over_maxlength_is_a_413(client, db):
    # the TimeAccountingREST preset has MaxLength 1000000
    response = client.post(
        "/otrs/nph-genericinterface.pl/Webservice/TimeAccountingREST/TimeAccountingGet",
        data=b'{"x": "' + b"a" * 1_000_001 + b'"}',
        content_type="application/json",
    )
    assert response.status_code == 413
    assert "MaxLength" in response.json["faultstring"]
    still_answers(client)


@pytest.mark.transport_only
@pytest.mark.parametrize("length", ["1_0", "+10", "-1", "0x10"])
def test_a_content_length_that_is_no_plain_number_is_a_400(client, length):
    # int() would read "1_0" as 10 and "+10" as 10; HTTP's Content-Length is 1*DIGIT
    response = client.post(
        f"{REST}/Session", data=b"{}", environ_overrides={"CONTENT_LENGTH": length}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["faultstring"] == "Invalid Content-Length."


@pytest.mark.transport_only
def test_soap_body_over_the_server_limit_is_a_413(settings):
    app = make_app(dataclasses.replace(settings, max_request_size=1000))
    try:
        response = Client(app).post(SOAP, data=ENVELOPE.format(login="x" * 2000).encode(), content_type="text/xml")
    finally:
        app.close()
    assert response.status_code == 413 and response.json["faultcode"] == "Client.RequestTooLong"


@pytest.mark.transport_only
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/otrs/nph-genericinterface.pl/Webservice/NoSuchWebservice/Session", 404),
        ("/otrs/nph-genericinterface.pl/WebserviceID/999/Session", 404),
        ("/otrs/nph-genericinterface.pl/WebserviceID/0/Session", 404),
        (f"/otrs/nph-genericinterface.pl/WebserviceID/{2**70}/Session", 404),
        ("/otrs/nph-genericinterface.pl", 404),
        ("/somewhere/else", 404),
        (f"{REST}/NoSuchRoute", 404),
        (f"{REST}/Session/abc/def", 404),
    ],
)
def test_unknown_web_service_or_route_is_a_404(client, path, status):
    response = client.post(path, json={"UserLogin": "root@localhost", "Password": "root"})
    assert response.status_code == status
    assert response.json["faultstring"]
    still_answers(client)


def test_web_service_names_are_url_decoded(client, settings, db):
    from gateway.admin import webservices

    webservices.add_webservice(db, settings, "Mein Webservice", preset="GenericTicketConnectorREST", actor="test")
    response = client.post(
        "/znuny/nph-genericinterface.pl/Webservice/Mein%20Webservice/Session",
        json={"UserLogin": "root@localhost", "Password": "root"},
    )
    assert "SessionID" in response.json


@pytest.mark.transport_only
def test_soap_get_is_not_allowed(client):
    assert client.get(SOAP).status_code == 405


@pytest.mark.transport_only
def test_unimplemented_operation_type_is_a_501_naming_it(client, settings, db, tmp_path):
    from gateway.admin import webservices

    config = tmp_path / "echo.yml"
    config.write_text(
        "Provider:\n  Operation:\n    Echo: {Type: Test::Test}\n  Transport:\n    Type: HTTP::REST\n"
        "    Config:\n      RouteOperationMapping:\n        Echo: {Route: /Echo}\n"
    )
    webservices.add_webservice(db, settings, "Echo", text=config.read_text(), actor="test")
    response = client.post("/otrs/nph-genericinterface.pl/Webservice/Echo/Echo", json={"a": 1})
    assert response.status_code == 501
    assert "Test::Test" in response.json["faultstring"]
    still_answers(client)


@pytest.mark.transport_only
def test_an_undeclared_body_that_is_not_utf8_is_read_as_windows_powershell_writes_it(client, db):
    """Windows PowerShell 5.1's Invoke-RestMethod sends a string body in ISO-8859-1 unless the
    Content-Type names a charset; a body that declares UTF-8 must be UTF-8."""
    body = (
        '{"UserLogin": "root@localhost", "Password": "root", "Ticket": {"Title": "Grüße aus Köln",'
        ' "Queue": "Raw", "State": "new", "Priority": "3 normal", "CustomerUser": "customer1"},'
        ' "Article": {"Subject": "Ä", "Body": "ö", "ContentType": "text/plain; charset=utf8"}}'
    ).encode("latin-1")
    created = client.post(f"{REST}/Ticket", data=body, content_type="application/json").json
    ticket = client.get(
        f"{REST}/Ticket/{created['TicketID']}", query_string={"UserLogin": "root@localhost", "Password": "root"}
    ).json["Ticket"][0]
    assert ticket["Title"] == "Grüße aus Köln"
    declared = client.post(f"{REST}/Ticket", data=body, content_type="application/json; charset=utf-8")
    assert declared.status_code == 400 and declared.json["faultcode"] == "Client.JsonDecodeError"
