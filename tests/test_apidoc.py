"""The API page's data: every preset operation documented, and every example request one the server answers.

The examples are read back the way a reader uses them: bash parses the curl command line, the
placeholder credentials are replaced by real ones, and the request goes to the server in-process.
"""

from __future__ import annotations

import json
import subprocess
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import yaml
from lxml import etree

from gateway.admin import webservices
from gateway.operations import OPERATION_TYPES
from gateway.operations.examples import CREDENTIALS, EXAMPLES, SESSION_ID
from gateway.transport.soap import soap_action
from gateway.webservice import config, presets
from gateway.webservice.apidoc import Parameter, describe
from tests.conftest import ROOT

PUBLIC = "http://gateway.test:8080/otrs/nph-genericinterface.pl/Webservice"
# TimeAccountingGet asks for group timeaccounting_webservice, which the fixture's admin is not in
LOGINS = {"Ticket::TimeAccountingGet": {"UserLogin": "tauser", "Password": "tauser"}}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
# what each answer holds when the operation did what the example asks
ANSWERS = {
    "Session::SessionCreate": "SessionID",
    "Session::SessionGet": "SessionData",
    "Session::SessionRemove": "Success",
    "Ticket::TicketCreate": "TicketID",
    "Ticket::TicketGet": "Ticket",
    "Ticket::TicketSearch": "TicketID",
    "Ticket::TicketUpdate": "ArticleID",
    "Ticket::TicketHistoryGet": "TicketHistory",
    "Ticket::TimeAccountingGet": "TimeAccountingResult",
    "User::OutOfOffice": "Success",
}
EMPTY = {"Ticket::TimeAccountingGet"}  # the example's agent is a placeholder who has accounted nothing


def docs(name: str):
    parsed = config.parse(0, name, presets.read(name), 100_000_000)
    return parsed, describe(parsed, f"{PUBLIC}/{name}")


def curl_arguments(example: str) -> list[str]:
    """The arguments bash gives curl for the example, exactly as pasted into a shell."""
    script = 'curl() { printf "%s\\0" "$@"; }\n' + example
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return run.stdout.split("\0")[:-1]


def parse_curl(example: str) -> tuple[str, str, dict[str, str], str | None]:
    """method, URL, headers and body of a curl command line as apidoc writes them."""
    args = iter(curl_arguments(example))
    method, url, headers, body = "GET", "", {}, None
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            key, _, value = next(args).partition(":")
            headers[key] = value.strip()
        elif arg == "--data-binary":
            body = next(args)
        else:
            assert not arg.startswith("-") and not url, arg
            url = arg
    return method, url, headers, body


def with_logins(data: dict, logins: dict[str, str], session_id: str) -> dict:
    assert {key: data[key] for key in CREDENTIALS if key in data} in ({}, CREDENTIALS), data
    return {key: logins.get(key, session_id if value == SESSION_ID else value) for key, value in data.items()}


def fill_in(doc, method: str, url: str, body: str | None, logins: dict[str, str], session_id: str):
    """The example's request with real credentials and a real session in place of the placeholders."""
    parts = urlsplit(url)
    path = parts.path.replace(SESSION_ID, session_id)
    query = urlencode(with_logins(dict(parse_qsl(parts.query)), logins, session_id))
    if body is None:
        return path, query, None
    if doc.namespace:  # SOAP
        root = etree.fromstring(body.encode())
        (operation,) = root.find(f"{{{SOAP_ENV}}}Body")
        assert etree.QName(operation).localname == doc.name
        for child in operation:
            name = etree.QName(child).localname
            if name in logins:
                child.text = logins[name]
            elif child.text == SESSION_ID:
                child.text = session_id
        return path, query, etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return path, query, json.dumps(with_logins(json.loads(body), logins, session_id)).encode()


def answer(doc, response) -> dict:
    """The answer's data (REST JSON; SOAP: the operation response's children by name)."""
    if not doc.namespace:
        return response.json
    root = etree.fromstring(response.data)
    (element,) = root.find(f"{{{SOAP_ENV}}}Body")
    assert etree.QName(element).localname == f"{doc.name}Response", response.data
    return {etree.QName(child).localname: child for child in element}


@pytest.mark.parametrize("preset", sorted(presets.available()))
def test_every_preset_operation_has_a_doc_and_an_example(preset):
    parsed, found = docs(preset)
    assert [doc.name for doc in found] == sorted(parsed.operations)
    for doc in found:
        assert doc.type == parsed.operations[doc.name] and doc.implemented
        assert doc.description == parsed.operation_options[doc.name]["Description"] != ""
        assert doc.parameters and doc.example.startswith("curl ")
        if parsed.transport == config.REST:
            route = next(r for r in parsed.routes if r.operation == doc.name)
            assert doc.routes == tuple((m, route.path) for m in sorted(route.methods))
            assert (doc.soap_action, doc.namespace) == ("", "")
        else:
            assert doc.routes == () and doc.namespace == parsed.namespace
            assert doc.soap_action.startswith(parsed.namespace) and doc.soap_action.endswith(doc.name)


def test_every_implemented_type_has_an_example():
    assert set(EXAMPLES) == set(OPERATION_TYPES)


