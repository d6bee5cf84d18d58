"""What an operator watches: /metrics (Prometheus, every gunicorn worker's counts added up) and the request log.

The served tests run `gateway serve` with two workers, so a count that only one worker's values made
would come out short: requests on new connections are shared out between them by the kernel.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
from gunicorn.config import Config
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from gateway import metrics
from gateway.accesslog import RedactingLogger
from gateway.app import make_app
from gateway.environ import CLIENT_ADDRESS, OPERATION, REQUEST_ID, WEBSERVICE
from gateway.store import mailqueue
from gateway.store.database import Database
from tests.conftest import BACKENDS, REST, ROOT, SOAP, copy_database, serving, test_settings

SESSION_CREATE_SOAP = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<SessionCreate xmlns="http://www.otrs.org/TicketConnector/"><UserLogin>root@localhost</UserLogin>'
    "<Password>wrong</Password></SessionCreate></soapenv:Body></soapenv:Envelope>"
)


@pytest.fixture(scope="module", params=BACKENDS)
def logged(request, templates, tmp_path_factory) -> Iterator[tuple[object, object]]:
    directory = tmp_path_factory.mktemp("observed")
    url, drop = copy_database(request.param, templates, directory)
    access_log = directory / "requests.log"
    try:
        with serving(url, GATEWAY_ACCESS_LOG=str(access_log), GATEWAY_LOG_FORMAT="json") as running:
            yield running, access_log
    finally:
        drop()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample of a Prometheus page by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(page: dict, name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_add_up_every_workers_requests_failed_logins_and_the_outbox(logged):
    server, _ = logged
    before = samples(requests.get(f"{server.url}/metrics", timeout=10).text)
    for _ in range(12):
        assert requests.post(f"{server.url}{REST}/Session", json=ROOT, timeout=10).status_code == 200
    for _ in range(3):
        answer = requests.post(
            f"{server.url}{SOAP}", data=SESSION_CREATE_SOAP, headers={"Content-Type": "text/xml"}, timeout=10
        )
        assert "SessionCreate.AuthFail" in answer.text
    db = Database(server.database_url)
    try:
        with db.transaction() as tx:
            article_id = tx.value("SELECT MIN(id) FROM article")
            mailqueue.add(tx, article_id, "a@x.test", "b@x.test", b"Subject: x\r\n\r\nx", dt.datetime.now(dt.UTC))
    finally:
        db.close()

    response = requests.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    after = samples(response.text)
    rest = {"webservice": "GenericTicketConnectorREST", "operation": "SessionCreate"}
    soap = {"webservice": "GenericTicketConnectorSOAP", "operation": "SessionCreate"}

    def grown(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grown("gateway_requests_total", **rest, status="200") == 12
    assert grown("gateway_requests_total", **soap, status="200") == 3  # Znuny's AuthFail is an HTTP 200
    assert grown("gateway_request_duration_seconds_count", **rest) == 12
    assert grown("gateway_request_duration_seconds_bucket", **rest, le="+Inf") == 12
    assert grown("gateway_request_duration_seconds_sum", **rest) > 0
    assert grown("gateway_login_failures_total", user_type="User") == 3
    assert (
        value(after, "gateway_outbox_mails", state="queued")
        == value(before, "gateway_outbox_mails", state="queued") + 1
    )
    assert ("gateway_outbox_delivery_attempts", (("state", "sent"),)) in after
    assert ("gateway_communication_log_dropped_total", ()) in after


def test_the_request_log_has_a_json_line_per_request_with_the_id_the_client_got(logged):
    server, access_log = logged
    mine = requests.post(f"{server.url}{REST}/Session", json=ROOT, headers={"X-Request-ID": "client-id-42"}, timeout=10)
    assert mine.headers["X-Request-ID"] == "client-id-42"  # a client's own sane id is kept
    given = requests.post(f"{server.url}{REST}/Session", json=ROOT, headers={"X-Request-ID": "bad id\t;"}, timeout=10)
    assert re.fullmatch(r"[0-9a-f]{16}", given.headers["X-Request-ID"])  # not that one: a new id
    missing = requests.get(f"{server.url}/otrs/nph-genericinterface.pl/Webservice/Nope", timeout=10)
    in_query = requests.get(f"{server.url}{REST}/Session/x", params={**ROOT, "Password": "Qu3ry-Secret"}, timeout=10)

    def line_of(request_id: str) -> dict:
        """Its line, once gunicorn has written it (after the answer went out)."""
        deadline = time.monotonic() + 5
        while True:
            for line in access_log.read_text().splitlines():
                record = json.loads(line)  # every line is one JSON object
                if record["request_id"] == request_id:
                    return record
            assert time.monotonic() < deadline, f"no line for {request_id}"
            time.sleep(0.05)

    record = line_of("client-id-42")
    assert record["webservice"] == "GenericTicketConnectorREST" and record["operation"] == "SessionCreate"
    assert record["status"] == 200 and record["client"] == "127.0.0.1" and record["bytes"] > 0
    assert record["request"].startswith(
        "POST /otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Session"
    )
    assert 0 < record["duration_ms"] < 10_000
    assert line_of(given.headers["X-Request-ID"])["operation"] == "SessionCreate"
    unknown = line_of(missing.headers["X-Request-ID"])
    assert unknown["status"] == 404 and unknown["webservice"] == "" and unknown["operation"] == ""
    secret = line_of(in_query.headers["X-Request-ID"])
    assert secret["operation"] == "SessionGet" and "Password=***" in secret["request"], secret
    assert "Qu3ry-Secret" not in access_log.read_text()  # a password in a query string is in no line


@pytest.mark.parametrize("backend", BACKENDS)
def test_metrics_are_refused_to_addresses_the_setting_does_not_allow(backend, templates, tmp_path):
    url, drop = copy_database(backend, templates, tmp_path)
    app = make_app(test_settings(url, metrics_allowed="10.1.0.0/16", trusted_proxies="127.0.0.1"))
    try:
        client = Client(app)
        refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert refused.status_code == 403 and "metrics_allowed" in refused.get_data(as_text=True)
        behind = client.get(
            "/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"X-Forwarded-For": "10.1.2.3"}
        )
        assert behind.status_code == 200 and "gateway_outbox_mails" in behind.get_data(as_text=True)
        spoofed = client.get(
            "/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}, headers={"X-Forwarded-For": "10.1.2.3"}
        )
        assert spoofed.status_code == 403  # X-Forwarded-For counts only from a trusted proxy
    finally:
        app.close()
        drop()


def test_the_text_request_log_is_one_line_with_the_request_line_quoted(monkeypatch):
    monkeypatch.setenv("GATEWAY_LOG_FORMAT", "text")
    config = Config()
    config.set("accesslog", "-")
    logger = RedactingLogger(config)
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    monkeypatch.setattr(logger.access_log, "handlers", [handler])
    monkeypatch.setattr(logger.access_log, "propagate", False)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": '/R/Session/s3cretValue?L="x"',
        "PATH_INFO": "/R/Session/s3cretValue",
        "QUERY_STRING": 'L="x"',
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        REQUEST_ID: "abc123",
        CLIENT_ADDRESS: "198.51.100.4",
        WEBSERVICE: SimpleNamespace(name="GenericTicketConnectorREST"),
        OPERATION: "SessionGet",
    }
    response = SimpleNamespace(status="200 OK", headers=[], sent=321)
    logger.access(response, SimpleNamespace(headers=[]), environ, dt.timedelta(milliseconds=12.34))
    (line,) = written.getvalue().splitlines()
    assert re.fullmatch(
        r'\S+Z abc123 198\.51\.100\.4 "GET /R/Session/\*\*\*\?L=\\"x\\" HTTP/1\.1" GenericTicketConnectorREST'
        r" SessionGet 200 12\.3ms 321B",
        line,
    ), line


def test_an_operation_name_a_client_makes_up_adds_no_series(logged):
    server, _ = logged
    for n in range(3):
        body = SESSION_CREATE_SOAP.replace("SessionCreate", f"Made{n}Up")
        requests.post(f"{server.url}{SOAP}", data=body, headers={"Content-Type": "text/xml"}, timeout=10)
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    assert "Made0Up" not in text and "Made2Up" not in text
    counted = [dict(labels) for name, labels in samples(text) if name == "gateway_requests_total"]
    assert any(
        labels["operation"] == "unknown" and labels["webservice"] == "GenericTicketConnectorSOAP" for labels in counted
    ), counted


def test_a_scrape_with_the_database_down_still_gives_the_counts():
    text, _ = metrics.page(Database("postgresql://nobody@127.0.0.1:1/none", 1, 2.0), "")
    page = samples(text.decode())
    assert value(page, "gateway_database_up") == 0
    assert ("gateway_communication_log_dropped_total", ()) in page
    assert not any(name == "gateway_outbox_mails" for name, _ in page)


def test_a_metrics_directory_loses_only_old_metric_files(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"x")
    (tmp_path / "histogram_9.db").write_bytes(b"x")
    (tmp_path / "gateway.db").write_bytes(b"keep")
    metrics.prepare_directory(str(tmp_path))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gateway.db"]
    metrics.prepare_directory(str(tmp_path / "new" / "metrics"))
    assert (tmp_path / "new" / "metrics").is_dir()
