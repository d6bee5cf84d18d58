"""Every ID, number and date field of every operation, sent values that are none, over REST and SOAP.

The fields are read from the operations' request models (any field, at any depth, named like an
ID, a count or a time), so a field added to a model is covered here without touching this test.
Each bad value must get the operation's own Znuny-shaped answer (Error.ErrorCode `<Op>.<Kind>`
with HTTP 200, an InvalidParameter naming the field or its structure) or a fault that blames the
client: never a 5xx, and never success. OutOfOffice,
which reports bad rows instead of failing (decisions.md), must list the row under Skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import pytest
from spyne import ComplexModelBase, Unicode

from gateway import operations
from tests.conftest import REST, ROOT, SOAP, TICKET_NS
from tests.golden import case, local_tree, soap_body

pytestmark = pytest.mark.transport_only

NUMBER = re.compile(r"(ID|IDs|Limit|Minutes|TimeUnit|Year|Month|Day|Hour|Minute|Diff)$")
DATE = re.compile(r"(Date|TimeAccountingStart|TimeAccountingEnd)$")
TEXT = {"SessionID", "CustomerID", "CustomerIDRaw"}  # named like IDs, but free text in Znuny
BAD_NUMBERS = ["²", "٣", "１", str(2**70), str(2**63), "1e3", "0x10", "1_000", "1.5.0", "NaN", "one"]
BAD_DATES = [
    "٢٠٣٠-01-01 00:00:00",
    "２０３０-01-01 00:00:00",
    "2030-02-30 00:00:00",
    "99999-01-01 00:00:00",
    "tomorrow",
]
WHOLE = {"PendingTime"}  # structures Znuny judges as a whole: its message names them, not their part
# fields where Znuny reads a non-number as "not given" and answers with data: so do we
LENIENT = {("TicketGet", "ArticleLimit")}

ARTICLE = {"Subject": "Types", "Body": "Body", "ContentType": "text/plain; charset=utf8"}
TICKET = {"Title": "Types", "Queue": "Raw", "State": "new", "Priority": "3 normal", "CustomerUser": "customer1"}
PENDING = {"Year": "2030", "Month": "6", "Day": "1", "Hour": "12", "Minute": "0"}
TIME_ACCOUNTING_NS = "http://www.znuny.org/TimeAccountingWebservice/"
OUT_OF_OFFICE_NS = "http://www.znuny.org/OutOfOffice/"
WEBSERVICE = "/otrs/nph-genericinterface.pl/Webservice"
TA = f"{WEBSERVICE}/TimeAccounting"
# OutOfOffice without the CSV mapping takes the parsed entries, whose dates are what is tested here
ENTRIES_YAML = (
    """
