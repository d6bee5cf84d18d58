"""The communication log records every request, its bodies as the web service's DebugThreshold says, and never a
secret."""

from __future__ import annotations

import threading
import time

from gateway.admin import webservices
from gateway.commlog import CommunicationLog
from gateway.redaction import redact_body, redact_query
from tests.conftest import REST, SOAP, TICKET_NS, keep_bodies


def test_redact_json_xml_and_query():
    assert "s3cret" not in redact_body(b'{"UserLogin": "a", "Password": "s3cret", "Nested": [{"SessionID": "s3cret"}]}')
    assert "s3cret" not in redact_body(b'{"Password": "s3cret", broken')
    xml = f'<x:SessionCreate xmlns:x="{TICKET_NS}"><x:Password>s3cret</x:Password><SessionID a="1">s3cret</SessionID>'
    assert "s3cret" not in redact_body(xml.encode()) and "<x:Password>***</x:Password>" in redact_body(xml.encode())
    assert redact_query("UserLogin=a&Password=s3cret&x=1") == "UserLogin=a&Password=***&x=1"


def test_each_request_is_logged_with_secrets_redacted(client, gateway, db, settings):
    keep_bodies(gateway, db, settings, "GenericTicketConnectorREST")
    keep_bodies(gateway, db, settings, "GenericTicketConnectorSOAP")
    client.post(
        f"{REST}/Session?Password=querysecret",
        json={"UserLogin": "root@localhost", "Password": "root"},
        headers={"X-OTRS-Header-Password": "headersecret"},
    )
    client.post(f"{REST}/Session", json={"UserLogin": "root@localhost", "Password": "wrongsecret"})
    client.post(
        SOAP,
        content_type="text/xml",
        data=(
            '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><SessionCreate>'
            "<UserLogin>root@localhost</UserLogin><Password>soapsecret</Password></SessionCreate></e:Body></e:Envelope>"
        ),
    )
    gateway.commlog.flush()
    rest = webservices.webservice_log(db, "GenericTicketConnectorREST", 10)
    soap = webservices.webservice_log(db, "GenericTicketConnectorSOAP", 10)
    assert [(r["operation"], r["http_status"]) for r in rest] == [("SessionCreate", 200)] * 2
    assert soap[0]["operation"] == "SessionCreate" and soap[0]["http_status"] == 200
    stored = " ".join(f"{r['request']} {r['response']}" for r in rest + soap)
    for secret in ('root"', "querysecret", "headersecret", "wrongsecret", "soapsecret"):
        assert secret not in stored
    assert "SessionCreate.AuthFail" in stored  # the business error is visible
    assert all(len(r["communication_id"]) == 16 for r in rest)


def test_below_the_threshold_an_exchange_is_logged_without_its_bodies(client, gateway, db, settings):
    """DebugThreshold error (the presets'): a success is listed (time, operation, status) but its bodies are not
    kept, as Znuny keeps no debug entry; an error answer keeps them. At debug every exchange keeps them."""
    login = {"UserLogin": "root@localhost", "Password": "root"}
    client.post(f"{REST}/Session?Lang=de", json=login)
    client.post(f"{REST}/Session", json={**login, "Password": "wrong"})
    client.get(f"{REST}/Ticket/abc", query_string=login)
    gateway.commlog.flush()
    failed, refused, ok = webservices.webservice_log(db, "GenericTicketConnectorREST", 10)
    assert (ok["operation"], ok["http_status"], ok["request"], ok["response"]) == (
        "SessionCreate",
        200,
        "POST /Session?Lang=de\n\n",
        "",
    )
    assert refused["error_code"] == "SessionCreate.AuthFail" and "SessionCreate.AuthFail" in refused["response"]
    assert '"Password": "***"' in refused["request"] and "wrong" not in refused["request"]
    assert failed["error_code"] == "TicketGet.WrongStructure" and "Password=***" in failed["request"]

    keep_bodies(gateway, db, settings, "GenericTicketConnectorREST")
    client.post(f"{REST}/Session", json=login)
    gateway.commlog.flush()
    kept = webservices.webservice_log(db, "GenericTicketConnectorREST", 1)[0]
    assert kept["http_status"] == 200 and '"Password": "***"' in kept["request"] and "SessionID" in kept["response"]


