"""User::OutOfOffice: Znuny's exchanges (golden 30-35), the manual's CSV examples, our Skipped report."""

from __future__ import annotations

import json
import os

import pytest
from werkzeug.test import Client

from tests.conftest import ROOT, run_console
from tests.golden import case, local_tree, soap_body

OOO = "/znuny/nph-genericinterface.pl/Webservice/OutOfOffice/OutOfOffice"
OOO_NS = "http://www.znuny.org/OutOfOffice/"
KEYS = (
    "OutOfOffice",
    "OutOfOfficeStartYear",
    "OutOfOfficeStartMonth",
    "OutOfOfficeStartDay",
    "OutOfOfficeEndYear",
    "OutOfOfficeEndMonth",
    "OutOfOfficeEndDay",
)
AWAY_2030 = {
    "OutOfOffice": "1",
    "OutOfOfficeStartYear": "2030",
    "OutOfOfficeStartMonth": "03",
    "OutOfOfficeStartDay": "20",
    "OutOfOfficeEndYear": "2030",
    "OutOfOfficeEndMonth": "03",
    "OutOfOfficeEndDay": "30",
}


def prefs(db, login: str) -> dict[str, str]:
    with db.transaction(write=False) as tx:
        rows = tx.all(
            "SELECT p.preferences_key, p.preferences_value FROM user_preferences p"
            " JOIN users u ON u.id = p.user_id WHERE u.login = ? AND p.preferences_key LIKE 'OutOfOffice%'",
            [login],
        )
    return {row["preferences_key"]: row["preferences_value"] for row in rows}


def send(client, csv: str, **extra):
    return client.post(OOO, json={**ROOT, "OutOfOfficeEntriesCSVString": csv, **extra})


def test_znunys_out_of_office_exchanges(client, db):
    # 30: UserEmail/EndTime/StartTime/Enabled with DD.MM.YYYY dates. Znuny's fixture agent had no such
    # e-mail and wrote nothing; ours has root@localhost as e-mail, so the row applies.
    for stem in ["30_ooo_csv_useremail_endtime", "31_ooo_csv_userlogin_enddate"]:
        golden = case(stem)
        response = golden.send(client)
        assert (response.status_code, response.json) == (golden.status, golden.response.json()) == (200, {"Success": 1})
        assert prefs(db, "root@localhost") == AWAY_2030  # golden 31's db-after
    # 32-34: Znuny's mapping fails with 500; ours is a 400 with the same fault shape and message
    for stem, detail in [
        ("32_ooo_csv_malformed", "Line 2: ',' expected after '\"'."),
        ("33_ooo_csv_header_only", ""),
        ("34_ooo_missing_csv_param", ""),
    ]:
        golden = case(stem)
        response = golden.send(client)
        assert (golden.status, response.status_code) == (500, 400)
        theirs = golden.response.json()
        assert set(response.json) == set(theirs) == {"faultcode", "faultstring"}
        assert response.json["faultstring"] == f"{theirs['faultstring']} {detail}".strip()
        assert prefs(db, "root@localhost") == AWAY_2030  # golden 32's db-after: unchanged
    golden = case("35_ooo_not_admin")
    response = golden.send(client)
    assert (response.status_code, response.json) == (golden.status, golden.response.json())


def test_the_manuals_examples_and_the_skipped_report(client, db):
    assert send(
        client, '"UserLogin","EndDate","StartDate","Enabled"\n"agent1","2016-03-30","2016-03-20","yes"'
    ).json == {"Success": 1}
    assert prefs(db, "agent1")["OutOfOfficeEndYear"] == "2016"
    # the manual's JSON example: empty dates, an unknown agent, and an end before its start
    csv = (
        "UserEmail,OutOfOffice,StartDate,EndDate\r\nroot@localhost,1,,\r\n"
        "jd@test.znuny.com,1,2021-08-01,2021-07-31\nagent1@example.test,1,2021-08-01,2021-07-31\n"
    )
    assert send(client, csv).json == {
        "Success": 1,
        "Skipped": [
            {
                "Line": 3,
                "Reason": "Error while looking up unique user ID: no valid agent matches UserEmail"
                " 'jd@test.znuny.com'.",
            },
            {"Line": 4, "Reason": "EndDate 2021-07-31 is before StartDate 2021-08-01."},
        ],
    }
    assert prefs(db, "root@localhost") == {"OutOfOffice": "1"}
    assert prefs(db, "agent1")["OutOfOfficeStartYear"] == "2016"  # the skipped row changed nothing


