"""Real clients against gateway under gunicorn on loopback: zeep, pyotrs, requests, the console."""

from __future__ import annotations

import pyotrs
import pytest
import requests
import zeep
from zeep.transports import Transport

from tests.conftest import REST, SOAP, TICKET_NS, until, znuny_file

pytestmark = pytest.mark.slow

BINDING = f"{{{TICKET_NS}}}GenericTicketConnector_Binding"


def test_health(server):
    response = requests.get(f"{server.url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["Database"] == "ok" and response.json()["Version"]


@pytest.mark.transport_only
def test_zeep_with_znunys_own_wsdl(server):
    """The WSDL integrators already generated their stubs from, endpoint overridden, strict=False."""
    wsdl = znuny_file("development/GenericTicketConnectorSOAP.wsdl")
    client = zeep.Client(str(wsdl), settings=zeep.Settings(strict=False))
    service = client.create_service(BINDING, f"{server.url}{SOAP}")
    created = service.SessionCreate(UserLogin="root@localhost", Password="root")
    assert len(created.SessionID) == 32
    # Znuny's WSDL says Name/Value, Znuny (and we) send Key/Value: zeep keeps them as raw elements
    data = service.SessionGet(SessionID=created.SessionID)
    pairs = dict(tuple(e.text for e in item._raw_elements) for item in data)
    assert pairs["UserLogin"] == "root@localhost"
    refused = service.SessionCreate(UserLogin="root@localhost", Password="wrong")
    assert refused.Error.ErrorCode == "SessionCreate.AuthFail"


@pytest.mark.transport_only
def test_zeep_strict_with_our_wsdl(server):
    client = zeep.Client(f"{server.url}{SOAP}?wsdl", transport=Transport(timeout=10))
    created = client.service.SessionCreate(UserLogin="root@localhost", Password="root")
    assert len(created.SessionID) == 32 and created.Error is None
    data = client.service.SessionGet(SessionID=created.SessionID)
    values = {item.Key: item.Value for item in data.SessionData}
    assert values["UserLogin"] == "root@localhost" and values["UserType"] == "User"
    refused = client.service.SessionCreate(UserLogin="root@localhost", Password="wrong")
    assert refused.SessionID is None and refused.Error.ErrorCode == "SessionCreate.AuthFail"


@pytest.mark.transport_only
def test_zeep_sees_soap_faults(server):
    client = zeep.Client(f"{server.url}{SOAP}?wsdl")
    with client.settings(raw_response=True):
        response = client.service.SessionCreate(UserLogin="x", Password="y")
    assert response.status_code == 200
    bad = requests.post(f"{server.url}{SOAP}", data=b"<not-soap", headers={"Content-Type": "text/xml"}, timeout=5)
    assert bad.status_code == 400 and b"Fault" in bad.content


@pytest.mark.transport_only
def test_pyotrs_creates_a_session_on_the_imported_development_sample(server):
    """GenericTicketConnectorRESTDev was imported unchanged from development/GenericTicketConnectorREST.yml."""
    znuny_file("development/GenericTicketConnectorREST.yml")
    config = {**pyotrs.lib.TICKET_CONNECTOR_CONFIG_DEFAULT, "Name": "GenericTicketConnectorRESTDev"}
    client = pyotrs.Client(server.url, "root@localhost", "root", webservice_config_ticket=config)
    assert client.session_create() is True
    assert len(client.session_id_store.value) == 32
    assert client.session_get(client.session_id_store.value) is True
    wrong = pyotrs.Client(server.url, "root@localhost", "wrong", webservice_config_ticket=config)
    with pytest.raises(pyotrs.lib.APIError, match=r"SessionCreate\.AuthFail"):
        wrong.session_create()


@pytest.mark.transport_only
def test_header_credentials_through_gunicorn(server):
    response = requests.post(
        f"{server.url}{REST}/Session",
        json={},
        timeout=5,
        headers={"X-OTRS-Header-UserLogin": "agent1", "X-OTRS-Header-Password": "agent1"},
    )
    assert response.status_code == 200 and "SessionID" in response.json()


def test_a_web_service_added_by_the_console_is_served_within_5_seconds(server):
    path = f"{server.url}/otrs/nph-genericinterface.pl/Webservice/Fresh/Session"
    login = {"UserLogin": "root@localhost", "Password": "root"}
    assert requests.post(path, json=login, timeout=5).status_code == 404
    result = server.gateway("webservice", "add", "--name", "Fresh", "--preset", "GenericTicketConnectorREST")
    assert result.returncode == 0, result.stderr
    # every worker, not only one: ask several times
    until(lambda: all(requests.post(path, json=login, timeout=5).status_code == 200 for _ in range(6)), 5)
    assert server.gateway("webservice", "delete", "--name", "Fresh").returncode == 0
    until(lambda: all(requests.post(path, json=login, timeout=5).status_code == 404 for _ in range(6)), 5)


def test_the_console_shows_the_communication_log(server):
    requests.post(f"{server.url}{REST}/Session", json={"UserLogin": "tauser", "Password": "tauser-secret"}, timeout=5)

    def logged() -> bool:
        out = server.gateway("webservice", "log", "--name", "GenericTicketConnectorREST", "--limit", "5").stdout
        return "tauser" in out

    until(logged, 10)
    out = server.gateway("webservice", "log", "--name", "GenericTicketConnectorREST", "--limit", "5").stdout
    assert "SessionCreate" in out and "tauser-secret" not in out