def test_rest_examples_fill_in_the_route_and_use_the_query_for_get():
    found = {doc.name: doc for doc in docs("GenericTicketConnectorREST")[1]}
    method, url, headers, body = parse_curl(found["TicketGet"].example)
    assert (method, body, headers) == ("GET", None, {})
    assert url.startswith(f"{PUBLIC}/GenericTicketConnectorREST/Ticket/1?")
    assert dict(parse_qsl(urlsplit(url).query)) == {**CREDENTIALS, "AllArticles": "1", "DynamicFields": "1"}
    method, url, headers, body = parse_curl(found["TicketUpdate"].example)
    assert (method, url) == ("PATCH", f"{PUBLIC}/GenericTicketConnectorREST/Ticket/1")
    assert "TicketID" not in json.loads(body) and json.loads(body)["Ticket"]["State"] == "open"


def test_parameters_are_the_request_models_fields():
    found = {doc.type: doc for doc in docs("GenericTicketConnectorREST")[1]}
    create = {p.name: p for p in found["Ticket::TicketCreate"].parameters}
    assert create["Ticket"] == Parameter("Ticket", "object", False)
    assert create["Ticket.Title"] == Parameter("Ticket.Title", "string", False)
    assert create["Article"].many and create["Article.Body"] == Parameter("Article.Body", "string", False)
    assert create["DynamicField.Value"].many and "Article.Attachment.Filename" in create
    search = {p.name: p for p in found["Ticket::TicketSearch"].parameters}
    assert search["States"].many and not search["Limit"].many
    assert [p.name for p in found["Session::SessionGet"].parameters] == ["SessionID"]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "urn:NS/#Op"),
        ({"SOAPAction": "No"}, ""),
        ({"SOAPActionScheme": "NameSpaceSeparatorOperation", "SOAPActionSeparator": "/"}, "urn:NS//Op"),
        ({"SOAPActionScheme": "SeparatorOperation", "SOAPActionSeparator": "#"}, "#Op"),
        ({"SOAPActionScheme": "Operation"}, "Op"),
        ({"SOAPActionScheme": "FreeText", "SOAPActionFreeText": "urn:Do/Op"}, "urn:Do/Op"),
    ],
)
def test_soap_action_follows_the_configured_scheme(settings, expected):
    assert soap_action(settings, "urn:NS/", "Op") == expected


@pytest.mark.parametrize("preset", sorted(presets.available()))
def test_every_example_request_is_answered_without_error(client, preset):
    """Sent as written, with the fixture's admin for the placeholders: HTTP 200 and no Error at all."""
    for doc in docs(preset)[1]:
        logins = LOGINS.get(doc.type, ROOT)
        session = client.post(f"{PUBLIC}/GenericTicketConnectorREST/Session", json=ROOT).json["SessionID"]
        method, url, headers, body = parse_curl(doc.example)
        assert doc.soap_action == "" or headers["SOAPAction"] == f'"{doc.soap_action}"'
        path, query, data = fill_in(doc, method, url, body, logins, session)
        response = client.open(path, method=method, query_string=query, headers=headers, data=data)
        assert response.status_code == 200, (doc.name, response.data)
        result = answer(doc, response)
        assert "Error" not in result and (ANSWERS[doc.type] in result or doc.type in EMPTY), (doc.name, response.data)


@pytest.mark.parametrize(
    "scheme",
    [
        {"SOAPAction": "No"},
        {"SOAPActionScheme": "NameSpaceSeparatorOperation", "SOAPActionSeparator": "#"},
        {"SOAPActionScheme": "SeparatorOperation", "SOAPActionSeparator": "/"},
        {"SOAPActionScheme": "Operation"},
        {"SOAPActionScheme": "FreeText", "SOAPActionFreeText": "urn:helpdesk-api"},
    ],
)
def test_the_soapaction_of_each_scheme_is_accepted(client, db, settings, scheme):
    """A Znuny export with its own SOAPAction settings: the documented header is one the server takes."""
    data = yaml.safe_load(presets.read("GenericTicketConnectorSOAP"))
    data["Provider"]["Transport"]["Config"].update(scheme)
    text = yaml.safe_dump(data)
    webservices.add_webservice(db, settings, "Scheme", text=text, actor="test")
    parsed = config.parse(0, "Scheme", text, 100_000_000)
    (doc,) = [doc for doc in describe(parsed, f"{PUBLIC}/Scheme") if doc.name == "SessionCreate"]
    method, url, headers, body = parse_curl(doc.example)
    path, _, data = fill_in(doc, method, url, body, ROOT, "")
    response = client.post(path, headers=headers, data=data)
    assert response.status_code == 200 and "SessionID" in answer(doc, response), response.data


def test_an_operation_gateway_does_not_implement_is_listed_without_an_example():
    text = presets.read("GenericTicketConnectorREST").replace(
        "TicketGet: {Type: Ticket::TicketGet,", "TicketGet: {Type: Ticket::TicketMerge,"
    )
    parsed = config.parse(0, "Merge", text, 100_000_000)
    (doc,) = [doc for doc in describe(parsed, f"{PUBLIC}/Merge") if doc.name == "TicketGet"]
    assert (doc.type, doc.implemented, doc.parameters, doc.example) == ("Ticket::TicketMerge", False, (), "")
    assert doc.routes == (("GET", "/Ticket/:TicketID"),)