Provider:
  Operation:
    OutOfOffice: {{Type: User::OutOfOffice}}
  Transport:
    Type: HTTP::{transport}
    Config: {{NameSpace: '"""
    + OUT_OF_OFFICE_NS
    + """', MaxLength: '1000000',
             RouteOperationMapping: {{OutOfOffice: {{Route: /OutOfOffice, RequestMethod: [POST]}}}}}}
"""
)


def number_fields(model: type, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, "number" | "date") of every such field of a request model, nested ones included."""
    for name, field in model.get_flat_type_info(model).items():
        if issubclass(field, ComplexModelBase):
            yield from number_fields(field, (*path, name))
        elif name not in TEXT and NUMBER.search(name):
            yield (*path, name), "number"
        elif DATE.search(name):
            yield (*path, name), "date"


def cases() -> Iterator[tuple[str, tuple[str, ...], str]]:
    for operation_type in sorted(operations.OPERATION_TYPES):
        descriptor = operations.descriptor(operation_type)
        for path, kind in number_fields(descriptor.in_message):
            yield descriptor.name, path, kind


CASES = list(cases())


def base(operation: str, ticket_id: str) -> dict[str, Any]:
    """A request of the operation that succeeds, so that the field under test is what fails it."""
    return {
        "TicketCreate": lambda: {**ROOT, "Ticket": dict(TICKET), "Article": dict(ARTICLE)},
        "TicketUpdate": lambda: {
            **ROOT,
            "TicketID": ticket_id,
            "Ticket": {"Title": "Changed"},
            "Article": dict(ARTICLE),
        },
        "TicketGet": lambda: {**ROOT, "TicketID": ticket_id, "AllArticles": "1"},
        "TicketHistoryGet": lambda: {**ROOT, "TicketID": ticket_id},
        "TicketSearch": lambda: {**ROOT},
        "TimeAccountingGet": lambda: {
            "UserLogin": "tauser",
            "Password": "tauser",
            "TimeAccountingUserLogin": "tauser",
            "TimeAccountingStart": "2026-01-01 00:00:00",
            "TimeAccountingEnd": "2026-12-31 23:59:59",
        },
        "OutOfOffice": lambda: {
            **ROOT,
            "OutOfOfficeEntries": [
                {"UserLogin": "agent1", "OutOfOffice": "1", "StartDate": "2030-01-01", "EndDate": "2030-01-02"}
            ],
        },
    }[operation]()


def with_value(request: dict[str, Any], path: tuple[str, ...], value: str, many: bool) -> dict[str, Any]:
    """The request with `value` at `path`; a PendingTime part goes into an otherwise valid PendingTime."""
    node = request
    for name in path[:-1]:
        if name == "PendingTime":
            node[name] = {} if path[-1] == "Diff" else dict(PENDING)
        node = node.setdefault(name, {})
        node = node[0] if isinstance(node, list) else node
    node[path[-1]] = [value] if many else value
    return request


def is_list(operation: str, path: tuple[str, ...]) -> bool:
    model = next(
        operations.descriptor(t).in_message
        for t in operations.OPERATION_TYPES
        if operations.descriptor(t).name == operation
    )
    for name in path:
        field = model.get_flat_type_info(model)[name]
        model = field
    return field.Attributes.max_occurs > 1


def send_rest(client, operation: str, request: dict[str, Any]) -> tuple[int, Any]:
    request = dict(request)
    if operation == "TicketCreate":
        response = client.post(f"{REST}/Ticket", json=request)
    elif operation == "TicketSearch":
        response = client.post(f"{REST}/Ticket/Search", json=request)
    elif operation == "TicketUpdate":
        response = client.patch(f"{REST}/Ticket/{quote(str(request.pop('TicketID')))}", json=request)
    elif operation in ("TicketGet", "TicketHistoryGet"):
        ticket_id = request.pop("TicketID")
        ticket_id = ticket_id[0] if isinstance(ticket_id, list) else ticket_id
        route = "Ticket" if operation == "TicketGet" else "Ticket/History"
        response = client.get(f"{REST}/{route}/{quote(ticket_id)}", query_string=request)
    elif operation == "OutOfOffice":
        response = client.post(f"{WEBSERVICE}/EntriesREST/OutOfOffice", json=request)
    else:
        response = client.post(f"{TA}REST/{operation}", json=request)
    return response.status_code, response.json


def xml(data: dict[str, Any]) -> str:
    return "".join(
        f"<{key}>{xml(item) if isinstance(item, dict) else escape(str(item))}</{key}>"
        for key, value in data.items()
        for item in (value if isinstance(value, list) else [value])
    )


def send_soap(client, operation: str, request: dict[str, Any]) -> tuple[int, Any]:
    namespace, url = {
        "TimeAccountingGet": (TIME_ACCOUNTING_NS, f"{TA}SOAP"),
        "OutOfOffice": (OUT_OF_OFFICE_NS, f"{WEBSERVICE}/EntriesSOAP"),
    }.get(operation, (TICKET_NS, SOAP))
    envelope = (
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:o="{namespace}">'
        f"<soapenv:Body><o:{operation}>{xml(request)}</o:{operation}></soapenv:Body></soapenv:Envelope>"
    )
    response = client.post(url, data=envelope.encode(), content_type="text/xml; charset=utf-8")
    return response.status_code, local_tree(soap_body(response.data))


def answer_kind(operation: str, status: int, body: Any) -> str:
    """ "error" (the operation's Error, or a client fault), "data" (success), or what went wrong."""
    if status == 200 and isinstance(body, dict) and "Error" in body:
        code = body["Error"]["ErrorCode"]
        return "error" if re.fullmatch(rf"{operation}\.\w+", code) else f"foreign code {code}"
    if status == 200:
        return "skipped" if isinstance(body, dict) and "Skipped" in body else "data"
    if status == 400 and isinstance(body, dict) and str(body.get("faultcode", "")).startswith("Client"):
        return "error"
    return f"HTTP {status}: {body}"


@pytest.fixture
def ticket_id(client, db, settings, tmp_path) -> str:
    """A ticket to read and update; also the OutOfOffice web services that take parsed entries."""
    from gateway.admin import webservices

    for transport in ("REST", "SOAP"):
        source = tmp_path / f"Entries{transport}.yml"
        source.write_text(ENTRIES_YAML.format(transport=transport))
        webservices.add_webservice(db, settings, f"Entries{transport}", text=source.read_text(), actor="test")
    created = client.post(f"{REST}/Ticket", json={**ROOT, "Ticket": TICKET, "Article": ARTICLE}).json
    return created["TicketID"]


def test_the_models_have_such_fields():
    """The enumeration finds what the issue lists (it would pass vacuously if it found nothing)."""
    found = {(operation, ".".join(path)) for operation, path, _ in CASES}
    assert {
        ("TicketSearch", "QueueIDs"),
        ("TicketCreate", "Ticket.OwnerID"),
        ("TicketCreate", "Article.TimeUnit"),
        ("TicketUpdate", "Ticket.PendingTime.Diff"),
        ("TicketGet", "ArticleLimit"),
        ("TicketGet", "TicketID"),
        ("TicketHistoryGet", "TicketID"),
        ("TicketSearch", "TicketCreateTimeOlderMinutes"),
        ("TicketSearch", "Limit"),
        ("TimeAccountingGet", "TimeAccountingStart"),
        ("TicketCreate", "Article.ForceNotificationToUserID"),
        ("OutOfOffice", "OutOfOfficeEntries.StartDate"),
    } <= found
    assert not any(path[-1] in TEXT for _, path, _ in CASES)


def leaves(model: type) -> Iterator[type]:
    for field in model.get_flat_type_info(model).values():
        yield from leaves(field) if issubclass(field, ComplexModelBase) else [field]


def test_request_fields_are_text_so_that_no_protocol_parses_a_number():
    """spyne's own Integer reads "٣" as 3 and 2**70 as itself over SOAP: request fields are Unicode (types.py),
    and the operations parse numbers with gateway.wirenumbers."""
    for operation_type in operations.OPERATION_TYPES:
        model = operations.descriptor(operation_type).in_message
        assert all(issubclass(field, Unicode) for field in leaves(model)), operation_type


@pytest.mark.parametrize("transport", ["REST", "SOAP"])
@pytest.mark.parametrize("operation", sorted({operation for operation, _, _ in CASES}))
def test_no_number_field_takes_a_non_number(client, ticket_id, operation, transport):
    send = send_rest if transport == "REST" else send_soap
    status, body = send(client, operation, base(operation, ticket_id))
    assert answer_kind(operation, status, body) == "data", body
    wrong = []
    for name, path, kind in CASES:
        if name != operation:
            continue
        many = is_list(operation, path)
        expected = "data" if (operation, path[-1]) in LENIENT else "skipped" if operation == "OutOfOffice" else "error"
        for value in BAD_NUMBERS if kind == "number" else BAD_DATES:
            status, body = send(client, operation, with_value(base(operation, ticket_id), path, value, many))
            got = answer_kind(operation, status, body)
            if got != expected:
                wrong.append(f"{'.'.join(path)}={value!r}: {got}")
            elif (
                got == "error"
                and str(body.get("Error", {}).get("ErrorCode")).endswith(".InvalidParameter")
                and not any(name in body["Error"]["ErrorMessage"] for name in path if name in (path[-1], *WHOLE))
            ):
                wrong.append(f"{'.'.join(path)}={value!r}: the message does not name it: {body['Error']}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("value", ["٢٠٣٠-01-01 00:00:00", "2030-01-01 00:00:00²", "2030-13-01 00:00:00", "2030"])
def test_a_date_field_takes_only_dates(client, db, ticket_id, value):
    from gateway.admin import directory

    directory.add_dynamic_field(db, "OracleDate", "Oracle Date", "Date", "Ticket")
    field = {"DynamicField": {"Name": "OracleDate", "Value": value}}
    response = client.post(f"{REST}/Ticket", json={**ROOT, "Ticket": TICKET, "Article": ARTICLE, **field})
    assert response.json["Error"]["ErrorCode"] == "TicketCreate.InvalidParameter"
    response = client.patch(f"{REST}/Ticket/{ticket_id}", json={**ROOT, **field})
    assert response.json["Error"]["ErrorCode"] == "TicketUpdate.InvalidParameter"
    field["DynamicField"]["Value"] = "2030-01-01 00:00:00"
    assert "Error" not in client.patch(f"{REST}/Ticket/{ticket_id}", json={**ROOT, **field}).json


# -- structures: a string, number or list where Znuny expects an object ----------------------------------


def test_golden_115_ticket_as_a_string_is_znunys_business_error(client, ticket_id):
    golden = case("115_rest_tu_ticket_not_hash")  # PATCH /Ticket/2: the fixture's first ticket is 2, as there
    response = golden.send(client)
    assert ticket_id == "2"
    assert (
        (response.status_code, response.json)
        == (golden.status, golden.response.json())
        == (
            200,
            {
                "Error": {
                    "ErrorCode": "TicketUpdate.InvalidParameter",
                    "ErrorMessage": "TicketUpdate: Ticket parameter is not valid!",
                }
            },
        )
    )


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"Ticket": "open"}, "MissingParameter", "Ticket parameter is missing or not valid!"),
        ({"Ticket": ["a", "b"]}, "MissingParameter", "Ticket parameter is missing or not valid!"),
        ({"Ticket": 7}, "MissingParameter", "Ticket parameter is missing or not valid!"),
        ({"Article": "x"}, "MissingParameter", "Article parameter is missing or not valid!"),
        ({"Article": {}}, "MissingParameter", "Article parameter is missing or not valid!"),
        ({"Article": [ARTICLE, 3]}, "MissingParameter", "Article parameter is missing or not valid!"),
        ({"DynamicField": "x"}, "MissingParameter", "DynamicField parameter is missing or not valid!"),
        ({"Attachment": 5}, "MissingParameter", "Attachment parameter is missing or not valid!"),
        ({"Attachment": []}, "MissingParameter", "Attachment parameter is missing or not valid!"),
        ({"DynamicField": {}}, "MissingParameter", "DynamicField parameter is missing or not valid!"),
        # a list with an item that is no object: Znuny checks each item (TicketCreate.pm, Ticket->...)
        ({"Attachment": ["x"]}, "InvalidParameter", "Ticket->Attachment parameter is invalid!"),
        (
            {"DynamicField": [{"Name": "OracleText", "Value": "v"}, {}]},
            "InvalidParameter",
            "Ticket->DynamicField parameter is invalid!",
        ),
        ({"Ticket": {**TICKET, "PendingTime": 5}}, "InvalidParameter", "Ticket->PendingTime parameter is invalid!"),
        (
            {"Ticket": {**TICKET, "PendingTime": ["a", "b"]}},
            "InvalidParameter",
            "Ticket->PendingTime parameter is invalid!",
        ),
    ],
)
def test_ticket_create_structures_that_are_no_objects(client, db, change, code, message):
    def tickets() -> int:
        with db.transaction(write=False) as tx:
            return tx.value("SELECT COUNT(*) FROM ticket")

    before = tickets()
    response = client.post(f"{REST}/Ticket", json={**ROOT, "Ticket": TICKET, "Article": ARTICLE, **change})
    assert (response.status_code, response.json) == (
        200,
        {"Error": {"ErrorCode": f"TicketCreate.{code}", "ErrorMessage": f"TicketCreate: {message}"}},
    )
    assert tickets() == before


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"Ticket": "open"}, "InvalidParameter", "Ticket parameter is not valid!"),
        ({"Ticket": []}, "InvalidParameter", "Ticket parameter is not valid!"),
        ({"Article": "x"}, "InvalidParameter", "Article parameter is not valid!"),
        ({"Article": [ARTICLE, "x"]}, "InvalidParameter", "Article parameter is not valid!"),
        ({"Article": []}, "InvalidParameter", "Article parameter is not valid!"),
        ({"DynamicField": []}, "MissingParameter", "DynamicField parameter is missing or not valid!"),
        (
            {"Attachment": [{"Filename": "a.txt", "Content": "YQ==", "ContentType": "text/plain"}, 3]},
            "InvalidParameter",
            "Ticket->Attachment parameter is invalid!",
        ),
        ({"DynamicField": 1}, "MissingParameter", "DynamicField parameter is missing or not valid!"),
        ({"Attachment": "file.txt"}, "MissingParameter", "Attachment parameter is missing or not valid!"),
        ({"Ticket": {"PendingTime": "soon"}}, "InvalidParameter", "Ticket->PendingTime parameter is invalid!"),
    ],
)
def test_ticket_update_structures_that_are_no_objects_change_nothing(client, ticket_id, change, code, message):
    request = {**ROOT, "Ticket": {"Title": "Changed"}, "Article": ARTICLE, **change}
    response = client.patch(f"{REST}/Ticket/{ticket_id}", json=request)
    assert (response.status_code, response.json) == (
        200,
        {"Error": {"ErrorCode": f"TicketUpdate.{code}", "ErrorMessage": f"TicketUpdate: {message}"}},
    )
    ticket = client.get(f"{REST}/Ticket/{ticket_id}", query_string={**ROOT, "AllArticles": 1}).json["Ticket"][0]
    assert ticket["Title"] == "Types" and len(ticket["Article"]) == 1


