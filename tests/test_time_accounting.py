"""Ticket::TimeAccountingGet: Znuny's exchanges (golden 25-29), its checks, and our time zones."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
import requests
import zeep
from werkzeug.test import Client

from gateway.app import make_app
from gateway.store.database import as_datetime
from tests.golden import case, local_tree, soap_body
from tests.test_golden_tickets import replay

TA_NS = "http://www.znuny.org/TimeAccountingWebservice/"
TA_REST = "/otrs/nph-genericinterface.pl/Webservice/TimeAccountingREST/TimeAccountingGet"
TA_SOAP = "/znuny/nph-genericinterface.pl/Webservice/TimeAccountingSOAP"
TICKETS = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"
TAUSER = {"UserLogin": "tauser", "Password": "tauser"}
YEAR = {
    "TimeAccountingUserLogin": "tauser",
    "TimeAccountingStart": "2026-01-01 00:00:00",
    "TimeAccountingEnd": "2027-01-01 00:00:00",
}


def session(client) -> str:
    return client.post(f"{TICKETS}/Session", json={"UserLogin": "root@localhost", "Password": "root"}).json["SessionID"]


def set_times(db, table: str, times: dict[int, str]) -> None:
    with db.transaction() as tx:
        for row_id, moment in times.items():
            tx.execute(f"UPDATE {table} SET create_time = ? WHERE id = ?", [dt.datetime.fromisoformat(moment), row_id])


def as_znuny_did(client, db) -> str:
    """Golden 04, 07, 08, 17 at Znuny's recorded times: tauser accounts 2.5 and 1.5 on ticket 3, root 3 on 4.

    Returns ticket 3's number.
    """
    session_id = session(client)
    for stem in [
        "04_rest_ticket_create_minimal",
        "07_rest_ticket_create_header_auth",
        "08_rest_ticket_create_full_session",
        "17_rest_ticket_update_state_article",
    ]:
        replay(client, stem, session_id)
    with db.transaction() as tx:
        tx.execute("UPDATE ticket_history SET create_time = ?", [dt.datetime(2026, 11, 28, 5, 16, 18)])
    set_times(db, "time_accounting", {1: "2026-11-28 05:16:18", 2: "2026-11-28 05:16:18", 3: "2026-11-28 05:16:19"})
    with db.transaction() as tx:
        return tx.value("SELECT tn FROM ticket WHERE id = 3")


def with_number(value, number: str):
    """Znuny's ticket number replaced by ours, wherever it appears."""
    if isinstance(value, dict):
        return {k: number if k == "TicketNumber" else with_number(v, number) for k, v in value.items()}
    if isinstance(value, list):
        return [with_number(v, number) for v in value]
    return value


def soap_rows(xml: bytes) -> list[tuple[str, object]]:
    return [(element.tag, local_tree(element)) for element in soap_body(xml)]


def test_znunys_time_accounting_exchanges(client, db):
    number = as_znuny_did(client, db)
    for stem in ["25_ta_rest_get_no_permission", "26_ta_rest_get_ok", "27_ta_rest_get_missing_end"]:
        golden = case(stem)
        response = golden.send(client)
        assert response.status_code == golden.status == 200, stem
        assert response.json == with_number(golden.response.json(), number), stem
    golden = case("28_ta_soap_get_ok")
    response = golden.send(client)
    assert response.status_code == 200
    assert soap_body(response.data).tag == f"{{{TA_NS}}}TimeAccountingGetResponse"
    theirs = [(tag, with_number(tree, number)) for tag, tree in soap_rows(golden.response.body)]
    assert soap_rows(response.data) == theirs
    # Znuny refuses the single-slash SOAPAction its own WSDL style implies; we accept it (decisions.md)
    response = case("29_ta_soap_get_single_slash_soapaction").send(client)
    assert response.status_code == 200
    assert soap_rows(response.data) == theirs


@pytest.mark.parametrize("seconds", [":00", ""])
def test_powershell_request_shape(client, db, seconds):
    """The manual's PowerShell example: ConvertTo-Json of a hashtable, times with or without seconds."""
    as_znuny_did(client, db)
    body = {
        **TAUSER,
        "TimeAccountingUserLogin": "tauser",
        "TimeAccountingStart": f"2026-01-01 00:00{seconds}",
        "TimeAccountingEnd": f"2026-12-31 23:59{seconds}",
    }
    response = client.post(TA_REST, data=json.dumps(body, indent=4), content_type="application/json")
    assert [(r["Created"], r["TimeUnit"]) for r in response.json["TimeAccountingResult"]] == [
        ("2026-11-28 05:16:18", "2.50"),
        ("2026-11-28 05:16:19", "1.50"),
    ]


