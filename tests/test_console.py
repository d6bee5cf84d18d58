"""The `gateway` console: Znuny's Admin:: contract, one-line errors, nothing half-written.

Most commands run in this process (tests.conftest.run_console); those marked `real process`
go through the installed `gateway` script, as an administrator runs it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

import pytest
import yaml
from werkzeug.test import Client

from gateway.app import make_app
from tests.conftest import BACKENDS, REST, ZNUNY, empty_database, real_console, refused, run_console, test_settings


@pytest.fixture
def console(request, database_url):
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
    runner = real_console if getattr(request, "param", "") == "real process" else run_console

    def run(*args: str) -> subprocess.CompletedProcess:
        return runner(*args, env=env)

    return run


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_setup_makes_an_empty_database_ready_and_shows_the_root_password_once(backend, tmp_path):
    """`gateway setup` as an administrator runs it first (`make run`), through the real entry point."""
    url, drop = empty_database(backend, tmp_path)
    try:
        env = {**os.environ, "GATEWAY_DATABASE_URL": url}
        first = real_console("setup", env=env)
        assert first.returncode == 0, first.stderr
        added = [
            line.removeprefix("Added web service ").rstrip(".")
            for line in first.stdout.splitlines()
            if line.startswith("Added web service ")
        ]
        assert "GenericTicketConnectorREST" in added and "GenericTicketConnectorSOAP" in added
        shown = [line for line in first.stdout.splitlines() if line.startswith("Agent root@localhost has the password")]
        assert len(shown) == 1
        password = shown[0].rsplit(" ", 1)[1]
        again = real_console("setup", env=env)
        assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr  # nothing shown twice
        with contextlib.closing(make_app(test_settings(url))) as app:
            login = Client(app).post(f"{REST}/Session", json={"UserLogin": "root@localhost", "Password": password})
        assert "SessionID" in login.json, login.json
    finally:
        drop()


def count(db, sql: str, params=()) -> int:
    with db.transaction(write=False) as tx:
        return tx.value(sql, params)


@pytest.mark.parametrize("console", ["real process"], indirect=True)
def test_user_add_grants_rw_and_the_user_can_log_in(console, db, client):
    result = console(
        "user",
        "add",
        "--user-name",
        "jdoe",
        "--first-name",
        "J",
        "--last-name",
        "Doe",
        "--email-address",
        "jdoe@example.test",
        "--password",
        "s3cret",
        "--group",
        "users",
        "--group",
        "stats",
    )
    assert result.returncode == 0, result.stderr
    assert (
        count(
            db,
            "SELECT COUNT(*) FROM group_user gu JOIN users u ON u.id = gu.user_id"
            " WHERE u.login = 'jdoe' AND gu.permission_key = 'rw'",
        )
        == 2
    )
    assert "SessionID" in client.post(f"{REST}/Session", json={"UserLogin": "jdoe", "Password": "s3cret"}).json
    assert console("user", "set-password", "--user-name", "jdoe", "--password", "new").returncode == 0
    assert "Error" in client.post(f"{REST}/Session", json={"UserLogin": "jdoe", "Password": "s3cret"}).json


def test_user_add_with_an_unknown_group_writes_nothing(console, db):
    result = console(
        "user",
        "add",
        "--user-name",
        "jdoe",
        "--first-name",
        "J",
        "--last-name",
        "Doe",
        "--email-address",
        "jdoe@example.test",
        "--password",
        "x",
        "--group",
        "users",
        "--group",
        "nosuchgroup",
    )
    refused(result, "nosuchgroup")
    assert count(db, "SELECT COUNT(*) FROM users WHERE login = 'jdoe'") == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            [
                "user",
                "add",
                "--user-name",
                "agent1",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--email-address",
                "a@b.test",
                "--password",
                "x",
            ],
            "already exists",
        ),
        (
            [
                "user",
                "add",
                "--user-name",
                "x",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--email-address",
                "not-an-address",
                "--password",
                "x",
            ],
            "e-mail",
        ),
        (["user", "set-password", "--user-name", "nobody", "--password", "x"], "nobody"),
        (
            ["group", "user-link", "--user-name", "agent1", "--group-name", "nogroup", "--permission-key", "ro"],
            "nogroup",
        ),
        (["queue", "add", "--name", "Raw", "--group", "users"], "already exists"),
        (["queue", "add", "--name", "New", "--group", "nogroup"], "nogroup"),
        (
            [
                "customer-user",
                "add",
                "--user-name",
                "c2",
                "--first-name",
                "C",
                "--last-name",
                "Two",
                "--email-address",
                "c2@example.test",
                "--customer-id",
                "NOPE",
                "--password",
                "x",
            ],
            "NOPE",
        ),
        (
            [
                "dynamic-field",
                "add",
                "--name",
                "Choice",
                "--label",
                "Choice",
                "--field-type",
                "Dropdown",
                "--object-type",
                "Ticket",
            ],
            "possible-value",
        ),
        (
            [
                "dynamic-field",
                "add",
                "--name",
                "Bad Name",
                "--label",
                "L",
                "--field-type",
                "Text",
                "--object-type",
                "Ticket",
            ],
            "letters and digits",
        ),
        (["webservice", "add", "--name", "X", "--preset", "NoSuchPreset"], "NoSuchPreset"),
        (
            ["webservice", "add", "--name", "GenericTicketConnectorREST", "--preset", "GenericTicketConnectorREST"],
            "same name",
        ),
        (["webservice", "add", "--name", "X", "--source-path", "/nonexistent.yml"], "nonexistent"),
        (["webservice", "export", "--name", "Nope"], "Nope"),
        (["webservice", "delete", "--name", "Nope"], "Nope"),
    ],
)
def test_bad_arguments_are_one_line_and_a_nonzero_exit(console, args, words):
    refused(console(*args), words)


@pytest.mark.slow
def test_serve_on_a_unix_socket_without_public_url_is_refused(database_url):
    env = {**{k: v for k, v in os.environ.items() if k != "GATEWAY_PUBLIC_URL"}, "GATEWAY_DATABASE_URL": database_url}
    result = real_console("serve", "--bind", "unix:/tmp/gateway-test.sock", env=env)
    refused(result, "set public_url")


@pytest.mark.parametrize("console", ["real process"], indirect=True)
def test_usage_errors_exit_nonzero(console):
    result = console(
        "group", "user-link", "--user-name", "agent1", "--group-name", "users", "--permission-key", "superuser"
    )
    assert result.returncode == 2 and "superuser" in result.stderr


def test_group_queue_customer_and_dynamic_field(console, db):
    assert console("group", "add", "--name", "support").returncode == 0
    assert (
        console(
            "group", "user-link", "--user-name", "agent1", "--group-name", "support", "--permission-key", "move_into"
        ).returncode
        == 0
    )
    assert console("queue", "add", "--name", "Support", "--group", "support").returncode == 0
    assert console("customer-company", "add", "--customer-id", "BETA", "--name", "Beta Ltd").returncode == 0
    assert (
        console(
            "customer-user",
            "add",
            "--user-name",
            "bob",
            "--first-name",
            "Bob",
            "--last-name",
            "B",
            "--email-address",
            "bob@beta.test",
            "--customer-id",
            "BETA",
            "--password",
            "b",
        ).returncode
        == 0
    )
    assert (
        console(
            "dynamic-field",
            "add",
            "--name",
            "Colour",
            "--label",
            "Colour",
            "--field-type",
            "Multiselect",
            "--object-type",
            "Ticket",
            "--possible-value",
            "r=Red",
            "--possible-value",
            "g=Green",
        ).returncode
        == 0
    )
    assert (
        count(
            db,
            "SELECT COUNT(*) FROM queue q JOIN permission_groups g ON g.id = q.group_id"
            " WHERE q.name = 'Support' AND g.name = 'support'",
        )
        == 1
    )
    assert count(db, "SELECT COUNT(*) FROM customer_user WHERE login = 'bob' AND customer_id = 'BETA'") == 1
    with db.transaction(write=False) as tx:
        config = tx.value("SELECT config FROM dynamic_field WHERE name = 'Colour'")
    assert yaml.safe_load(config) == {"PossibleValues": {"r": "Red", "g": "Green"}}


@pytest.mark.parametrize("path", sorted(ZNUNY.glob("*/*.yml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_znuny_web_service_imports_unchanged_and_exports_back(console, path):
    name = f"Imported-{path.parent.name}-{path.stem}"
    result = console("webservice", "add", "--name", name, "--source-path", str(path))
    assert result.returncode == 0, result.stderr
    assert name in console("webservice", "list").stdout
    exported = console("webservice", "export", "--name", name).stdout
    assert exported == path.read_text(encoding="utf-8")
    assert console("webservice", "delete", "--name", name).returncode == 0
    assert name not in console("webservice", "list").stdout


def test_presets_are_listed_and_loaded(console):
    presets = [line.split()[0] for line in console("webservice", "presets").stdout.splitlines()]
    assert presets == [
        "GenericTicketConnectorREST",
        "GenericTicketConnectorSOAP",
        "OutOfOffice",
        "OutOfOfficeSOAP",
        "TimeAccountingREST",
        "TimeAccountingSOAP",
    ]
    listed = console("webservice", "list").stdout
    assert all(name in listed for name in presets)


def test_a_file_that_is_no_web_service_is_refused(console, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("Provider:\n  Transport:\n    Type: HTTP::SMTP\n")
    refused(console("webservice", "add", "--name", "Bad", "--source-path", str(bad)), "HTTP::SMTP")
    bad.write_text("- just\n- a list\n")
    refused(console("webservice", "add", "--name", "Bad", "--source-path", str(bad)), "mapping")
    bad.write_text("Provider: [unclosed\n")
    refused(console("webservice", "add", "--name", "Bad", "--source-path", str(bad)), "YAML")
    assert "Bad" not in console("webservice", "list").stdout


def test_db_upgrade_is_idempotent(console):
    result = console("db", "upgrade")
    assert result.returncode == 0 and "up to date" in result.stdout
