"""Authentication: body and header credentials, sessions, impersonation, failed-login limits."""

from __future__ import annotations

import collections
import dataclasses
import datetime

from argon2 import PasswordHasher

from gateway.auth import Authenticator, Credentials, new_session_id
from gateway.passwords import hash_password, needs_rehash
from gateway.settings import Settings
from gateway.store.database import utcnow
from tests.conftest import CHEAP_PASSWORDS, REST, ROOT, SOAP, TICKET_NS
from tests.golden import local_tree, soap_body


def soap(operation: str, **fields: str) -> bytes:
    children = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return (
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        f'<tic:{operation} xmlns:tic="{TICKET_NS}">{children}</tic:{operation}></soapenv:Body>'
        "</soapenv:Envelope>"
    ).encode()


def session_user(client, session_id: str) -> str | None:
    data = client.get(f"{REST}/Session/{session_id}").json.get("SessionData", [])
    return {item["Key"]: item["Value"] for item in data}.get("UserLogin")


def test_header_credentials_alone_work_over_rest(client):
    response = client.post(
        f"{REST}/Session",
        data="{}",
        headers={"X-OTRS-Header-UserLogin": "root@localhost", "X-OTRS-Header-Password": "root"},
    )
    assert session_user(client, response.json["SessionID"]) == "root@localhost"


def test_header_credentials_alone_work_over_soap(client):
    response = client.post(
        SOAP,
        data=soap("SessionCreate"),
        content_type="text/xml",
        headers={"X-OTRS-Header-UserLogin": "agent1", "X-OTRS-Header-Password": "agent1"},
    )
    session_id = local_tree(soap_body(response.data))["SessionID"]
    assert session_user(client, session_id) == "agent1"


def test_header_wins_over_body_and_query(client):
    response = client.post(
        f"{REST}/Session?UserLogin=agent1&Password=wrong", json=ROOT, headers={"X-OTRS-Header-Password": "agent1"}
    )
    assert session_user(client, response.json["SessionID"]) == "agent1"


def test_query_wins_over_body_as_in_znuny(client):
    response = client.post(f"{REST}/Session?Password=root", json={"UserLogin": "root@localhost", "Password": "x"})
    assert "SessionID" in response.json


def test_wrong_header_password_fails_like_a_wrong_body_password(client):
    for response in (
        client.post(
            f"{REST}/Session", json={"UserLogin": "root@localhost"}, headers={"X-OTRS-Header-Password": "wrong"}
        ),
        client.post(
            SOAP, data=soap("SessionCreate", UserLogin="root@localhost", Password="wrong"), content_type="text/xml"
        ),
    ):
        body = response.json if response.is_json else local_tree(soap_body(response.data))
        assert body["Error"]["ErrorCode"] == "SessionCreate.AuthFail"


def test_customer_user_gets_a_customer_session(client):
    response = client.post(f"{REST}/Session", json={"CustomerUserLogin": "customer1", "Password": "customer1"})
    data = {
        i["Key"]: i["Value"] for i in client.get(f"{REST}/Session/{response.json['SessionID']}").json["SessionData"]
    }
    assert data["UserType"] == "Customer" and data["UserCustomerID"] == "ACME"


def test_invalid_session_id_fails_even_with_a_valid_password(client):
    """Znuny's Auth(): a given SessionID decides alone."""
    target = client.post(f"{REST}/Session", json=ROOT).json["SessionID"]
    response = client.delete(
        f"{REST}/Session/{target}", json=ROOT, headers={"X-OTRS-Header-SessionID": "not-a-session"}
    )
    assert response.json["Error"]["ErrorCode"] == "SessionRemove.AuthFail"
    assert session_user(client, target) == "root@localhost"


def test_session_remove_needs_admin_for_another_agents_session(client):
    roots = client.post(f"{REST}/Session", json=ROOT).json["SessionID"]
    denied = client.delete(f"{REST}/Session/{roots}", json={"UserLogin": "agent1", "Password": "agent1"})
    assert (
        denied.json["Error"]["ErrorMessage"] == "SessionRemove: Authorization failed! User needs to be in group admin."
    )
    agents = client.post(f"{REST}/Session", json={"UserLogin": "agent1", "Password": "agent1"}).json["SessionID"]
    assert client.delete(f"{REST}/Session/{agents}", json=ROOT).json == {"Success": 1}
    assert session_user(client, agents) is None


def test_a_removed_session_no_longer_authenticates(client):
    session_id = client.post(f"{REST}/Session", json=ROOT).json["SessionID"]
    assert client.delete(f"{REST}/Session/{session_id}", headers={"X-OTRS-Header-SessionID": session_id}).json == {
        "Success": 1
    }
    assert client.get(f"{REST}/Session/{session_id}").json["Error"]["ErrorCode"] == "SessionGet.SessionInvalid"