def test_bounds_are_inclusive_and_nothing_found_is_empty(client, db):
    as_znuny_did(client, db)

    def get(start: str, end: str, login: str = "tauser") -> dict:
        return client.post(
            TA_REST,
            json={**TAUSER, "TimeAccountingUserLogin": login, "TimeAccountingStart": start, "TimeAccountingEnd": end},
        ).json

    exact = get("2026-11-28 05:16:18", "2026-11-28 05:16:18")["TimeAccountingResult"]
    assert [r["TimeUnit"] for r in exact] == ["2.50"]
    root = get("2026-11-28", "2026-11-29", "root@localhost")["TimeAccountingResult"]
    assert [(r["TimeUnit"], r["TicketTitle"]) for r in root] == [("3.00", "Oracle full ticket äöü €")]
    assert get("2025-01-01 00:00", "2025-12-31 23:59") == {}
    assert get("2026-01-01 00:00", "2027-01-01 00:00", "nobody") == {}


def test_the_queue_is_the_one_at_accounting_time(client, db):
    """Znuny's TimeAccountingSearch.t: accounted in Raw, moved to Misc, accounted, moved to Junk, accounted."""
    ticket = client.post(
        f"{TICKETS}/Ticket",
        json={
            **TAUSER,
            "Ticket": {
                "Title": "Moving",
                "Queue": "Raw",
                "State": "new",
                "Priority": "3 normal",
                "CustomerUser": "customer1",
            },
            "Article": {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8", "TimeUnit": "10.55"},
        },
    ).json
    for queue, units in [("Misc", "20.55"), ("Junk", "30.55"), ("Postmaster", None)]:
        back_date(db, hours=1)
        article = {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8", "TimeUnit": units}
        update = {**TAUSER, "Ticket": {"Queue": queue}, **({"Article": article} if units else {})}
        assert "Error" not in client.patch(f"{TICKETS}/Ticket/{ticket['TicketID']}", json=update).json
    rows = client.post(
        TA_REST,
        json={
            **TAUSER,
            "TimeAccountingUserLogin": "tauser",
            "TimeAccountingStart": "2000-01-01",
            "TimeAccountingEnd": "2100-01-01",
        },
    ).json["TimeAccountingResult"]
    assert [(r["Queue"], r["TimeUnit"]) for r in rows] == [("Raw", "10.55"), ("Misc", "20.55"), ("Junk", "30.55")]
    assert {r["TicketNumber"] for r in rows} == {ticket["TicketNumber"]}


def back_date(db, hours: int) -> None:
    """Everything recorded so far happened `hours` earlier: steps in one second get an order in time."""
    for table in ("ticket_history", "time_accounting"):
        with db.transaction() as tx:
            rows = tx.all(f"SELECT id, create_time FROM {table}")
        set_times(db, table, {r["id"]: str(as_datetime(r["create_time"]) - dt.timedelta(hours=hours)) for r in rows})


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"UserLogin": "tauser", "Password": "wrong", **YEAR}, "AuthFail", "Authentication failed!"),
        ({**YEAR}, "AuthFail", "Authentication failed!"),
        ({"UserLogin": "agent1", "Password": "agent1", **YEAR}, "NoPermission", "No permission!"),
        ({"CustomerUserLogin": "customer1", "Password": "customer1", **YEAR}, "NoPermission", "No permission!"),
        ({**TAUSER}, "MissingParameter", "TimeAccountingUserLogin parameter is missing!"),
        (
            {**TAUSER, "TimeAccountingUserLogin": "tauser"},
            "MissingParameter",
            "TimeAccountingStart parameter is missing!",
        ),
        (
            {**TAUSER, **YEAR, "TimeAccountingStart": "2026-02-30 00:00"},
            "InvalidParameter",
            "TimeAccountingStart parameter is invalid!",
        ),
        (
            {**TAUSER, **YEAR, "TimeAccountingEnd": "yesterday"},
            "InvalidParameter",
            "TimeAccountingEnd parameter is invalid!",
        ),
        (
            {**TAUSER, **YEAR, "TimeAccountingStart": "2027-01-01 00:00:01"},
            "InvalidParameter",
            "TimeAccountingStart is after TimeAccountingEnd!",
        ),
    ],
)
def test_znunys_checks_in_order(client, body, code, message):
    assert client.post(TA_REST, json=body).json == {
        "Error": {"ErrorCode": f"TimeAccountingGet.{code}", "ErrorMessage": f"TimeAccountingGet: {message}"}
    }