def test_powershell_convertto_json_request(client, db):
    """Get-Content -Raw | Out-String of a Windows file, sent as Windows PowerShell's ConvertTo-Json writes it."""
    csv = '\ufeff"UserLogin","EndDate","StartDate","Enabled"\r\n"agent1","2030-03-30","2030-03-20","yes"\r\n\r\n'
    body = (
        '{\r\n    "Password":  "root",\r\n    "OutOfOfficeEntriesCSVString":  '
        + json.dumps(csv).replace("'", "\\u0027")
        + ',\r\n    "UserLogin":  "root@localhost"\r\n}'
    )
    response = client.post(
        OOO.replace("/znuny/", "/otrs/"),
        data=body.encode(),
        headers={"Accept": "application/json", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json) == (200, {"Success": 1})
    assert prefs(db, "agent1") == AWAY_2030


@pytest.mark.parametrize(
    "csv",
    [
        "EMail,StartTime,EndTime,Enabled\nagent1@example.test,20.03.2030 01:02:03,30.03.2030 23:59:59,yes\n",
        "# exported from HR\nUserLogin,StartDate,EndDate,OutOfOffice\n# agent one\nagent1,2030-03-20,2030-03-30,1\n",
        'UserLogin,StartDate,EndDate,OutOfOffice\r\n"agent1","2030-03-20","2030-03-30","Yes"\r\n',
        "UserSearch,StartDate,EndDate,OutOfOffice\rAgent One,2030-03-20,2030-03-30,1\r",
        'UserLogin,StartDate,EndDate,OutOfOffice\nAGENT1,"2030-03-20, morning",2030-03-30,1\n',
    ],
)
def test_csv_variants(client, db, csv):
    assert send(client, csv).json == {"Success": 1}
    assert prefs(db, "agent1") == AWAY_2030


@pytest.mark.parametrize(
    ("csv", "ignored"),
    [
        # an HR system's export: a department and a comment beside the columns Znuny reads
        (
            "UserLogin,Department,StartDate,EndDate,OutOfOffice,Comment\n"
            "agent1,IT,2030-03-20,2030-03-30,1,Vacation (Lisbon)\n",
            ["Department", "Comment"],
        ),
        # Exchange's calendar export with Znuny's alias names, a trailing comma and a subject
        (
            "EMail,Subject,StartTime,EndTime,Enabled,\nagent1@example.test,Out of office,"
            "20.03.2030 00:00:00,30.03.2030 23:59:59,yes,\n",
            ["Subject"],
        ),
        # both names of one column: Znuny reads UserEmail and ignores EMail
        (
            "UserEmail,EMail,StartDate,EndDate,OutOfOffice\nagent1@example.test,x@example.test,2030-03-20,2030-03-30,1\n",
            ["EMail"],
        ),
    ],
)
def test_columns_znuny_does_not_read_are_ignored_and_named(client, db, csv, ignored):
    assert send(client, csv).json == {"Success": 1, "IgnoredColumns": ignored}
    assert prefs(db, "agent1") == AWAY_2030
    documented = client.get(OOO.replace("/OutOfOffice/OutOfOffice", "/OutOfOffice/openapi.json")).json
    answer = documented["paths"]["/OutOfOffice"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["properties"]["IgnoredColumns"] == {"type": "array", "items": {"type": "string"}}


def test_a_misspelt_column_is_named_and_its_values_unread(client, db):
    send(client, "UserLogin,StartDate,EndDate,Enabled\nagent1,2030-03-20,2030-03-30,yes\n")
    response = send(client, "UserLogin,StartDate,EndDat,Enabled\nagent1,2030-04-01,2030-04-30,yes\nnobody,,,1\n")
    assert response.json == {
        "Success": 1,
        "IgnoredColumns": ["EndDat"],
        "Skipped": [
            {"Line": 3, "Reason": "Error while looking up unique user ID: no valid agent matches UserLogin 'nobody'."}
        ],
    }
    assert prefs(db, "agent1") == {**AWAY_2030, "OutOfOfficeStartMonth": "04", "OutOfOfficeStartDay": "01"}


def test_dates_in_other_digits_are_no_dates(client, db):
    response = send(
        client,
        "UserLogin,StartDate,EndDate,Enabled\nagent1,٢٠٣٠-03-20,2030-03-30,yes\nagent1,02.03.２０３０ 00:00:00,,yes\n",
    )
    assert [entry["Line"] for entry in response.json["Skipped"]] == [2, 3]
    assert prefs(db, "agent1") == {}


def test_flags_dates_and_duplicates(client, db):
    send(client, "UserLogin,StartDate,EndDate,Enabled\nagent1,2030-03-20,2030-03-30,yes\n")
    # no StartDate: Znuny sets only the flag and ignores EndDate; "no" clears the flag, dates stay
    assert send(client, "UserLogin,StartDate,EndDate,Enabled\nagent1,,2031-01-01,no\n").json == {"Success": 1}
    assert prefs(db, "agent1") == {**AWAY_2030, "OutOfOffice": "0"}
    # a later row for the same agent wins
    send(client, "UserLogin,Enabled\nagent1,1\nagent1,0\nagent1,yes\n")
    assert prefs(db, "agent1")["OutOfOffice"] == "1"
    response = send(
        client,
        "UserLogin,StartDate,EndDate,Enabled\nagent1,2030-02-30,,1\nagent1,2030-03-01,,maybe\n"
        ",2030-03-01,,1\nnobody,,,1\n",
    )
    assert response.json["Skipped"] == [
        {"Line": 2, "Reason": "StartDate '2030-02-30' is not a date (YYYY-MM-DD or DD.MM.YYYY HH:MM:SS)."},
        {"Line": 3, "Reason": "OutOfOffice 'maybe' is not yes, no, 1 or 0."},
        {"Line": 4, "Reason": "Invalid data structure for out-of-office entry: no UserLogin, UserEmail or UserSearch."},
        {"Line": 5, "Reason": "Error while looking up unique user ID: no valid agent matches UserLogin 'nobody'."},
    ]
    assert response.json["Success"] == 1
    assert prefs(db, "agent1")["OutOfOffice"] == "1"
    # a search matching two agents names no one
    assert send(client, "UserSearch,Enabled\n*@example.test,1\n").json["Skipped"] == [
        {"Line": 2, "Reason": "Error while looking up unique user ID: UserSearch '*@example.test' matches 2 agents."}
    ]


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (
            'UserLogin,Enabled\n"agent1,1\n',
            "Error while parsing CSV string of parameter OutOfOfficeEntriesCSVString. Line 2: unexpected end of data.",
        ),
        (
            "UserLogin,Enabled\n\n# nothing\n",
            "CSV in parameter OutOfOfficeEntriesCSVString does not contain any entries.",
        ),
        ("INVALID", "CSV in parameter OutOfOfficeEntriesCSVString does not contain any entries."),
        ("", "Parameter OutOfOfficeEntriesCSVString is missing."),
        ({"UserLogin": "agent1"}, "OutOfOfficeEntriesCSVString"),
        (["a", "b"], "OutOfOfficeEntriesCSVString"),
    ],
)
def test_malformed_csv_is_a_clear_400_that_changes_nothing(client, db, csv, message):
    send(client, "UserLogin,StartDate,EndDate,Enabled\nagent1,2030-03-20,2030-03-30,yes\n")
    response = send(client, csv)
    assert response.status_code == 400
    assert message in response.json["faultstring"]
    assert prefs(db, "agent1") == AWAY_2030


