"""SOAP requests as real clients write them: every SOAPAction style, any namespace habit."""

from __future__ import annotations

import pytest

from tests.conftest import SOAP, TICKET_NS
from tests.golden import local_tree, soap_body

pytestmark = pytest.mark.transport_only

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def envelope(operation_open: str, operation_close: str, children: str, extra_ns: str = "") -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}"{extra_ns}><soapenv:Body>{operation_open}{children}'
        f"{operation_close}</soapenv:Body></soapenv:Envelope>"
    ).encode()


LOGIN = "<UserLogin>root@localhost</UserLogin><Password>root</Password>"
STYLES = {
    "zeep (unqualified children)": envelope(
        f'<ns0:SessionCreate xmlns:ns0="{TICKET_NS}">', "</ns0:SessionCreate>", LOGIN
    ),
    "SOAP::Lite (default namespace)": envelope(f'<SessionCreate xmlns="{TICKET_NS}">', "</SessionCreate>", LOGIN),
    "PHP (xsi:type annotations)": envelope(
        f'<ns1:SessionCreate xmlns:ns1="{TICKET_NS}">',
        "</ns1:SessionCreate>",
        '<UserLogin xsi:type="xsd:string">root@localhost</UserLogin><Password xsi:type="xsd:string">root</Password>',
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"',
    ),
    "python-otrs (namespace without trailing slash)": envelope(
        '<tns:SessionCreate xmlns:tns="http://www.otrs.org/TicketConnector">',
        "</tns:SessionCreate>",
        '<tns:UserLogin xmlns:tns="http://www.otrs.org/TicketConnector">root@localhost</tns:UserLogin>'
        '<tns:Password xmlns:tns="http://www.otrs.org/TicketConnector">root</tns:Password>',
    ),
    "no namespace at all (Znuny's NoNameSpace)": envelope("<SessionCreate>", "</SessionCreate>", LOGIN),
}


@pytest.mark.parametrize("body", STYLES.values(), ids=STYLES.keys())
def test_client_dialects_are_understood(client, body):
    response = client.post(SOAP, data=body, content_type="text/xml; charset=UTF-8")
    assert response.status_code == 200
    assert len(local_tree(soap_body(response.data))["SessionID"]) == 32


@pytest.mark.parametrize(
    "action",
    [
        f'"{TICKET_NS}SessionCreate"',
        f'"{TICKET_NS}#SessionCreate"',
        f'"{TICKET_NS}/SessionCreate"',
        '"http://www.otrs.org/TicketConnector#SessionCreate"',
        '"http://www.otrs.org/TicketConnector/SessionCreate"',
        '"SessionCreate"',
        '""',
        "SessionCreate",
        None,
    ],
)
def test_every_soapaction_style_is_accepted(client, action):
    headers = {} if action is None else {"SOAPAction": action}
    response = client.post(
        SOAP, data=STYLES["SOAP::Lite (default namespace)"], content_type="text/xml", headers=headers
    )
    assert response.status_code == 200 and b"SessionID" in response.data


def test_a_soapaction_naming_another_operation_is_refused(client):
    response = client.post(
        SOAP,
        data=STYLES["SOAP::Lite (default namespace)"],
        content_type="text/xml",
        headers={"SOAPAction": f'"{TICKET_NS}#SessionGet"'},
    )
    assert response.status_code == 500
    assert "SessionGet" in soap_body(response.data).findtext("faultstring")


def test_an_empty_operation_element_is_znunys_empty_request(client):
    response = client.post(SOAP, data=envelope("<SessionCreate>", "</SessionCreate>", ""), content_type="text/xml")
    assert local_tree(soap_body(response.data))["Error"]["ErrorMessage"] == "SessionCreate: The request is empty!"


def test_an_alias_operation_answers_under_its_own_name(client, settings, db, tmp_path):
    """Znuny's SOAP sample configures TicketGetList as a second TicketGet: the configured name is the wire name."""
    from gateway.admin import webservices

    config = tmp_path / "alias.yml"
    config.write_text(
        "Provider:\n  Operation:\n    Login: {Type: Session::SessionCreate}\n  Transport:\n"
        "    Type: HTTP::SOAP\n    Config: {NameSpace: 'urn:example:tickets'}\n"
    )
    webservices.add_webservice(db, settings, "Alias", text=config.read_text(), actor="test")
    response = client.post(
        "/otrs/nph-genericinterface.pl/Webservice/Alias",
        data=envelope('<Login xmlns="urn:example:tickets">', "</Login>", LOGIN),
        content_type="text/xml",
    )
    answer = soap_body(response.data)
    assert answer.tag == "{urn:example:tickets}LoginResponse"
    assert len(local_tree(answer)["SessionID"]) == 32


def test_a_soap_with_attachments_request_is_read(client):
    """SwA (multipart/related) as some Java clients send it: the Content-Type's boundary parameter is read."""
    part = STYLES["zeep (unqualified children)"]
    body = (
        b"--MIME_boundary\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: <envelope>\r\n\r\n"
        + part
        + b"\r\n--MIME_boundary--\r\n"
    )
    response = client.post(
        SOAP, data=body, content_type='multipart/related; type="text/xml"; boundary="MIME_boundary"; start="<envelope>"'
    )
    assert response.status_code == 200
    assert len(local_tree(soap_body(response.data))["SessionID"]) == 32