def test_impersonation_works_for_an_admin_agent(client):
    response = client.post(f"{REST}/Session", json=ROOT, headers={"X-OTRS-Header-ImpersonateAsUser": "agent1"})
    assert session_user(client, response.json["SessionID"]) == "agent1"


def test_impersonation_fails_for_anyone_else(client):
    for creds in (
        {"UserLogin": "agent1", "Password": "agent1"},
        {"CustomerUserLogin": "customer1", "Password": "customer1"},
    ):
        response = client.post(
            f"{REST}/Session", json=creds, headers={"X-OTRS-Header-ImpersonateAsUser": "root@localhost"}
        )
        assert response.json["Error"]["ErrorCode"] == "SessionCreate.AuthFail"


def test_impersonating_an_unknown_agent_fails(client):
    response = client.post(f"{REST}/Session", json=ROOT, headers={"X-OTRS-Header-ImpersonateAsUser": "nobody"})
    assert response.json["Error"]["ErrorCode"] == "SessionCreate.AuthFail"


def test_failed_logins_are_limited_per_login_and_address(client, settings, caplog):
    for _ in range(settings.login_failure_limit):
        client.post(f"{REST}/Session", json={"UserLogin": "agent1", "Password": "guess"})
    response = client.post(f"{REST}/Session", json={"UserLogin": "agent1", "Password": "agent1"})
    assert response.json["Error"]["ErrorCode"] == "SessionCreate.AuthFail"
    # the operator reads it once, when the limit is reached (no password in it)
    lockouts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("failed logins:")]
    assert len(lockouts) == 1 and "agent1" in lockouts[0] and "guess" not in lockouts[0], lockouts
    # the same login from another address is unaffected (tests/test_login_limits.py: the whole scenario, served)
    other = client.post(
        f"{REST}/Session", json={"UserLogin": "agent1", "Password": "agent1"}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert "SessionID" in other.json


def test_an_unknown_or_invalid_login_costs_a_password_check_and_a_refused_address_none(client, db, monkeypatch):
    """The time of a refusal tells nothing of the login: each costs one Argon2 verification, as a wrong
    password does; a refused address costs none, whoever it names."""
    calls = _counted_checks(monkeypatch)
    with db.transaction() as tx:
        tx.execute("UPDATE users SET valid_id = 2 WHERE login = 'tauser'")
    for login in ("agent1", "nobody", "tauser"):
        response = client.post(f"{REST}/Session", json={"UserLogin": login, "Password": "guess"})
        assert response.json["Error"]["ErrorCode"] == "SessionCreate.AuthFail"
    assert len(calls) == 3
    for _ in range(4):
        client.post(f"{REST}/Session", json={"UserLogin": "agent1", "Password": "guess"})
    del calls[:]
    for creds in ({"UserLogin": "agent1", "Password": "agent1"}, {"UserLogin": "agent1", "Password": "guess"}):
        assert client.post(f"{REST}/Session", json=creds).json["Error"]["ErrorCode"] == "SessionCreate.AuthFail"
    assert calls == []


def test_an_ipv6_client_is_counted_by_its_64(settings, db):
    """One host holds a whole /64: a fresh address per guess must not give it a fresh count."""
    authenticator = Authenticator(db, dataclasses.replace(settings, login_failure_limit=3))
    wrong = Credentials(UserLogin="agent1", Password="guess")
    for n in range(3):
        assert authenticator.authenticate(wrong, f"2001:db8:0:1::{n + 1}") is None
    right = Credentials(UserLogin="agent1", Password="agent1")
    assert authenticator.authenticate(right, "2001:db8:0:1::ffff") is None  # the same /64: refused
    assert authenticator.authenticate(right, "2001:db8:0:2::1") is not None  # the next /64 logs in


def test_a_hash_made_at_another_cost_is_made_again_at_the_next_good_login(client, db, settings):
    """Else its refusals would take another time than the dummy hash's, and tell that the login exists."""
    costly = dataclasses.replace(settings, password_time_cost=settings.password_time_cost + 1)
    with db.transaction() as tx:
        tx.execute("UPDATE users SET pw = ? WHERE login = 'agent1'", [hash_password("agent1", costly)])
    assert "Error" in client.post(f"{REST}/Session", json={"UserLogin": "agent1", "Password": "guess"}).json
    with db.transaction(write=False) as tx:
        assert needs_rehash(tx.value("SELECT pw FROM users WHERE login = 'agent1'"), settings)
    assert "SessionID" in client.post(f"{REST}/Session", json={"UserLogin": "agent1", "Password": "agent1"}).json
    with db.transaction(write=False) as tx:
        stored = tx.value("SELECT pw FROM users WHERE login = 'agent1'")
    assert not needs_rehash(stored, settings) and PasswordHasher().verify(stored, "agent1")


def test_an_idle_session_expires(client, settings, db):
    session_id = client.post(f"{REST}/Session", json=ROOT).json["SessionID"]
    idle = datetime.timedelta(seconds=settings.session_max_idle_time + 60)
    with db.transaction() as tx:
        tx.execute("UPDATE sessions SET last_request = ?", [utcnow() - idle])
    assert client.get(f"{REST}/Session/{session_id}").json["Error"]["ErrorCode"] == "SessionGet.SessionInvalid"


def test_session_ids_are_stored_hashed(client, db):
    session_id = client.post(f"{REST}/Session", json=ROOT).json["SessionID"]
    with db.transaction(write=False) as tx:
        stored = [row["id"] for row in tx.all("SELECT id FROM sessions")]
    assert session_id not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_passwords_are_stored_with_argon2(db):
    with db.transaction(write=False) as tx:
        hashes = [row["pw"] for row in tx.all("SELECT pw FROM users UNION ALL SELECT pw FROM customer_user")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)


def test_an_impersonated_write_names_both_logins_in_the_history(client):
    headers = {"X-OTRS-Header-ImpersonateAsUser": "agent1"}
    ticket = {"Title": "On behalf", "Queue": "Raw", "State": "new", "Priority": "3 normal", "CustomerUser": "customer1"}
    article = {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8"}
    created = client.post(f"{REST}/Ticket", json={**ROOT, "Ticket": ticket, "Article": article}, headers=headers).json
    client.patch(f"{REST}/Ticket/{created['TicketID']}", json={**ROOT, "Ticket": {"Title": "Renamed"}}, headers=headers)
    history = client.get(f"{REST}/Ticket/History/{created['TicketID']}", query_string=ROOT).json
    lines = history["TicketHistory"][0]["History"]
    marks = [line for line in lines if line["Name"] == "%%Impersonation%%root@localhost acting as agent1"]
    assert len(marks) == 2  # one per impersonated operation
    agent1 = next(line["CreateBy"] for line in lines if line["HistoryType"] == "NewTicket")
    assert agent1 != 1 and all(line["CreateBy"] == agent1 for line in marks)
    # without the header, nothing more is written
    client.patch(f"{REST}/Ticket/{created['TicketID']}", json={**ROOT, "Ticket": {"Title": "Again"}})
    history = client.get(f"{REST}/Ticket/History/{created['TicketID']}", query_string=ROOT).json
    assert sum("Impersonation" in line["Name"] for line in history["TicketHistory"][0]["History"]) == 2


CHEAP = Settings(**CHEAP_PASSWORDS)


def _counted_checks(monkeypatch) -> list[str]:
    """The Argon2 verifications that really run (the slow part the cache saves)."""
    from gateway import passwords

    calls: list[str] = []
    verifier = passwords._verifier

    class Counted:
        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return verifier.verify(stored, password)

    monkeypatch.setattr(passwords, "_verifier", Counted())
    return calls


def test_a_good_password_check_is_remembered_until_it_expires(monkeypatch):
    import time

    from gateway.passwords import PasswordChecker, hash_password

    calls = _counted_checks(monkeypatch)
    stored = hash_password("s3cret", CHEAP)
    checker = PasswordChecker(0.5, CHEAP)
    assert checker.verify(stored, "s3cret") and checker.verify(stored, "s3cret")
    assert len(calls) == 1
    assert not checker.verify(stored, "wrong") and not checker.verify(stored, "wrong") and len(calls) == 3
    changed = hash_password("s3cret", CHEAP)  # a new hash (a password change) is never answered from the cache
    assert checker.verify(changed, "s3cret") and len(calls) == 4
    time.sleep(0.6)
    assert checker.verify(stored, "s3cret") and len(calls) == 5


def test_the_password_cache_is_bounded_and_can_be_off(monkeypatch):
    from gateway.passwords import PasswordChecker, hash_password

    calls = _counted_checks(monkeypatch)
    stored = [hash_password(f"pw{i}", CHEAP) for i in range(3)]
    bounded = PasswordChecker(300, CHEAP, max_entries=2)
    for i in (0, 1, 2, 0):
        assert bounded.verify(stored[i], f"pw{i}")
    assert len(calls) == 4  # the oldest check made room for the third
    off = PasswordChecker(0, CHEAP)
    assert off.verify(stored[1], "pw1") and off.verify(stored[1], "pw1") and len(calls) == 6


def test_session_ids_are_znunys_32_letters_and_digits_with_every_character_as_likely():
    ids = [new_session_id() for _ in range(5000)]
    assert all(len(i) == 32 and i.isascii() and i.isalnum() for i in ids) and len(set(ids)) == len(ids)
    counts = collections.Counter("".join(ids))
    # 160 000 characters: each of the 62 about 2 581 times (a bias towards the first ones would show as +25 %)
    assert len(counts) == 62 and max(counts.values()) < 1.18 * min(counts.values())