def test_old_entries_are_purged(client, gateway, db):
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO communication_log (webservice_id, communication_id, operation, http_status,"
            " duration_ms, create_time) VALUES (1, 'old', 'SessionCreate', 200, 1, '2001-01-01 00:00:00')"
        )
    client.post(f"{REST}/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    gateway.commlog.flush()
    ids = [r["communication_id"] for r in webservices.webservice_log(db, "GenericTicketConnectorREST", 10)]
    assert "old" not in ids and len(ids) == 1


HOSTILE = {
    "deep": b'{"a":' * 500 + b"1" + b"}" * 500,
    "deeper": b"[" * 100_000 + b"]" * 100_000,
    "nul": b'{"UserLogin": "a\\u0000b", "raw": "\x00"}',
    "not utf-8": b'{"UserLogin": "\xff\xfe\xe9"}',
    "lone surrogate": b'{"UserLogin": "\\ud800", "Other": "\\udfff\\ud800"}',
    "xml nul": b"<a>\x00</a>",
}


def _exchange(log: CommunicationLog, communication_id: str, body: bytes, duration_ms: int = 1) -> None:
    log.record(1, communication_id, "127.0.0.1", "TicketSearch", 200, duration_ms, "POST /Ticket", "", body, body)


def _stored(db, limit: int = 100) -> dict[str, dict]:
    return {r["communication_id"]: r for r in webservices.webservice_log(db, "GenericTicketConnectorREST", limit)}


def test_what_no_parser_reads_is_stored_and_the_writer_goes_on(db):
    """A body nested too deep, NUL, bytes that are no UTF-8, lone surrogates: each is kept, on both backends,
    and the thread writes what follows."""
    log = CommunicationLog(db, 7, flush_interval=0.05)
    for name, body in HOSTILE.items():
        _exchange(log, name, body)
    _exchange(log, "normal", b'{"UserLogin": "agent1"}')
    deadline = time.monotonic() + 10
    while len(_stored(db)) < len(HOSTILE) + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = _stored(db)
    assert set(rows) == {*HOSTILE, "normal"}
    assert log.skipped == 0 and log.dropped == 0 and log._thread.is_alive()
    assert '"raw": "\\x00"' in rows["nul"]["request"] and "\\ud800" in rows["lone surrogate"]["request"]
    assert "\\x00" in rows["xml nul"]["request"] and "ÿþé" in rows["not utf-8"]["request"]
    assert rows["deep"]["request"].endswith("1" + "}" * 500) and '"agent1"' in rows["normal"]["request"]
    log.close()


def test_a_record_the_database_refuses_is_skipped_and_its_batch_written(db, caplog):
    log = CommunicationLog(db, 7, flush_interval=3600)
    _exchange(log, "before", b"{}")
    _exchange(log, "refused", b"{}", duration_ms=2**64)  # no INTEGER column holds it
    _exchange(log, "after", b"{}")
    log.flush()
    assert set(_stored(db)) == {"before", "after"}
    assert (log.skipped, log.written) == (1, 2)
    assert "the database refused record refused" in caplog.text
    log.close()


def test_a_full_queue_drops_and_counts_records_with_one_warning(db, caplog):
    log = CommunicationLog(db, 7, flush_interval=3600, max_records=3)
    for i in range(6):
        _exchange(log, f"r{i}", b"{}")
    assert log.dropped == 3
    warnings = [r.getMessage() for r in caplog.records if "records lost" in r.getMessage()]
    assert warnings == [
        "communication log: 1 records lost since the last warning, the latest as the queue was full"
        " (the database is slow or unreachable)"
    ]
    log.flush()
    assert set(_stored(db)) == {"r0", "r1", "r2"}
    _exchange(log, "later", b"{}")  # room again
    log.flush()
    assert "later" in _stored(db) and log.dropped == 3
    log.close()


def test_the_queue_is_bounded_in_bytes_too(db):
    log = CommunicationLog(db, 7, flush_interval=3600, max_bytes=1000)
    _exchange(log, "fits", b"x" * 400)  # request and response: 800 bytes
    _exchange(log, "too much", b"x" * 400)
    assert log.dropped == 1
    log.close()
    assert set(_stored(db)) == {"fits"}


def test_a_writer_thread_that_ended_is_replaced_by_the_next_record(db):
    log = CommunicationLog(db, 7, flush_interval=0.05)
    _exchange(log, "first", b"{}")
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    log._thread = ended  # as if the writer had died
    _exchange(log, "second", b"{}")
    deadline = time.monotonic() + 10
    while "second" not in _stored(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {"first", "second"} <= set(_stored(db)) and log._thread is not ended and log._thread.is_alive()
    log.close()


def test_requests_no_database_stores_as_sent_are_logged_too(client, gateway, db):
    """A NUL byte (PostgreSQL refuses it in text) or a lone surrogate escape once lost the whole batch of records."""
    client.post(f"{REST}/Session", data=b'{"UserLogin": "\x00"}', content_type="application/json")
    client.post(f"{REST}/Session", data='{"UserLogin": "\\ud800", "Password": "s3cret"}')
    client.post(f"{REST}/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    gateway.commlog.flush()
    logged = webservices.webservice_log(db, "GenericTicketConnectorREST", 10)
    assert sorted(r["http_status"] for r in logged) == [200, 400, 400]
    stored = " ".join(r["request"] for r in logged)
    assert "\\ud800" in stored and "\\x00" in stored and "s3cret" not in stored
