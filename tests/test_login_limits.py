"""Failed-login limits stop the address that fails, not the victim: served by gunicorn, called from
127.0.0.1, .2 and .3 (every 127/8 address is this machine's loopback), directly and through a proxy."""

from __future__ import annotations

import dataclasses
import datetime
import http.client
import json
from urllib.parse import urlsplit

import pytest
from werkzeug.test import Client

from gateway.admin import webservices
from gateway.app import make_app
from gateway.store.database import Database, utcnow
from tests.conftest import REST, ROOT, serving

AGENT1 = {"UserLogin": "agent1", "Password": "agent1"}
WRONG = {"UserLogin": "agent1", "Password": "guess"}
LIMITS = {"GATEWAY_LOGIN_FAILURE_LIMIT": "3", "GATEWAY_LOGIN_FAILURE_ADDRESS_LIMIT": "6"}


def call(base: str, source: str, method: str, path: str, body: dict | None = None, **headers: str) -> dict:
    """One request from the loopback address `source`; its JSON answer."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, path, json.dumps(body or {}), {"Content-Type": "application/json", **headers})
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def login(base: str, source: str, creds: dict, **headers: str) -> str | None:
    """SessionCreate from `source`: the session id, or None when refused with Znuny's AuthFail."""
    answer = call(base, source, "POST", f"{REST}/Session", creds, **headers)
    if "SessionID" in answer:
        return answer["SessionID"]
    assert answer["Error"] == {
        "ErrorCode": "SessionCreate.AuthFail",
        "ErrorMessage": "SessionCreate: Authorization failing!",
    }, answer
    return None


def session_address(base: str, session_id: str) -> str:
    """SessionGet's UserRemoteAddr: where the session was created from."""
    data = call(base, "127.0.0.1", "GET", f"{REST}/Session/{session_id}")["SessionData"]
    return {item["Key"]: item["Value"] for item in data}["UserRemoteAddr"]


def failure_rows(database_url: str) -> list[str]:
    db = Database(database_url)
    try:
        with db.transaction(write=False) as tx:
            return sorted(row["failure_key"] for row in tx.all("SELECT failure_key FROM login_failure"))
    finally:
        db.close()


def let_the_window_pass(database_url: str) -> None:
    """Every counter's window started longer ago than login_failure_window (300 s)."""
    db = Database(database_url)
    try:
        with db.transaction() as tx:
            tx.execute("UPDATE login_failure SET window_start = ?", [utcnow() - datetime.timedelta(seconds=301)])
    finally:
        db.close()


@pytest.mark.slow
def test_a_failing_address_is_refused_and_every_other_address_logs_in(database_url):
    with serving(database_url, **LIMITS) as server:
        base = server.url
        for _ in range(3):
            assert login(base, "127.0.0.1", WRONG) is None
        assert login(base, "127.0.0.1", AGENT1) is None  # the right password, from the address that failed
        victim = login(base, "127.0.0.2", AGENT1)  # the right password from elsewhere still works
        assert victim is not None and session_address(base, victim) == "127.0.0.2"
        assert login(base, "127.0.0.1", ROOT) is not None  # .1 is refused agent1 only, so far
        # .1 trying other logins: past the per-address limit (6) it is refused every login
        for name in ("nobody1", "nobody2", "root@localhost"):
            assert login(base, "127.0.0.1", {"UserLogin": name, "Password": "guess"}) is None
        assert login(base, "127.0.0.1", ROOT) is None
        assert login(base, "127.0.0.3", ROOT) is not None and login(base, "127.0.0.3", AGENT1) is not None
        # a good login clears its address's count for that login: two failures, a login, two more stay allowed
        for _ in range(2):
            assert login(base, "127.0.0.2", WRONG) is None
        assert login(base, "127.0.0.2", AGENT1) is not None
        for _ in range(2):
            assert login(base, "127.0.0.2", WRONG) is None
        assert login(base, "127.0.0.2", AGENT1) is not None
        # the window passes: .1 is let in again, and the next failure written takes the expired rows away
        let_the_window_pass(server.database_url)
        assert login(base, "127.0.0.1", AGENT1) is not None and login(base, "127.0.0.1", ROOT) is not None
        assert login(base, "127.0.0.3", WRONG) is None
        assert failure_rows(server.database_url) == ["addr:127.0.0.3", "login:127.0.0.3:User:agent1"]


@pytest.mark.slow
def test_behind_a_trusted_proxy_x_forwarded_for_decides_the_address(database_url):
    with serving(database_url, GATEWAY_TRUSTED_PROXIES="127.0.0.1", **LIMITS) as server:
        base = server.url
        proxy = "127.0.0.1"
        for _ in range(3):  # the proxy appends the client's address to what the client sent
            assert login(base, proxy, WRONG, **{"X-Forwarded-For": "127.0.0.2, 203.0.113.9"}) is None
        assert login(base, proxy, AGENT1, **{"X-Forwarded-For": "203.0.113.9"}) is None
        other = login(base, proxy, AGENT1, **{"X-Forwarded-For": "203.0.113.10"})
        assert other is not None and session_address(base, other) == "203.0.113.10"
        assert login(base, proxy, AGENT1) is not None  # the proxy itself was never refused
        # from an address that is no trusted proxy the header is ignored: .2 is .2, whatever it claims
        spoofed = login(base, "127.0.0.2", AGENT1, **{"X-Forwarded-For": "203.0.113.9"})
        assert spoofed is not None and session_address(base, spoofed) == "127.0.0.2"
        for _ in range(3):
            assert login(base, "127.0.0.2", WRONG, **{"X-Forwarded-For": "203.0.113.11"}) is None
        assert login(base, "127.0.0.2", AGENT1) is None
        assert login(base, proxy, AGENT1, **{"X-Forwarded-For": "203.0.113.11"}) is not None
    rows = failure_rows(server.database_url)
    assert "login:127.0.0.2:User:agent1" in rows and "login:203.0.113.11:User:agent1" not in rows


def test_the_communication_log_records_the_forwarded_address(settings):
    gateway = make_app(dataclasses.replace(settings, trusted_proxies="10.0.0.0/8"))
    try:
        Client(gateway).post(
            f"{REST}/Session",
            json=ROOT,
            environ_base={"REMOTE_ADDR": "10.1.2.3"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        gateway.commlog.flush()
        logged = webservices.webservice_log(gateway.runtime.db, "GenericTicketConnectorREST", 1)
        assert [row["remote_ip"] for row in logged] == ["198.51.100.7"]
    finally:
        gateway.close()
