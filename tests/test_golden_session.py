"""The Session exchanges of a real Znuny 7.1.7, replayed: same status, body shape and JSON types.

Where spec/decisions.md says we do better (transport errors), the test asserts our answer.
"""

from __future__ import annotations

import pytest

from tests.conftest import REST
from tests.golden import case, local_tree, shape, soap_body

pytestmark = pytest.mark.transport_only


def create_session(client) -> str:
    response = client.post(f"{REST}/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    return response.json["SessionID"]


@pytest.mark.parametrize(
    "stem",
    ["01_rest_session_create_ok", "47_err_wrong_content_type_text_plain", "56_rest_session_create_by_webservice_id"],
)
def test_session_create_answers_like_znuny(client, stem):
    golden = case(stem)
    response = golden.send(client)
    assert response.status_code == golden.status == 200
    assert response.headers["Content-Type"] == golden.response.headers["content-type"]
    assert shape(response.json) == shape(golden.response.json()) == {"SessionID": "str"}
    assert len(response.json["SessionID"]) == len(golden.response.json()["SessionID"])


@pytest.mark.parametrize("stem", ["02_rest_session_create_bad_password", "49_err_empty_body", "51_err_json_array_body"])
def test_session_create_errors_are_znunys(client, stem):
    golden = case(stem)
    response = golden.send(client)
    assert response.status_code == golden.status == 200
    assert response.json == golden.response.json()


def test_session_get_has_znunys_shape_and_no_secrets(client, db):
    golden = case("03_rest_session_get")
    session_id = create_session(client)
    response = golden.send(client, target=golden.target.rsplit("/", 1)[0] + "/" + session_id)
    assert response.status_code == 200
    ours, theirs = response.json["SessionData"], golden.response.json()["SessionData"]
    allowed = shape(theirs)[1]
    assert all(shape(item) in allowed for item in ours)
    keys = [item["Key"] for item in ours]
    assert keys == sorted(keys)
    values = {item["Key"]: item["Value"] for item in ours}
    theirs_by_key = {item["Key"]: item["Value"] for item in theirs}
    for key in (
        "UserLogin",
        "UserID",
        "UserType",
        "UserEmail",
        "UserFirstname",
        "UserLastname",
        "UserFullname",
        "SessionSource",
        "ValidID",
    ):
        assert values[key] == theirs_by_key[key], key
    assert not {"UserPw", "UserPassword", "Config", "CompanyConfig"} & set(keys)
    with db.transaction(write=False) as tx:
        stored_hash = tx.value("SELECT pw FROM users WHERE login = ?", ["root@localhost"])
    assert stored_hash and not any(stored_hash in str(value) or session_id in str(value) for value in values.values())


@pytest.mark.parametrize(
    "stem", ["36_soap_session_create", "44_soap_session_create_no_soapaction", "37_soap_session_create_bad_password"]
)
def test_soap_session_create_answers_like_znuny(client, stem):
    golden = case(stem)
    response = golden.send(client)
    assert response.status_code == golden.status == 200
    assert response.headers["Content-Type"].lower().startswith("text/xml")
    ours, theirs = soap_body(response.data), soap_body(golden.response.body)
    assert ours.tag == theirs.tag  # {http://www.otrs.org/TicketConnector/}SessionCreateResponse
    ours_tree, theirs_tree = local_tree(ours), local_tree(theirs)
    assert ours_tree.keys() == theirs_tree.keys()
    if "Error" in theirs_tree:
        assert ours_tree == theirs_tree
    else:
        assert len(ours_tree["SessionID"]) == 32


def test_soap_wsdl_style_soapaction_is_accepted(client):
    """Znuny rejects the soapAction its own WSDL advertises (case 43); we accept it."""
    golden = case("43_soap_session_create_wsdl_style_soapaction")
    assert golden.status == 500
    response = golden.send(client)
    assert response.status_code == 200
    assert "SessionID" in local_tree(soap_body(response.data))


@pytest.mark.parametrize(
    ("stem", "status", "element", "words"),
    [
        ("45_soap_invalid_xml", 400, "faultcode", "Client"),
        ("46_soap_unknown_operation", 500, "faultstring", "NoSuchOp"),
    ],
)
def test_soap_errors_are_standard_faults(client, stem, status, element, words):
    """Znuny answers both with a non-standard Fault in its own namespace; zeep and .NET need soap:Fault."""
    response = case(stem).send(client)
    assert response.status_code == status
    fault = soap_body(response.data)
    assert fault.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Fault"
    assert words in fault.findtext(element)


def test_form_content_type_is_still_json(client):
    golden = case("48_err_wrong_content_type_form")
    assert golden.status == 500
    response = golden.send(client)
    assert response.status_code == 200 and "SessionID" in response.json


@pytest.mark.parametrize(
    ("stem", "status", "words"),
    [
        ("50_err_invalid_json", 400, "decoding request content"),
        ("53_err_unknown_route", 404, "/NoSuchRoute"),
        ("54_err_wrong_method", 405, "GET"),
    ],
)
def test_rest_transport_errors_say_what_went_wrong(client, stem, status, words):
    golden = case(stem)
    response = golden.send(client)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json) == {"faultcode", "faultstring"}
    assert words in response.json["faultstring"]


def test_wrong_method_names_the_allowed_ones(client):
    response = case("54_err_wrong_method").send(client)
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("stem", ["52_err_unknown_webservice", "55_err_no_webservice_in_path"])
def test_unknown_web_service_is_a_404_not_a_dropped_connection(client, stem):
    golden = case(stem)
    assert not golden.response.first_line  # Znuny closed the connection without a word
    response = golden.send(client)
    assert response.status_code == 404
    assert set(response.json) == {"faultcode", "faultstring"}