def test_times_are_local_to_the_system_time_zone_across_a_dst_change(settings, db):
    """Stored in UTC, read and written in Europe/Berlin: 01:59:59 CET and 03:00:00 CEST are one second apart."""
    berlin = make_app(dataclasses.replace(settings, timezone="Europe/Berlin"))
    client = Client(berlin)
    try:
        client.post(
            f"{TICKETS}/Ticket",
            json={
                **TAUSER,
                "Ticket": {
                    "Title": "DST",
                    "Queue": "Raw",
                    "State": "new",
                    "Priority": "3 normal",
                    "CustomerUser": "customer1",
                },
                "Article": {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8", "TimeUnit": "1"},
            },
        )
        with db.transaction() as tx:
            ticket_id, user_id = tx.one("SELECT ticket_id, create_by FROM time_accounting").values()
            for utc, units in [
                ("2026-03-29 00:59:59", 1),
                ("2026-03-29 01:00:00", 2),
                # 02:30 happens twice in Berlin on 2026-10-25: CEST, then CET
                ("2026-10-25 00:30:00", 3),
                ("2026-10-25 01:30:00", 4),
            ]:
                tx.execute(
                    "INSERT INTO time_accounting (ticket_id, time_unit, create_time, create_by) VALUES (?, ?, ?, ?)",
                    [ticket_id, units, dt.datetime.fromisoformat(utc), user_id],
                )

        def get(start: str, end: str) -> list[tuple[str, str]]:
            rows = client.post(
                TA_REST,
                json={
                    **TAUSER,
                    "TimeAccountingUserLogin": "tauser",
                    "TimeAccountingStart": start,
                    "TimeAccountingEnd": end,
                },
            ).json
            return [(r["Created"], r["TimeUnit"]) for r in rows.get("TimeAccountingResult", [])]

        assert get("2026-03-29 00:00", "2026-03-29 01:59:59") == [("2026-03-29 01:59:59", "1.00")]
        assert get("2026-03-29 03:00", "2026-03-29 23:59:59") == [("2026-03-29 03:00:00", "2.00")]
        assert get("2026-03-28 23:00", "2026-03-29 01:59:58") == []
        assert get("2026-10-25 02:30", "2026-10-25 02:30") == [
            ("2026-10-25 02:30:00", "3.00"),
            ("2026-10-25 02:30:00", "4.00"),
        ]
        # an explicit offset names an instant whatever the system zone
        assert get("2026-03-29T01:00:00+00:00", "2026-03-29T01:00:00Z") == [("2026-03-29 03:00:00", "2.00")]
    finally:
        berlin.close()


@pytest.mark.slow
def test_zeep_with_our_wsdl(server):
    created = requests.post(
        f"{server.url}{TICKETS}/Ticket",
        timeout=10,
        json={
            **TAUSER,
            "Ticket": {
                "Title": "Over SOAP",
                "Queue": "Raw",
                "State": "new",
                "Priority": "3 normal",
                "CustomerUser": "customer1",
            },
            "Article": {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8", "TimeUnit": "0.25"},
        },
    ).json()
    today = dt.datetime.now(dt.UTC).date()
    client = zeep.Client(f"{server.url}{TA_SOAP}?wsdl")
    answer = client.service.TimeAccountingGet(
        **TAUSER,
        TimeAccountingUserLogin="tauser",
        TimeAccountingStart=f"{today - dt.timedelta(days=1)} 00:00",
        TimeAccountingEnd=f"{today + dt.timedelta(days=1)} 00:00",
    )
    assert answer.Error is None
    assert [
        (r.TicketNumber, r.TicketTitle, r.Queue, r.TicketCustomerID, r.TimeUnit) for r in answer.TimeAccountingResult
    ] == [(created["TicketNumber"], "Over SOAP", "Raw", "ACME", "0.25")]
    refused = client.service.TimeAccountingGet(
        UserLogin="agent1",
        Password="agent1",
        TimeAccountingUserLogin="tauser",
        TimeAccountingStart="2026-01-01",
        TimeAccountingEnd="2027-01-01",
    )
    assert refused.TimeAccountingResult == [] and refused.Error.ErrorCode == "TimeAccountingGet.NoPermission"