def test_callers(client, db):
    csv = "UserLogin,Enabled\nagent1,1\n"
    assert client.post(OOO, json={"OutOfOfficeEntriesCSVString": csv}).json == {
        "Error": {"ErrorCode": "OutOfOffice.AuthFail", "ErrorMessage": "OutOfOffice: Authentication failed."}
    }
    assert (
        client.post(
            OOO, json={"CustomerUserLogin": "customer1", "Password": "customer1", "OutOfOfficeEntriesCSVString": csv}
        ).json["Error"]["ErrorMessage"]
        == "OutOfOffice: User needs to be an agent."
    )
    assert (
        client.post(OOO, json={"UserLogin": "agent1", "Password": "agent1", "OutOfOfficeEntriesCSVString": csv}).json[
            "Error"
        ]["ErrorMessage"]
        == "OutOfOffice: User needs to be in group admin."
    )
    # the mapping runs first, as in Znuny: bad credentials and no CSV is the mapping's error
    assert client.post(OOO, json={"UserLogin": "root@localhost", "Password": "wrong"}).status_code == 400
    assert prefs(db, "agent1") == {}


SOAP_YAML = """
Provider:
  Operation:
    OutOfOffice: {Type: User::OutOfOffice, MappingInbound: {Type: OutOfOffice}}
    OutOfOfficeEntries: {Type: User::OutOfOffice}
  Transport:
    Type: HTTP::SOAP
    Config: {NameSpace: 'http://www.znuny.org/OutOfOffice/', MaxLength: '1000000'}
"""


