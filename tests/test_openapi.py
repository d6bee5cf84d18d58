"""Every REST web service describes itself as OpenAPI 3, and the description matches the answers."""

from __future__ import annotations

import pytest

from tests.conftest import REST

pytestmark = pytest.mark.transport_only

JSON_TYPES = {str: "string", int: "integer", float: "number", dict: "object", list: "array"}


def conforms(value, schema) -> bool:
    """A small structural check: every key the server sent is described with the JSON type it has."""
    if value is None:
        return schema.get("nullable", False)
    if JSON_TYPES[type(value)] != schema.get("type", JSON_TYPES[type(value)]):
        return False
    if isinstance(value, dict):
        return all(
            key in schema["properties"] and conforms(item, schema["properties"][key]) for key, item in value.items()
        )
    if isinstance(value, list):
        return all(conforms(item, schema["items"]) for item in value)
    return True


def test_document_lists_the_implemented_routes(client, settings):
    doc = client.get(f"{REST}/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [
        {"url": f"{settings.public_url}/znuny/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"}
    ]
    assert sorted(doc["paths"]["/Session/{SessionID}"]) == ["delete", "get"]
    get = doc["paths"]["/Session/{SessionID}"]["get"]
    assert {"name": "SessionID", "in": "path", "required": True, "schema": {"type": "string"}} in get["parameters"]
    assert "requestBody" in doc["paths"]["/Session"]["post"]


def test_answers_match_the_documented_types(client):
    doc = client.get(f"{REST}/openapi.json").json
    response_schema = lambda path, verb: doc["paths"][path][verb]["responses"]["200"]["content"][  # noqa: E731
        "application/json"
    ]["schema"]
    login = {"UserLogin": "root@localhost", "Password": "root"}
    created = client.post(f"{REST}/Session", json=login).json
    refused = client.post(f"{REST}/Session", json={**login, "Password": "x"}).json
    data = client.get(f"{REST}/Session/{created['SessionID']}").json
    removed = client.delete(f"{REST}/Session/{created['SessionID']}", json=login).json
    assert conforms(created, response_schema("/Session", "post"))
    assert conforms(refused, response_schema("/Session", "post"))
    assert conforms(data, response_schema("/Session/{SessionID}", "get"))
    assert conforms(removed, response_schema("/Session/{SessionID}", "delete"))
    assert response_schema("/Session/{SessionID}", "delete")["properties"]["Success"]["type"] == "integer"


def test_soap_web_services_have_no_openapi_document(client):
    response = client.get("/znuny/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP/openapi.json")
    assert response.status_code == 405  # a SOAP endpoint answers POST only