def test_soap_structures_that_are_no_objects(client, ticket_id):
    status, body = send_soap(client, "TicketUpdate", {**ROOT, "TicketID": ticket_id, "Ticket": "open"})
    assert (status, body) == (
        200,
        {
            "Error": {
                "ErrorCode": "TicketUpdate.InvalidParameter",
                "ErrorMessage": "TicketUpdate: Ticket parameter is not valid!",
            }
        },
    )
    status, body = send_soap(client, "TicketCreate", {**ROOT, "Ticket": TICKET, "Article": "x"})
    assert body["Error"]["ErrorMessage"] == "TicketCreate: Article parameter is missing or not valid!"


def test_ticket_get_tells_a_malformed_id_from_an_unknown_one(client, ticket_id):
    """Znuny 7.1.7's TicketGet checks the IDs' form first (WrongStructure), then access (golden 15)."""

    def error(value: str) -> dict[str, str]:
        return client.get(f"{REST}/Ticket/{quote(value)}", query_string=ROOT).json["Error"]

    assert error("٣") == {
        "ErrorCode": "TicketGet.WrongStructure",
        "ErrorMessage": "TicketGet: Invalid ticket ID parameter(s) found!",
    }
    assert error(f"{ticket_id},x")["ErrorCode"] == "TicketGet.WrongStructure"
    assert error(str(2**70)) == {
        "ErrorCode": "TicketGet.AccessDenied",
        "ErrorMessage": "TicketGet: User does not have access to the ticket!",
    }


# -- the body itself ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ['"abc"', "42", "true", "null", "1.5"])
def test_a_json_body_that_is_no_object_is_a_400(client, body):
    response = client.post(f"{REST}/Session", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["faultcode"] == "Client.ValidationError"
    assert "JSON object" in response.json["faultstring"]


def test_a_json_array_body_is_an_empty_request_as_in_znuny(client):
    golden = case("51_err_json_array_body")
    response = golden.send(client)
    assert (response.status_code, response.json) == (golden.status, golden.response.json())