def soap(client, operation: str, body: str):
    envelope = (
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:o="{OOO_NS}">'
        f"<soapenv:Body><o:{operation}><UserLogin>root@localhost</UserLogin><Password>root</Password>"
        f"{body}</o:{operation}></soapenv:Body></soapenv:Envelope>"
    )
    return client.post(
        "/znuny/nph-genericinterface.pl/Webservice/OutOfOfficeFromYaml",
        data=envelope,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{OOO_NS}{operation}"'},
    )


def test_soap_web_service_from_yaml(gateway, settings, db, tmp_path):
    from gateway.admin import webservices

    source = tmp_path / "OutOfOfficeFromYaml.yml"
    source.write_text(SOAP_YAML)
    webservices.add_webservice(db, settings, "OutOfOfficeFromYaml", text=source.read_text(), actor="test")
    client = Client(gateway)
    wsdl = client.get("/znuny/nph-genericinterface.pl/Webservice/OutOfOfficeFromYaml?wsdl")
    assert wsdl.status_code == 200 and b"OutOfOfficeEntriesCSVString" in wsdl.data
    response = soap(
        client,
        "OutOfOffice",
        "<OutOfOfficeEntriesCSVString>UserLogin,StartDate,EndDate,Enabled,Note\n"
        "agent1,2030-03-20,2030-03-30,yes,x\nnobody,,,1,\n"
        "</OutOfOfficeEntriesCSVString>",
    )
    assert response.status_code == 200, response.data
    assert local_tree(soap_body(response.data)) == {
        "Success": "1",
        "IgnoredColumns": "Note",
        "Skipped": {
            "Line": "3",
            "Reason": "Error while looking up unique user ID: no valid agent matches UserLogin 'nobody'.",
        },
    }
    assert prefs(db, "agent1") == AWAY_2030
    # without the mapping the operation takes Znuny's parsed entries
    response = soap(
        client,
        "OutOfOfficeEntries",
        "<OutOfOfficeEntries><UserLogin>agent1</UserLogin><OutOfOffice>no</OutOfOffice></OutOfOfficeEntries>",
    )
    assert local_tree(soap_body(response.data)) == {"Success": "1"}
    assert prefs(db, "agent1")["OutOfOffice"] == "0"
    response = soap(client, "OutOfOfficeEntries", "")
    assert local_tree(soap_body(response.data))["Error"]["ErrorCode"] == "OutOfOffice.WrongInputStructure"


def test_user_show(client, database_url):
    send(client, "UserLogin,StartDate,EndDate,Enabled\nagent1,2030-03-20,2030-03-30,yes\n")
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
    shown = run_console("user", "show", "--user-name", "agent1", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "Login:          agent1",
        "Name:           Agent One",
        "Email:          agent1@example.test",
        "Valid:          yes",
        "Groups:         users (rw)",
        "Out of office:  yes",
        "  Start:        2030-03-20",
        "  End:          2030-03-30",
    ]
    missing = run_console("user", "show", "--user-name", "nobody", env=env)
    assert missing.returncode != 0 and "there is no agent 'nobody'" in missing.stderr


@pytest.mark.slow
def test_zeep_sets_out_of_office_through_the_soap_preset(server):
    """The OutOfOfficeSOAP preset, with zeep built strictly from its generated WSDL, through gunicorn."""
    import zeep

    client = zeep.Client(f"{server.url}/otrs/nph-genericinterface.pl/Webservice/OutOfOfficeSOAP?wsdl")
    answer = client.service.OutOfOffice(
        UserLogin="root@localhost",
        Password="root",
        OutOfOfficeEntriesCSVString="UserLogin,OutOfOffice,StartDate,EndDate,Team,Why\n"
        "agent1,1,2026-12-24,2026-12-31,Ops,Holidays\n",
    )
    assert answer.Success == 1 and not answer.Skipped and answer.IgnoredColumns == ["Team", "Why"]
    shown = server.gateway("user", "show", "--user-name", "agent1").stdout
    assert "2026-12-24" in shown and "2026-12-31" in shown
