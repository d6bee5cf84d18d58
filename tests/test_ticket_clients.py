"""Real ticket clients through gunicorn: pyotrs (REST) and zeep (Znuny's WSDL, and ours strictly)."""

from __future__ import annotations

import base64

import pyotrs
import pytest
import zeep

from tests.conftest import SOAP, TICKET_NS, znuny_file

pytestmark = pytest.mark.slow

BINDING = f"{{{TICKET_NS}}}GenericTicketConnector_Binding"


def test_pyotrs_round_trip(server):
    znuny_file("development/GenericTicketConnectorREST.yml")
    config = {**pyotrs.lib.TICKET_CONNECTOR_CONFIG_DEFAULT, "Name": "GenericTicketConnectorRESTDev"}
    client = pyotrs.Client(server.url, "root@localhost", "root", webservice_config_ticket=config)
    assert client.session_create()
    ticket = pyotrs.Ticket.create_basic(
        Title="pyotrs round trip", Queue="Raw", State="new", Priority="3 normal", CustomerUser="customer1"
    )
    article = pyotrs.Article({"Subject": "From pyotrs", "Body": "Hello from pyotrs"})
    attachment = pyotrs.Attachment.create_basic(base64.b64encode(b"attached!").decode(), "text/plain", "a.txt")
    field = pyotrs.DynamicField("OracleText", value="from pyotrs")
    created = client.ticket_create(ticket, article, attachments=[attachment], dynamic_fields=[field])
    ticket_id = int(created["TicketID"])

    got = client.ticket_get_by_id(ticket_id, articles=True, attachments=True, dynamic_fields=True)
    assert got.field_get("Title") == "pyotrs round trip"
    assert got.dynamic_field_get("OracleText").value == "from pyotrs"
    first = got.articles[0]
    assert first.field_get("Subject") == "From pyotrs"
    assert base64.b64decode(first.attachments[0].Content) == b"attached!"
    # pyotrs' article_get() compares ArticleID with a string; Znuny 7 (and we) send a number, so it finds nothing
    assert first.aid == created["ArticleID"]

    assert client.ticket_search(Title="pyotrs round trip") == [str(ticket_id)]
    assert client.ticket_search(Title="no such ticket anywhere") == []

    update = client.ticket_update(
        ticket_id, article=pyotrs.Article({"Subject": "Update", "Body": "Now open"}), State="open"
    )
    assert update["TicketID"] == str(ticket_id)
    assert client.ticket_get_by_id(ticket_id).field_get("State") == "open"
    history = client.ticket_history_get_by_id(ticket_id)
    kinds = [line["HistoryType"] for line in history["History"]]
    assert kinds[0] == "NewTicket" and "StateUpdate" in kinds and "AddNote" in kinds


def ticket_request() -> dict:
    return {
        "UserLogin": "root@localhost",
        "Password": "root",
        "Ticket": {
            "Title": "zeep ticket",
            "Queue": "Raw",
            "State": "new",
            "Priority": "3 normal",
            "CustomerUser": "customer1",
        },
        "Article": {
            "Subject": "zeep",
            "Body": "via SOAP",
            "ContentType": "text/plain; charset=utf8",
            "IsVisibleForCustomer": 1,
        },
        "DynamicField": [{"Name": "OracleText", "Value": "soap"}],
    }


def test_zeep_with_znunys_wsdl_creates_reads_searches_updates(server):
    client = zeep.Client(
        str(znuny_file("development/GenericTicketConnectorSOAP.wsdl")), settings=zeep.Settings(strict=False)
    )
    service = client.create_service(BINDING, f"{server.url}{SOAP}")
    created = service.TicketCreate(**ticket_request())
    assert created.TicketID and created.TicketNumber
    got = service.TicketGet(
        UserLogin="root@localhost", Password="root", TicketID=created.TicketID, AllArticles=1, DynamicFields=1
    )
    # Znuny's WSDL gives TicketGetResponse a single (repeated) child: zeep returns the list itself
    assert got[0].Title == "zeep ticket" and got[0].TimeUnit is not None  # in WSDL order: nothing lost
    # ... and declares one TicketID in TicketSearchResponse: zeep returns the first
    found = service.TicketSearch(UserLogin="root@localhost", Password="root", Title="zeep ticket")
    assert str(found) == str(created.TicketID)
    updated = service.TicketUpdate(
        UserLogin="root@localhost", Password="root", TicketID=created.TicketID, Ticket={"State": "open"}
    )
    assert str(updated.TicketID) == str(created.TicketID)


def test_zeep_strict_with_our_wsdl(server):
    client = zeep.Client(f"{server.url}{SOAP}?wsdl")
    created = client.service.TicketCreate(**ticket_request())
    assert created.Error is None and created.ArticleID
    got = client.service.TicketGet(
        UserLogin="root@localhost", Password="root", TicketID=[created.TicketID], AllArticles="1", DynamicFields="1"
    )
    ticket = got.Ticket[0]
    assert ticket.Title == "zeep ticket" and ticket.Article[0].Body == "via SOAP"
    assert ticket.DynamicField[0].Name == "OracleText"
    found = client.service.TicketSearch(UserLogin="root@localhost", Password="root", Title=["zeep ticket"])
    assert created.TicketID in found.TicketID
    none = client.service.TicketSearch(UserLogin="root@localhost", Password="root", Title=["no such"])
    assert none.TicketID == [] and none.Error is None
    history = client.service.TicketHistoryGet(UserLogin="root@localhost", Password="root", TicketID=[created.TicketID])
    assert history.TicketHistory[0].History[0].HistoryType == "NewTicket"
    refused = client.service.TicketGet(UserLogin="root@localhost", Password="wrong", TicketID=["1"])
    assert refused.Error.ErrorCode == "TicketGet.AuthFail"
