"""The admin pages through the WSGI application, on SQLite and PostgreSQL: every page and action, what it
changed in the database, and the refusals (no session, no CSRF token, no admin rights, bad input)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import io
import json
import os
import re

import pytest
import yaml
from werkzeug.test import Client

from gateway.admin import directory
from gateway.admin import webservices as admin_webservices
from gateway.app import make_app
from gateway.store import history, mailqueue, webservices
from gateway.store.database import as_datetime, utcnow
from gateway.webservice import presets
from tests.conftest import keep_bodies, run_console, test_settings, until

PREFIX = "/otrs/nph-genericinterface.pl/Webservice"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no form with a CSRF token on the page"
    return found[1]


def login(client: Client, user: str = "root@localhost", password: str = "root", **environ: str):
    form = client.get("/admin/login", environ_base=environ)
    assert form.status_code == 200
    return client.post(
        "/admin/login",
        data={"User": user, "Password": password, "csrf_token": token(form.text)},
        environ_base=environ,
    )


@pytest.fixture
def admin(client: Client) -> Client:
    assert login(client).status_code == 303
    return client


def post(client: Client, path: str, data: dict | None = None, page: str | None = None, **kwargs):
    """A form POST with the CSRF token of `page` (default: the web-service list)."""
    html = client.get(page or "/admin/webservices").text
    version = re.search(r'name="Version" value="(\d+)"', html)  # the edit form's: the version it was made from
    hidden = {"csrf_token": token(html), **({"Version": version[1]} if version else {})}
    return client.post(path, data={**hidden, **(data or {})}, **kwargs)


def stored(db, name: str):
    with db.transaction(write=False) as tx:
        return webservices.by_name(tx, name)


def changes(db, name: str) -> list[tuple[str, str]]:
    with db.transaction(write=False) as tx:
        row = webservices.by_name(tx, name)
        rows = history.changes(tx, history.WEBSERVICE, row["id"] if row else None)
    return [(r["actor"], r["action"]) for r in rows if r["object_name"] == name]


# -- who may see the pages -----------------------------------------------------------------------------


def test_pages_need_a_login_and_a_post_without_session_changes_nothing(client, db):
    answer = client.get("/admin/webservices/GenericTicketConnectorREST")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/admin/login?next=")
    answer = client.post("/admin/webservices/add", data={"Preset": "OutOfOffice", "Name": "Sneaky"})
    assert answer.status_code == 403
    assert stored(db, "Sneaky") is None
    # after logging in, the page asked for first
    form = client.get(client.get("/admin/webservices/OutOfOffice").headers["Location"])
    answer = client.post(
        "/admin/login",
        data={
            "User": "root@localhost",
            "Password": "root",
            "csrf_token": token(form.text),
            "next": "/admin/webservices/OutOfOffice",
        },
    )
    assert answer.headers["Location"] == "/admin/webservices/OutOfOffice"


def test_the_session_cookie_is_httponly_strict_and_never_in_a_page(client):
    answer = login(client)
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/webservices"
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("gateway_admin="))
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert len(session_id) >= 32
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # served over http
    for path in ("/admin/webservices", "/admin/webservices/GenericTicketConnectorREST", "/admin/mail"):
        page = client.get(path)
        assert page.status_code == 200
        assert session_id not in page.text
        assert "$argon2" not in page.text and "<script" not in page.text
        assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script at all
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"


def test_the_cookie_is_secure_when_the_public_url_is_https(database_url):
    app = make_app(dataclasses.replace(test_settings(database_url), public_url="https://gateway.example.test"))
    try:
        answer = login(Client(app))
        cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("gateway_admin="))
        assert "Secure" in cookie
    finally:
        app.close()


def test_a_wrong_password_is_refused_and_counts_against_the_api_limit(client):
    answer = login(client, password="wrong")
    assert answer.status_code == 403
    assert "Login failed" in answer.text
    assert "gateway_admin=" not in " ".join(answer.headers.getlist("Set-Cookie")).replace("gateway_admin_login", "")
    # the API's failures and the page's count together (limit 5 in the tests' settings)
    for _ in range(3):
        api = client.post(
            f"{PREFIX}/GenericTicketConnectorREST/Session", json={"UserLogin": "root@localhost", "Password": "nope"}
        )
        assert "SessionCreate.AuthFail" in api.text
    assert login(client, password="wrong").status_code == 403
    refused = login(client)  # the right password, now that the limit is reached
    assert refused.status_code == 403
    assert client.get("/admin/webservices").status_code == 303


def test_an_agent_without_rw_on_admin_is_refused(client, db, settings):
    answer = login(client, "agent1", "agent1")
    assert answer.status_code == 403
    assert "Login failed" in answer.text  # the same words as a wrong password: the page tells nothing
    assert client.get("/admin/webservices").status_code == 303
    # an administrator who loses the right is out at the next page
    assert login(client).status_code == 303
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM group_user WHERE user_id = (SELECT id FROM users WHERE login = 'root@localhost')"
            " AND group_id = (SELECT id FROM permission_groups WHERE name = 'admin')"
        )
    assert client.get("/admin/webservices").status_code == 303


def test_a_login_post_without_its_token_is_refused(client):
    answer = client.post("/admin/login", data={"User": "root@localhost", "Password": "root"})
    assert answer.status_code == 403
    assert client.get("/admin/webservices").status_code == 303


def test_logout_ends_the_session(admin):
    answer = post(admin, "/admin/logout")
    assert answer.status_code == 303
    assert admin.get("/admin/webservices").status_code == 303


# -- CSRF --------------------------------------------------------------------------------------------


def test_a_post_without_a_valid_csrf_token_is_403_and_changes_nothing(admin, db, database_url):
    refused = admin.post("/admin/webservices/add", data={"Preset": "OutOfOffice", "Name": "NoToken"})
    assert refused.status_code == 403
    # another session's token is no token for this one
    other_app = make_app(test_settings(database_url))
    try:
        other = Client(other_app)
        login(other)
        foreign = token(other.get("/admin/webservices").text)
    finally:
        other_app.close()
    refused = admin.post(
        "/admin/webservices/add", data={"Preset": "OutOfOffice", "Name": "NoToken", "csrf_token": foreign}
    )
    assert refused.status_code == 403
    for path in (
        "/admin/webservices/OutOfOffice/delete",
        "/admin/webservices/OutOfOffice/valid",
        "/admin/mail/purge",
        "/admin/mail/retry",
    ):
        assert admin.post(path, data={"Valid": "0", "State": "sent"}).status_code == 403
    assert stored(db, "NoToken") is None
    assert stored(db, "OutOfOffice")["valid_id"] == 1


# -- web services ------------------------------------------------------------------------------------


def test_the_list_offers_every_preset_with_its_description(admin):
    page = admin.get("/admin/webservices").text
    for name, description in presets.available().items():
        assert f'<option value="{name}"' in page
        assert description.replace("'", "&#39;") in page
    assert 'name="Name"' in page and 'name="File"' in page
    assert page.count('class="webservice"') >= 6


def test_add_from_a_preset_under_a_new_name_is_served(admin, db):
    answer = post(admin, "/admin/webservices/add", {"Preset": "TimeAccountingREST", "Name": "TA2"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/admin/webservices/TA2"
    assert stored(db, "TA2")["config"] == presets.read("TimeAccountingREST")
    assert changes(db, "TA2") == [("root@localhost", "add")]
    page = admin.get("/admin/webservices/TA2")
    assert "Added web service TA2" in page.text and "/TimeAccounting" in page.text
    until(lambda: admin.get(f"{PREFIX}/TA2/openapi.json").status_code == 200, 5)
    # the name defaults to the preset's; a second one of that name is refused, nothing added
    refused = post(admin, "/admin/webservices/add", {"Preset": "TimeAccountingREST", "Name": ""})
    assert refused.status_code == 400
    assert "another web service with the same name" in refused.text


def test_import_a_znuny_export_names_it_after_the_file(admin, db):
    text = presets.read("OutOfOfficeSOAP")
    answer = post(admin, "/admin/webservices/import", {"File": (_file(text), "MyOutOfOffice.yml"), "Name": ""})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/webservices/MyOutOfOffice"
    assert stored(db, "MyOutOfOffice")["config"] == text
    until(lambda: admin.get(f"{PREFIX}/MyOutOfOffice?wsdl").status_code == 200, 5)
    bad = post(admin, "/admin/webservices/import", {"File": (_file("Provider: [unclosed"), "Bad.yml"), "Name": "B"})
    assert bad.status_code == 400
    assert "not valid YAML" in bad.text
    assert stored(db, "B") is None


def _file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def test_a_rest_page_shows_routes_and_a_soap_page_its_namespace_and_soapaction(admin):
    rest = admin.get("/admin/webservices/GenericTicketConnectorREST").text
    assert "/Ticket/:TicketID" in rest and "Ticket::TicketGet" in rest
    assert f"{PREFIX}/GenericTicketConnectorREST/openapi.json" in rest
    soap = admin.get("/admin/webservices/GenericTicketConnectorSOAP").text
    assert "http://www.otrs.org/TicketConnector/" in soap
    assert "http://www.otrs.org/TicketConnector/#TicketGet" in soap  # the SOAPAction Znuny expects
    assert "NameSpaceSeparatorOperation" in soap and f"{PREFIX}/GenericTicketConnectorSOAP?wsdl" in soap
    assert admin.get("/admin/webservices/NoSuchService").status_code == 404


def test_the_api_page_has_an_example_request_per_operation(admin):
    page = admin.get("/admin/webservices/GenericTicketConnectorREST/api").text
    for operation in ("SessionCreate", "TicketCreate", "TicketGet", "TicketSearch", "TicketUpdate"):
        assert f'id="op-{operation}"' in page
    assert page.count('class="example"') >= 5
    soap = admin.get("/admin/webservices/GenericTicketConnectorSOAP/api").text
    assert "Envelope" in soap


def test_export_downloads_the_stored_yaml(admin, db):
    answer = admin.get("/admin/webservices/OutOfOffice/export")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == "attachment; filename=OutOfOffice.yml"
    assert answer.text == stored(db, "OutOfOffice")["config"]


def test_an_edit_with_an_error_shows_it_beside_the_text_and_saves_nothing(admin, db):
    before = stored(db, "OutOfOffice")["config"]
    broken = before.replace("Type: HTTP::REST", "Type: HTTP::FTP")
    answer = post(
        admin, "/admin/webservices/OutOfOffice/edit", {"Config": broken}, page="/admin/webservices/OutOfOffice/edit"
    )
    assert answer.status_code == 400
    assert "unsupported provider transport" in answer.text
    assert "HTTP::FTP" in answer.text  # the text as typed, to correct
    assert stored(db, "OutOfOffice")["config"] == before
    edited = before.replace("Description:", "Description: edited in the browser;", 1)
    assert edited != before
    answer = post(
        admin, "/admin/webservices/OutOfOffice/edit", {"Config": edited}, page="/admin/webservices/OutOfOffice/edit"
    )
    assert answer.status_code == 303
    assert stored(db, "OutOfOffice")["config"] == edited
    assert ("root@localhost", "update") in changes(db, "OutOfOffice")


def test_history_shows_a_diff_and_restores_an_earlier_version(admin, db):
    before = stored(db, "OutOfOffice")["config"]
    edited = before.replace("Description:", "Description: second;", 1)
    post(admin, "/admin/webservices/OutOfOffice/edit", {"Config": edited}, page="/admin/webservices/OutOfOffice/edit")
    page = admin.get("/admin/webservices/OutOfOffice/history").text
    assert page.count('class="version"') == 2
    diff = admin.get("/admin/webservices/OutOfOffice/history/1").text
    assert re.search(r'<span class="add">\+[^<]*second;', diff)
    answer = post(
        admin, "/admin/webservices/OutOfOffice/history/1/restore", page="/admin/webservices/OutOfOffice/history/1"
    )
    assert answer.status_code == 303
    assert stored(db, "OutOfOffice")["config"] == before
    assert admin.get("/admin/webservices/OutOfOffice/history").text.count('class="version"') == 3
    assert ("root@localhost", "restore") in changes(db, "OutOfOffice")


def test_clone_disable_enable_and_delete_with_a_confirmation(admin, db):
    answer = post(admin, "/admin/webservices/OutOfOffice/clone", {"NewName": "OOO2"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/webservices/OOO2"
    assert stored(db, "OOO2")["config"] == stored(db, "OutOfOffice")["config"]
    assert post(admin, "/admin/webservices/OOO2/valid", {"Valid": "0"}).status_code == 303
    assert stored(db, "OOO2")["valid_id"] != 1
    until(lambda: admin.get(f"{PREFIX}/OOO2/openapi.json").status_code == 404, 5)
    assert post(admin, "/admin/webservices/OOO2/valid", {"Valid": "1"}).status_code == 303
    until(lambda: admin.get(f"{PREFIX}/OOO2/openapi.json").status_code == 200, 5)
    confirm = admin.get("/admin/webservices/OOO2/delete")
    assert confirm.status_code == 200 and 'id="confirm-delete"' in confirm.text
    assert stored(db, "OOO2") is not None  # asking is not deleting
    answer = admin.post("/admin/webservices/OOO2/delete", data={"csrf_token": token(confirm.text)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/webservices"
    assert stored(db, "OOO2") is None
    until(lambda: admin.get(f"{PREFIX}/OOO2/openapi.json").status_code == 404, 5)
    assert [action for _, action in changes(db, "OOO2")] == ["delete", "enable", "disable", "clone"]


# -- escaping ------------------------------------------------------------------------------------------


def test_markup_in_a_name_or_a_logged_body_shows_as_text(admin, gateway, db):
    name = "<img src=x onerror=alert(1)>"
    assert post(admin, "/admin/webservices/add", {"Preset": "OutOfOffice", "Name": name}).status_code == 303
    for path in ("/admin/webservices", f"/admin/webservices/{name}"):
        page = admin.get(path).text
        assert name not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    admin.post(f"{PREFIX}/GenericTicketConnectorREST/Session", json={"UserLogin": "<script>alert(2)</script>"})
    gateway.commlog.flush()
    log = admin.get("/admin/webservices/GenericTicketConnectorREST/log").text
    entry = re.search(r'href="(/admin/webservices/GenericTicketConnectorREST/log/\d+)"', log)[1]
    page = admin.get(entry).text
    assert "<script>alert(2)" not in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page


# -- the debugger ------------------------------------------------------------------------------------------


def test_the_debugger_lists_filters_and_shows_an_entry_redacted(admin, gateway, db, settings):
    keep_bodies(gateway, db, settings, "GenericTicketConnectorREST")
    rest = f"{PREFIX}/GenericTicketConnectorREST"
    admin.post(f"{rest}/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    admin.get(f"{rest}/Ticket/999999", query_string={"UserLogin": "root@localhost", "Password": "root"})
    gateway.commlog.flush()
    page = admin.get("/admin/webservices/GenericTicketConnectorREST/log")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="entry">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 2 and "TicketGet" in rows[0] and "SessionCreate" in rows[1]  # newest first
    assert "<svg" in page.text and 'class="req"' in page.text
    only = admin.get("/admin/webservices/GenericTicketConnectorREST/log", query_string={"operation": "SessionCreate"})
    assert len(re.findall(r'<tr class="entry">', only.text)) == 1
    errors = admin.get("/admin/webservices/GenericTicketConnectorREST/log", query_string={"status": "error"})
    assert len(re.findall(r'<tr class="entry">', errors.text)) == 1 and "TicketGet" in errors.text
    entry = re.findall(r'href="(/admin/webservices/GenericTicketConnectorREST/log/\d+)"', page.text)[-1]
    shown = admin.get(entry).text
    assert "SessionCreate" in shown and "&#34;Password&#34;: &#34;***&#34;" in shown.replace("&quot;", "&#34;")
    assert '"root"' not in shown and "&#34;root&#34;" not in shown.replace("&quot;", "&#34;")
    bad = admin.get("/admin/webservices/GenericTicketConnectorREST/log", query_string={"since": "yesterday"})
    assert bad.status_code == 400 and "is not a time" in bad.text
    assert 'class="entry"' not in bad.text  # a refused filter lists nothing, not everything


def test_an_entry_below_the_threshold_says_why_its_bodies_are_missing(admin, gateway):
    admin.post(f"{PREFIX}/GenericTicketConnectorREST/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    gateway.commlog.flush()
    page = admin.get("/admin/webservices/GenericTicketConnectorREST/log").text
    shown = admin.get(re.findall(r'href="(/admin/webservices/GenericTicketConnectorREST/log/\d+)"', page)[0]).text
    assert "SessionCreate" in shown and 'id="threshold-note"' in shown and "DebugThreshold is error" in shown
    assert re.search(r'<pre id="response"></pre>', shown)


# -- the mail queue ------------------------------------------------------------------------------------------


def _queue(db, subject: str) -> int:
    raw = f"From: gateway@example.test\r\nTo: one@example.test\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
    with db.transaction() as tx:
        return mailqueue.add(tx, None, "gateway@example.test", "one@example.test\ntwo@example.test", raw, utcnow())


def test_the_mail_queue_shows_messages_and_retries_and_purges(admin, db):
    queued = _queue(db, "<b>Hello</b>")
    failed = _queue(db, "Second")
    with db.transaction() as tx:
        tx.execute("UPDATE mail_queue SET state = 'failed', attempts = 5 WHERE id = ?", [failed])
        tx.execute(
            "INSERT INTO mail_attempt (mail_id, attempt_time, smtp_code, smtp_message, worker) VALUES (?, ?, ?, ?, ?)",
            [failed, utcnow(), 550, "5.1.1 <two@example.test>: user unknown", "worker-1"],
        )
    page = admin.get("/admin/mail")
    assert page.status_code == 200 and f"#{queued}" in page.text and f"#{failed}" in page.text
    assert "failed (1)" in page.text and "queued (1)" in page.text
    assert f"#{queued}" not in admin.get("/admin/mail", query_string={"state": "failed"}).text
    message = admin.get(f"/admin/mail/{failed}").text
    assert "550" in message and "user unknown" in message and "two@example.test" in message
    assert "&lt;b&gt;Hello&lt;/b&gt;" in admin.get(f"/admin/mail/{queued}").text
    answer = post(admin, "/admin/mail/retry", {"Message": str(failed)}, page="/admin/mail")
    assert answer.status_code == 303
    with db.transaction(write=False) as tx:
        assert mailqueue.states(tx, [failed])[failed] == "queued"
        tx_rows = history.changes(tx, history.MAIL)
    assert tx_rows[0]["action"] == "retry" and tx_rows[0]["actor"] == "root@localhost"
    with db.transaction() as tx:
        tx.execute("UPDATE mail_queue SET state = 'sent' WHERE id = ?", [queued])
    assert (
        post(admin, "/admin/mail/purge", {"State": "sent", "OlderThanDays": "0"}, page="/admin/mail").status_code == 303
    )
    with db.transaction(write=False) as tx:
        assert mailqueue.states(tx, [queued, failed]) == {failed: "queued"}
    assert admin.get("/admin/mail/999999").status_code == 404


def test_pages_of_an_unknown_address_are_404_and_static_files_are_served(admin):
    assert admin.get("/admin/nothing-here").status_code == 404
    css = admin.get("/admin/static/admin.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert admin.get("/admin/static/../app.py").status_code == 404
    assert json.loads(admin.get("/health").text)["Database"] == "ok"


def test_a_session_expires_as_a_gi_session_does(admin, db, settings):
    assert admin.get("/admin/webservices").status_code == 200
    idle = utcnow() - dt.timedelta(seconds=settings.session_max_idle_time + 5)
    with db.transaction() as tx:
        tx.execute("UPDATE admin_session SET last_request = ?", [idle])
    assert admin.get("/admin/webservices").status_code == 303
    assert login(admin).status_code == 303
    old = utcnow() - dt.timedelta(seconds=settings.session_max_time + 5)
    with db.transaction() as tx:
        tx.execute("UPDATE admin_session SET create_time = ?", [old])
    assert admin.get("/admin/webservices").status_code == 303


def test_an_admin_cookie_is_no_api_session_and_an_api_session_no_cookie(client):
    answer = login(client)
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("gateway_admin="))
    admin_session = cookie.split(";")[0].split("=", 1)[1]
    rest = f"{PREFIX}/GenericTicketConnectorREST"
    got = client.get(f"{rest}/Session/{admin_session}")
    assert "SessionGet.SessionInvalid" in got.text or "SessionGet.AuthFail" in got.text
    api_session = client.post(f"{rest}/Session", json={"UserLogin": "root@localhost", "Password": "root"}).json[
        "SessionID"
    ]
    stranger = Client(client.application)
    stranger.set_cookie("gateway_admin", api_session, path="/admin")
    assert stranger.get("/admin/webservices").status_code == 303


# -- refusals a browser would not send, but a person or a script may -----------------------------------------


def test_names_and_next_with_control_characters_are_refused_not_500(admin, db, client):
    refused = post(admin, "/admin/webservices/add", {"Preset": "OutOfOffice", "Name": "two\nlines"})
    assert refused.status_code == 400 and "control characters" in refused.text
    assert stored(db, "two\nlines") is None
    stranger = Client(client.application)
    form = stranger.get("/admin/login")
    answer = stranger.post(
        "/admin/login",
        data={
            "User": "root@localhost",
            "Password": "root",
            "csrf_token": token(form.text),
            "next": "/admin/\r\nSet-Cookie: x=1",
        },
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/webservices"
    for evil in ("//evil.example/", "/admin//evil.example", "https://evil.example/", "/admin/\\evil"):
        stranger = Client(client.application)
        form = stranger.get("/admin/login")
        answer = stranger.post(
            "/admin/login",
            data={"User": "root@localhost", "Password": "root", "csrf_token": token(form.text), "next": evil},
        )
        assert answer.headers["Location"] == "/admin/webservices", evil


def test_unknown_web_services_and_versions_are_404_and_a_wrong_method_405_with_allow(admin):
    for path in (
        "/admin/webservices/Nope/valid",
        "/admin/webservices/Nope/delete",
        "/admin/webservices/Nope/clone",
        "/admin/webservices/OutOfOffice/history/99/restore",
    ):
        assert post(admin, path, {"Valid": "0", "NewName": "X"}).status_code == 404, path
    assert admin.get("/admin/webservices/OutOfOffice/history/99").status_code == 404
    wrong = admin.open("/admin/webservices/OutOfOffice/delete", method="PUT")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    again = post(admin, "/admin/webservices/OutOfOffice/valid", {"Valid": "1"})  # enabled already
    assert again.status_code == 400 and "already" in again.text


def test_a_stored_configuration_that_does_not_parse_can_be_seen_corrected_and_deleted(admin, db):
    with db.transaction() as tx:
        tx.execute("UPDATE webservice SET config = 'Provider: [unclosed' WHERE name = 'OutOfOfficeSOAP'")
    page = admin.get("/admin/webservices/OutOfOfficeSOAP")
    assert page.status_code == 200 and "cannot be served" in page.text and "not valid YAML" in page.text
    assert admin.get("/admin/webservices/OutOfOfficeSOAP/edit").status_code == 200
    assert admin.get("/admin/webservices/OutOfOfficeSOAP/api").status_code == 200
    assert admin.get("/admin/webservices").status_code == 200
    fixed = post(
        admin,
        "/admin/webservices/OutOfOfficeSOAP/edit",
        {"Config": presets.read("OutOfOfficeSOAP")},
        page="/admin/webservices/OutOfOfficeSOAP/edit",
    )
    assert fixed.status_code == 303 and "cannot be served" not in admin.get("/admin/webservices/OutOfOfficeSOAP").text


def test_passwords_in_the_yaml_are_hidden_on_every_page_and_kept_when_saved(admin, db):
    secret = "requester-s3cret-4711"
    text = presets.read("OutOfOffice").replace(
        "Requester:\n  Transport:\n    Type: ''",
        "Requester:\n  Transport:\n    Type: HTTP::REST\n    Config:\n      Authentication:\n"
        f"        AuthType: BasicAuth\n        BasicAuthUser: me\n        BasicAuthPassword: {secret}",
    )
    assert secret in text
    assert post(admin, "/admin/webservices/import", {"File": (_file(text), "WithSecret.yml")}).status_code == 303
    edit = admin.get("/admin/webservices/WithSecret/edit").text
    assert secret not in edit and "BasicAuthPassword: &#39;(hidden 1)&#39;" in edit
    shown = re.search(r"<textarea[^>]*>(.*?)</textarea>", edit, re.S)[1]
    edited = html.unescape(shown).replace("Description:", "Description: edited;", 1)
    assert (
        post(
            admin, "/admin/webservices/WithSecret/edit", {"Config": edited}, page="/admin/webservices/WithSecret/edit"
        ).status_code
        == 303
    )
    assert secret in stored(db, "WithSecret")["config"] and "edited;" in stored(db, "WithSecret")["config"]
    for path in (
        "/admin/webservices/WithSecret/history/1",
        "/admin/webservices/WithSecret/history/2",
        "/admin/webservices/WithSecret",
        "/admin/webservices/WithSecret/api",
    ):
        assert secret not in admin.get(path).text, path


def test_retry_needs_ticked_messages_and_numbers_are_ascii_digits(admin, db):
    first, second = _queue(db, "One"), _queue(db, "Two")
    with db.transaction() as tx:
        tx.execute("UPDATE mail_queue SET state = 'failed'")
    for data in ({}, {"Message": "abc"}, {"Message": "²"}):
        refused = post(admin, "/admin/mail/retry", data, page="/admin/mail")
        assert refused.status_code == 400, data
    with db.transaction(write=False) as tx:
        assert set(mailqueue.states(tx, [first, second]).values()) == {"failed"}
    assert (
        post(admin, "/admin/mail/purge", {"State": "failed", "OlderThanDays": "²"}, page="/admin/mail").status_code
        == 400
    )
    assert post(admin, "/admin/mail/retry-failed", page="/admin/mail").status_code == 303
    with db.transaction(write=False) as tx:
        assert set(mailqueue.states(tx, [first, second]).values()) == {"queued"}


def test_the_time_filter_reads_an_offset_and_ends_with_its_minute(admin, gateway, db):
    admin.post(f"{PREFIX}/GenericTicketConnectorREST/Session", json={"UserLogin": "nobody", "Password": "x"})
    gateway.commlog.flush()
    with db.transaction(write=False) as tx:
        logged = tx.value("SELECT create_time FROM communication_log ORDER BY id DESC LIMIT 1")
    minute = as_datetime(logged).replace(second=0)
    log = "/admin/webservices/GenericTicketConnectorREST/log"

    def listed(**query: str) -> int:
        return len(re.findall(r'<tr class="entry">', admin.get(log, query_string=query).text))

    assert listed(since=f"{minute:%Y-%m-%dT%H:%M}", until=f"{minute:%Y-%m-%dT%H:%M}") == 1
    shifted = minute + dt.timedelta(hours=2)  # the same moment at UTC+02:00
    assert listed(since=f"{shifted:%Y-%m-%dT%H:%M}+02:00", until=f"{shifted:%Y-%m-%dT%H:%M}+02:00") == 1
    assert listed(since=f"{minute + dt.timedelta(minutes=1):%Y-%m-%dT%H:%M}") == 0


def test_an_agent_made_invalid_is_out_and_a_second_login_keeps_the_first_session(admin, db, client):
    other = Client(client.application)
    assert login(other).status_code == 303
    assert admin.get("/admin/webservices").status_code == 200  # both sessions live
    assert other.get("/admin/webservices").status_code == 200
    with db.transaction() as tx:
        tx.execute("UPDATE users SET valid_id = 2 WHERE login = 'root@localhost'")
    assert admin.get("/admin/webservices").status_code == 303
    assert other.get("/admin/webservices").status_code == 303


def test_deleting_a_web_service_takes_its_log(admin, gateway, db):
    post(admin, "/admin/webservices/add", {"Preset": "OutOfOffice", "Name": "Logged"})
    until(lambda: admin.post(f"{PREFIX}/Logged/OutOfOffice", json={}).status_code != 404, 5)
    gateway.commlog.flush()
    with db.transaction(write=False) as tx:
        webservice_id = webservices.by_name(tx, "Logged")["id"]
        assert tx.value("SELECT COUNT(*) FROM communication_log WHERE webservice_id = ?", [webservice_id]) >= 1
    confirm = admin.get("/admin/webservices/Logged/delete")
    admin.post("/admin/webservices/Logged/delete", data={"csrf_token": token(confirm.text)})
    with db.transaction(write=False) as tx:
        assert tx.value("SELECT COUNT(*) FROM communication_log WHERE webservice_id = ?", [webservice_id]) == 0


# -- lockouts ------------------------------------------------------------------------------------------------


def test_a_lockout_is_listed_and_lifted_and_the_lift_recorded(admin, client, db):
    stranger = Client(client.application)
    for _ in range(5):  # the tests' login_failure_limit
        assert login(stranger, "agent1", "wrong", REMOTE_ADDR="192.0.2.9").status_code == 403
    locked = login(stranger, "agent1", "agent1", REMOTE_ADDR="192.0.2.9")
    assert "Login failed" in locked.text  # refused before the password is checked
    page = admin.get("/admin/lockouts")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="lockout">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 1 and "agent1" in rows[0] and "192.0.2.9" in rows[0]
    key = re.search(r'name="Key" value="([^"]*)"', rows[0])[1]
    assert post(admin, "/admin/lockouts/lift", {"Key": html.unescape(key)}, page="/admin/lockouts").status_code == 303
    assert 'class="lockout"' not in admin.get("/admin/lockouts").text
    api = stranger.post(
        f"{PREFIX}/GenericTicketConnectorREST/Session",
        json={"UserLogin": "agent1", "Password": "agent1"},
        environ_base={"REMOTE_ADDR": "192.0.2.9"},
    )
    assert "SessionID" in api.json  # no longer refused
    with db.transaction(write=False) as tx:
        change = history.changes(tx, history.LOGIN)[0]
    assert (change["actor"], change["action"]) == ("root@localhost", "unlock") and "agent1" in change["detail"]
    assert post(admin, "/admin/lockouts/lift", {"Key": "login:nothing"}, page="/admin/lockouts").status_code == 400


def test_a_new_password_ends_the_agents_admin_sessions(admin, db, settings):
    assert admin.get("/admin/webservices").status_code == 200
    directory.set_user_password(db, settings, "root@localhost", "root")
    assert admin.get("/admin/webservices").status_code == 303


def test_names_in_any_script_are_exported_and_served(admin, db):
    name = "Tickets 日本 €"
    assert post(admin, "/admin/webservices/add", {"Preset": "OutOfOffice", "Name": name}).status_code == 303
    export = admin.get(f"/admin/webservices/{name}/export")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"] == (
        "attachment; filename=\"Tickets __ _.yml\"; filename*=UTF-8''Tickets%20%E6%97%A5%E6%9C%AC%20%E2%82%AC.yml"
    )
    until(lambda: admin.post(f"{PREFIX}/{name}/OutOfOffice", json={}).status_code != 404, 5)
    # a name within Latin-1 is found sent as Latin-1 too, as Znuny finds it (it finds no UTF-8 one)
    assert (
        post(admin, "/admin/webservices/add", {"Preset": "OutOfOffice", "Name": "Tickets \u00fcn\u00ef"}).status_code
        == 303
    )

    def served(raw_path: bytes) -> bool:  # the path's bytes as a WSGI server hands them on (PEP 3333)
        path = (f"{PREFIX}/".encode() + raw_path + b"/OutOfOffice").decode("latin-1")
        return admin.post("/", json={}, environ_overrides={"PATH_INFO": path}).status_code != 404

    until(lambda: served("Tickets \u00fcn\u00ef".encode("latin-1")), 5)
    assert served("Tickets \u00fcn\u00ef".encode())
    # a percent sign is a character of the name like any other: its URL encodes it once, as Znuny reads it
    assert post(admin, "/admin/webservices/add", {"Preset": "OutOfOffice", "Name": "Sale%41"}).status_code == 303
    until(lambda: admin.post(f"{PREFIX}/Sale%2541/OutOfOffice", json={}).status_code != 404, 5)
    for refused in (".", "a/b", "x..y"):
        assert post(admin, "/admin/webservices/add", {"Preset": "OutOfOffice", "Name": refused}).status_code == 400


def test_values_no_form_sends_are_refused(admin, db):
    assert post(admin, "/admin/webservices/OutOfOffice/valid", {"Valid": "banana"}).status_code == 400
    assert stored(db, "OutOfOffice")["valid_id"] == 1
    huge = post(admin, "/admin/mail/purge", {"State": "sent", "OlderThanDays": "9" * 10}, page="/admin/mail")
    assert huge.status_code == 400 and "century" in huge.text


def test_a_refusal_before_the_pages_carries_their_headers(database_url):
    app = make_app(test_settings(database_url, max_request_size=10_000))
    try:
        client = Client(app)
        login(client)
        answer = post(client, "/admin/webservices/import", {"File": (_file("x" * 20_000), "Big.yml")})
        assert answer.status_code == 413
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "Content-Security-Policy" not in client.get("/health").headers
    finally:
        app.close()


def test_the_console_lists_and_lifts_lockouts(client, database_url, db):
    for _ in range(5):  # the tests' login_failure_limit, which the console is given too
        login(client, "agent1", "wrong", REMOTE_ADDR="198.51.100.7")
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_LOGIN_FAILURE_LIMIT": "5"}
    listed = run_console("lockout", "list", env=env)
    assert listed.returncode == 0
    (line,) = listed.stdout.splitlines()
    key = line.split("\t")[0]
    assert "agent login 'agent1' from 198.51.100.7" in line and "5 failures" in line
    lifted = run_console("lockout", "lift", "--key", key, env=env)
    assert lifted.returncode == 0 and "Lifted the lockout of agent login 'agent1'" in lifted.stdout
    assert run_console("lockout", "list", env=env).stdout == ""
    refused = run_console("lockout", "lift", "--key", key, env=env)
    assert refused.returncode == 1 and "no such lockout" in refused.stderr
    with db.transaction(write=False) as tx:
        assert history.changes(tx, history.LOGIN)[0]["actor"].startswith("console (")


# -- every route: no page without a session, no change without the form's token ------------------------------

_SAMPLE = {"name": "OutOfOffice", "version": 1, "entry": 1, "mail_id": 1, "file": "admin.css"}


def _routes(method: str) -> list[str]:
    from gateway.web.app import URL_MAP

    adapter = URL_MAP.bind("gateway.test")
    return [
        adapter.build(rule.endpoint, {key: _SAMPLE[key] for key in rule.arguments}, method=method)
        for rule in URL_MAP.iter_rules()
        if method in (rule.methods or ())
    ]


def _everything(db) -> list:
    with db.transaction(write=False) as tx:
        return [
            tx.all("SELECT name, config, valid_id FROM webservice ORDER BY id"),
            tx.all("SELECT id, state FROM mail_queue ORDER BY id"),
            tx.value("SELECT COUNT(*) FROM change_history"),
            tx.value("SELECT COUNT(*) FROM webservice_version"),
        ]


def test_every_page_but_the_login_needs_a_session_and_every_post_a_token(client, admin, db):
    _queue(db, "Hello")
    stranger = Client(client.application)
    for path in _routes("GET"):
        answer = stranger.get(path)
        public = path in ("/admin/login", "/admin/static/admin.css")
        assert answer.status_code == (200 if public else 303), path
    before = _everything(db)
    form = {
        "Preset": "OutOfOffice",
        "Name": "X",
        "NewName": "X",
        "Valid": "0",
        "Config": "x",
        "Message": "1",
        "State": "sent",
        "OlderThanDays": "0",
        "Key": "x",
        "File": (_file("x"), "X.yml"),
    }
    for path in _routes("POST"):
        if path == "/admin/login":
            continue  # its token is the login form's (test_a_login_post_without_its_token_is_refused)
        assert stranger.post(path, data={**form, "File": (_file("x"), "X.yml")}).status_code == 403, path
        assert admin.post(path, data={**form, "File": (_file("x"), "X.yml")}).status_code == 403, path
        forged = {**form, "File": (_file("x"), "X.yml"), "csrf_token": "0" * 64}
        assert admin.post(path, data=forged).status_code == 403, path
    assert _everything(db) == before
    assert admin.get("/admin/webservices").status_code == 200  # the refusals ended no session


def test_an_edit_saves_over_the_version_it_was_made_from_only(admin, db, settings):
    form = admin.get("/admin/webservices/OutOfOffice/edit").text
    before = stored(db, "OutOfOffice")["config"]
    run_console_text = before.replace("Description:", "Description: from the console;", 1)
    admin_webservices.update_webservice(db, settings, "OutOfOffice", run_console_text, actor="test")
    late = admin.post(
        "/admin/webservices/OutOfOffice/edit",
        data={
            "csrf_token": token(form),
            "Version": re.search(r'name="Version" value="(\d+)"', form)[1],
            "Config": before.replace("Description:", "Description: from the page;", 1),
        },
    )
    assert late.status_code == 409 and "saved meanwhile" in late.text and "from the console;" in late.text
    assert stored(db, "OutOfOffice")["config"] == run_console_text


def test_hidden_passwords_follow_their_tokens_and_a_stray_token_is_refused(admin, db):
    text = presets.read("OutOfOffice").replace(
        "Requester:\n  Transport:\n    Type: ''",
        "Requester:\n  Transport:\n    Type: HTTP::REST\n    Config:\n      Authentication:\n"
        "        AuthType: BasicAuth\n        BasicAuthUser: me\n        BasicAuthPassword: first-s3cret\n"
        '      Proxy: {ProxyPassword: "second-s3cret"}',
    )
    assert post(admin, "/admin/webservices/import", {"File": (_file(text), "Two.yml")}).status_code == 303
    form = admin.get("/admin/webservices/Two/edit").text
    assert "s3cret" not in form
    shown = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", form, re.S)[1])
    assert "'(hidden 1)'" in shown and "'(hidden 2)'" in shown
    # the first typed anew, the second kept under a comment and in double quotes
    edited = shown.replace("'(hidden 1)'", "typed-anew").replace(
        "{ProxyPassword: '(hidden 2)'}", '{ProxyPassword: "(hidden 2)"}  # kept'
    )
    assert (
        post(admin, "/admin/webservices/Two/edit", {"Config": edited}, page="/admin/webservices/Two/edit").status_code
        == 303
    )
    saved = yaml.safe_load(stored(db, "Two")["config"])["Requester"]["Transport"]["Config"]
    assert saved["Authentication"]["BasicAuthPassword"] == "typed-anew"
    assert saved["Proxy"]["ProxyPassword"] == "second-s3cret"
    stray = shown.replace("'(hidden 2)'", "'(hidden 9)'")
    refused = post(admin, "/admin/webservices/Two/edit", {"Config": stray}, page="/admin/webservices/Two/edit")
    assert refused.status_code == 400 and "stands for no stored value" in refused.text and "s3cret" not in refused.text
    assert yaml.safe_load(stored(db, "Two")["config"])["Requester"]["Transport"]["Config"] == saved


def test_numbers_past_64_bits_and_times_past_the_calendar_are_refused_not_500(admin):
    huge = "9" * 23
    for path in (
        f"/admin/mail/{huge}",
        f"/admin/webservices/OutOfOffice/log/{huge}",
        f"/admin/webservices/OutOfOffice/history/{huge}",
    ):
        assert admin.get(path).status_code == 404, path
    log = "/admin/webservices/OutOfOffice/log"
    assert admin.get(log, query_string={"before": huge}).status_code == 400
    assert post(admin, "/admin/mail/retry", {"Message": huge}, page="/admin/mail").status_code == 400
    for query in ({"since": "0001-01-01T00:00+01:00"}, {"until": "9999-12-31T23:59-01:00"}):
        assert admin.get(log, query_string=query).status_code == 400, query
    assert admin.get(log, query_string={"until": "9999-12-31T23:59"}).status_code == 200


def test_a_lockout_of_an_unprintable_login_shows_its_escapes(admin, client):
    stranger = Client(client.application)
    for _ in range(5):
        login(stranger, "evil\u202egnp.exe", "wrong", REMOTE_ADDR="192.0.2.44")
    page = admin.get("/admin/lockouts").text
    assert "evil\\u202egnp.exe" in page and "\u202e" not in page.split('name="Key"')[0]


def test_a_broken_configuration_is_marked_in_the_list_and_not_cloned(admin, db):
    with db.transaction() as tx:
        tx.execute("UPDATE webservice SET config = 'Provider: [' WHERE name = 'OutOfOffice'")
    assert "cannot be served" in admin.get("/admin/webservices").text
    refused = post(admin, "/admin/webservices/OutOfOffice/clone", {"NewName": "Copy"})
    assert refused.status_code == 400 and "not cloned" in refused.text
    assert stored(db, "Copy") is None
