"""Managing web services (gateway.admin.webservices, the console's and the admin pages' one place):
every change is served, recorded with who made it, and kept as a numbered configuration."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from gateway.admin import webservices
from gateway.errors import AdminError
from gateway.store import webservices as stored
from gateway.store.database import Transaction
from gateway.webservice import presets
from tests.conftest import ROOT, refused, run_console, until

BASE = "/otrs/nph-genericinterface.pl/Webservice"
PRESET = presets.read("GenericTicketConnectorREST")
# the same web service with SessionCreate moved from /Session to /Login
MOVED = PRESET.replace("SessionCreate: {Route: /Session,", "SessionCreate: {Route: /Login,")
SMTP = "Provider:\n  Transport:\n    Type: HTTP::SMTP\n"
ADMIN = "root@localhost"


def logs_in(client, name: str, route: str) -> bool:
    response = client.post(f"{BASE}/{name}{route}", json=ROOT)
    return response.status_code == 200 and "SessionID" in (response.json or {})


def state(db, name: str) -> tuple:
    """Everything a refused change must leave as it was."""
    with db.transaction(write=False) as tx:
        row = stored.by_name(tx, name)
        return (
            row,
            tx.all("SELECT * FROM webservice_version WHERE webservice_id = ? ORDER BY id", [row["id"]]),
            tx.all("SELECT * FROM change_history ORDER BY id"),
            stored.revision(tx),
        )


def test_add_from_a_preset_and_from_a_text_stores_version_1_and_records_who(db, settings):
    webservices.add_webservice(db, settings, "Tickets", preset="GenericTicketConnectorREST", actor=ADMIN)
    webservices.add_webservice(db, settings, "Imported", text=MOVED, source="export.yml", actor="console (ann)")
    for name, text, actor, action, detail in (
        ("Tickets", PRESET, ADMIN, "add", "from preset GenericTicketConnectorREST"),
        ("Imported", MOVED, "console (ann)", "import", "from export.yml"),
    ):
        assert [(v["version"], v["create_by"]) for v in webservices.webservice_versions(db, name)] == [(1, actor)]
        assert webservices.webservice_version_text(db, name, 1) == text == webservices.export_webservice(db, name)
        changes = webservices.webservice_changes(db, name)
        assert [(c["actor"], c["action"], c["detail"]) for c in changes] == [(actor, action, detail)]
    assert [c["object_name"] for c in webservices.recent_changes(db, 2)] == ["Imported", "Tickets"]
    with pytest.raises(AdminError, match="exactly one"):
        webservices.add_webservice(db, settings, "Both", preset="OutOfOffice", text=MOVED, actor=ADMIN)
    with pytest.raises(AdminError, match="same name"):
        webservices.add_webservice(db, settings, "Tickets", text=MOVED, actor=ADMIN)


def test_an_update_with_a_yaml_error_names_line_and_column_and_changes_nothing(db, settings):
    before = state(db, "GenericTicketConnectorREST")
    broken = PRESET.replace("SessionCreate: {Route: /Session,", "SessionCreate: {Route: [/Session,", 1)
    with pytest.raises(AdminError, match=r"not valid YAML.*\(line \d+, column \d+\)"):
        webservices.update_webservice(db, settings, "GenericTicketConnectorREST", broken, actor=ADMIN)
    with pytest.raises(AdminError, match="HTTP::SMTP"):
        webservices.update_webservice(db, settings, "GenericTicketConnectorREST", SMTP, actor=ADMIN)
    with pytest.raises(AdminError, match="unchanged"):
        webservices.update_webservice(db, settings, "GenericTicketConnectorREST", PRESET, actor=ADMIN)
    assert state(db, "GenericTicketConnectorREST") == before


def test_an_update_is_version_2_and_is_served(db, settings, client):
    assert logs_in(client, "GenericTicketConnectorREST", "/Session")
    assert webservices.update_webservice(db, settings, "GenericTicketConnectorREST", MOVED, actor=ADMIN) == 2
    until(lambda: logs_in(client, "GenericTicketConnectorREST", "/Login"), 5)
    assert not logs_in(client, "GenericTicketConnectorREST", "/Session")
    assert [v["version"] for v in webservices.webservice_versions(db, "GenericTicketConnectorREST")] == [2, 1]
    assert webservices.webservice(db, settings, "GenericTicketConnectorREST").config.routes[0].path == "/Login"
    latest = webservices.webservice_changes(db, "GenericTicketConnectorREST")[0]
    assert (latest["actor"], latest["action"], latest["detail"]) == (ADMIN, "update", "version 2")


def test_a_clone_is_served_under_its_name_with_a_history_of_its_own(db, settings, client):
    webservices.update_webservice(db, settings, "GenericTicketConnectorREST", MOVED, actor=ADMIN)
    new_id = webservices.clone_webservice(db, settings, "GenericTicketConnectorREST", "Copy", actor=ADMIN)
    clone = webservices.webservice(db, settings, "Copy")
    assert clone.id == new_id and clone.valid and clone.text == MOVED
    assert [v["version"] for v in webservices.webservice_versions(db, "Copy")] == [1]
    assert [(c["action"], c["detail"]) for c in webservices.webservice_changes(db, "Copy")] == [
        ("clone", "from GenericTicketConnectorREST")
    ]
    until(lambda: logs_in(client, "Copy", "/Login"), 5)
    with pytest.raises(AdminError, match="same name"):
        webservices.clone_webservice(db, settings, "Copy", "GenericTicketConnectorSOAP", actor=ADMIN)
    with pytest.raises(AdminError, match="no web service 'Missing'"):
        webservices.clone_webservice(db, settings, "Missing", "Other", actor=ADMIN)


def test_a_disabled_web_service_answers_404_and_enabled_is_served_again(db, settings, client):
    assert logs_in(client, "GenericTicketConnectorREST", "/Session")
    webservices.set_webservice_valid(db, "GenericTicketConnectorREST", False, actor=ADMIN)
    until(lambda: client.post(f"{BASE}/GenericTicketConnectorREST/Session", json=ROOT).status_code == 404, 5)
    assert client.get(f"{BASE}/GenericTicketConnectorREST/openapi.json").status_code == 404
    assert not webservices.webservice(db, settings, "GenericTicketConnectorREST").valid
    with pytest.raises(AdminError, match="already disabled"):
        webservices.set_webservice_valid(db, "GenericTicketConnectorREST", False, actor=ADMIN)
    webservices.set_webservice_valid(db, "GenericTicketConnectorREST", True, actor="console (ann)")
    until(lambda: logs_in(client, "GenericTicketConnectorREST", "/Session"), 5)
    changes = webservices.webservice_changes(db, "GenericTicketConnectorREST")
    assert [(c["actor"], c["action"]) for c in changes[:2]] == [("console (ann)", "enable"), (ADMIN, "disable")]
    assert len(webservices.webservice_versions(db, "GenericTicketConnectorREST")) == 1  # no new configuration


def test_delete_removes_the_versions_and_keeps_the_change_history(db, settings, client):
    webservices.add_webservice(db, settings, "Doomed", preset="GenericTicketConnectorREST", actor=ADMIN)
    webservices.update_webservice(db, settings, "Doomed", MOVED, actor=ADMIN)
    until(lambda: logs_in(client, "Doomed", "/Login"), 5)
    doomed_id = webservices.webservice(db, settings, "Doomed").id
    webservices.delete_webservice(db, "Doomed", actor="console (ann)")
    until(lambda: client.post(f"{BASE}/Doomed/Login", json=ROOT).status_code == 404, 5)
    with db.transaction(write=False) as tx:
        assert tx.value("SELECT COUNT(*) FROM webservice_version WHERE webservice_id = ?", [doomed_id]) == 0
    kept = [(c["object_name"], c["action"], c["detail"]) for c in webservices.recent_changes(db, 3)]
    assert kept == [
        ("Doomed", "delete", "2 versions, 0 log entries"),
        ("Doomed", "update", "version 2"),
        ("Doomed", "add", "from preset GenericTicketConnectorREST"),
    ]
    with pytest.raises(AdminError, match="no web service 'Doomed'"):
        webservices.delete_webservice(db, "Doomed", actor=ADMIN)


def test_restoring_version_1_makes_version_3_with_its_text(db, settings, client):
    webservices.update_webservice(db, settings, "GenericTicketConnectorREST", MOVED, actor=ADMIN)
    until(lambda: logs_in(client, "GenericTicketConnectorREST", "/Login"), 5)
    assert webservices.restore_webservice_version(db, settings, "GenericTicketConnectorREST", 1, actor=ADMIN) == 3
    until(lambda: logs_in(client, "GenericTicketConnectorREST", "/Session"), 5)
    text = webservices.webservice_version_text
    assert text(db, "GenericTicketConnectorREST", 3) == text(db, "GenericTicketConnectorREST", 1) == PRESET
    assert webservices.export_webservice(db, "GenericTicketConnectorREST") == PRESET
    latest = webservices.webservice_changes(db, "GenericTicketConnectorREST")[0]
    assert (latest["action"], latest["detail"]) == ("restore", "version 1 restored as version 3")
    before = state(db, "GenericTicketConnectorREST")
    with pytest.raises(AdminError, match="has now"):
        webservices.restore_webservice_version(db, settings, "GenericTicketConnectorREST", 1, actor=ADMIN)
    with pytest.raises(AdminError, match="no version 9"):
        webservices.restore_webservice_version(db, settings, "GenericTicketConnectorREST", 9, actor=ADMIN)
    assert state(db, "GenericTicketConnectorREST") == before


def test_version_diff_shows_the_changed_lines(db, settings):
    webservices.update_webservice(db, settings, "GenericTicketConnectorREST", MOVED, actor=ADMIN)
    diff = webservices.version_diff(db, "GenericTicketConnectorREST", 1)
    assert diff[:2] == ["--- version 1", "+++ current"]
    changed = [line for line in diff[2:] if line[:1] in "+-"]
    assert changed == [
        "-        SessionCreate: {Route: /Session, RequestMethod: [POST], ParserBackend: JSON}",
        "+        SessionCreate: {Route: /Login, RequestMethod: [POST], ParserBackend: JSON}",
    ]
    back = webservices.version_diff(db, "GenericTicketConnectorREST", 2, against=1)
    assert back[:2] == ["--- version 2", "+++ version 1"]
    assert [line for line in back[2:] if line[:1] in "+-"] == ["-" + changed[1][1:], "+" + changed[0][1:]]
    assert webservices.version_diff(db, "GenericTicketConnectorREST", 2) == []
    with pytest.raises(AdminError, match="no version 7"):
        webservices.version_diff(db, "GenericTicketConnectorREST", 7)


def test_the_list_shows_each_last_request_from_one_statement(db, settings, gateway, client, monkeypatch):
    statements: list[str] = []
    execute = Transaction.execute

    def counted(self, sql, params=(), prepare=None):
        statements.append(sql)
        return execute(self, sql, params, prepare)

    monkeypatch.setattr(Transaction, "execute", counted)
    before = {found.name: found for found in webservices.list_webservices(db)}
    assert len(statements) == 1
    rest = before["GenericTicketConnectorREST"]
    assert (rest.valid, rest.transport, rest.last_request_time, rest.last_status) == (True, "HTTP::REST", None, None)
    assert "SessionCreate" in rest.operations and before["GenericTicketConnectorSOAP"].transport == "HTTP::SOAP"

    client.post(f"{BASE}/GenericTicketConnectorREST/Session", json=ROOT)
    client.post(f"{BASE}/GenericTicketConnectorREST/Session/nonsense", json={})
    gateway.commlog.flush()
    for name in ("More1", "More2", "More3"):
        webservices.add_webservice(db, settings, name, preset="OutOfOffice", actor=ADMIN)
    with db.transaction() as tx:  # a configuration no gateway stores; the list shows it all the same
        tx.execute("UPDATE webservice SET config = ? WHERE name = ?", ["Provider: [", "More3"])
    statements.clear()
    after = {found.name: found for found in webservices.list_webservices(db)}
    assert len(statements) == 1 and len(after) == len(before) + 3
    rest = after["GenericTicketConnectorREST"]
    assert rest.last_status == 405 and rest.last_request_time is not None
    assert after["GenericTicketConnectorSOAP"].last_request_time is None
    assert (after["More3"].transport, after["More3"].operations) == ("", ())


# -- the console ------------------------------------------------------------------------------------------


@pytest.fixture
def console(database_url):
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}

    def run(*args: str) -> subprocess.CompletedProcess:
        return run_console(*args, env=env)

    return run


def test_console_update_clone_enable_disable_history_restore(console, tmp_path, db):
    moved, broken = tmp_path / "moved.yml", tmp_path / "broken.yml"
    moved.write_text(MOVED)
    broken.write_text("Provider:\n  Transport: [\n")
    name = ("--name", "GenericTicketConnectorREST")

    assert console("webservice", "update", *name, "--source-path", moved).stdout == (
        "Updated web service GenericTicketConnectorREST (version 2).\n"
    )
    refused(console("webservice", "update", *name, "--source-path", broken), "line 3, column 1")
    assert (
        "Cloned web service GenericTicketConnectorREST as Copy"
        in console("webservice", "clone", *name, "--new-name", "Copy").stdout
    )
    refused(console("webservice", "clone", *name, "--new-name", "Copy"), "same name")
    assert console("webservice", "disable", "--name", "Copy").returncode == 0
    assert "\tCopy\tinvalid" in console("webservice", "list").stdout
    refused(console("webservice", "disable", "--name", "Copy"), "already disabled")
    assert console("webservice", "enable", "--name", "Copy").stdout == "Enabled web service Copy.\n"
    refused(console("webservice", "enable", "--name", "Copy"), "already enabled")
    assert console("webservice", "restore", *name, "--version", "1").stdout == (
        "Restored version 1 of web service GenericTicketConnectorREST as version 3.\n"
    )
    refused(console("webservice", "restore", *name, "--version", "5"), "no version 5")
    assert webservices.export_webservice(db, "GenericTicketConnectorREST") == PRESET

    shown = console("webservice", "history", *name).stdout.splitlines()
    versions, changes = shown[1 : shown.index("Changes:")], shown[shown.index("Changes:") + 1 :]
    assert shown[0] == "Versions:" and [line.split("\t")[0].strip() for line in versions] == ["3", "2", "1"]
    assert re.search(r"\tconsole \(.+\)$", versions[0]) and versions[2].endswith("\tsetup")
    assert [line.split("\t")[2] for line in changes] == ["restore", "update", "add"]
    refused(console("webservice", "history", "--name", "Missing"), "no web service 'Missing'")
