"""Running it like production: `gateway check`, `gateway backup`/`restore`, the systemd units."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from gateway.store.database import Database
from tests.conftest import BACKENDS, copy_database, run_console
from tests.smtp import start_smtp

UNITS = Path(__file__).resolve().parent.parent / "conf" / "systemd"
CHECKOUT = Path(__file__).resolve().parent.parent


def console_env(tmp_path: Path, database_url: str, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env.update({"GATEWAY_HOME": str(tmp_path), "GATEWAY_DATABASE_URL": database_url, **settings})
    return env


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_passes_on_a_ready_installation_with_one_line_per_check(backend, templates, tmp_path):
    url, drop = copy_database(backend, templates, tmp_path)
    try:
        with start_smtp() as smtp:
            env = console_env(tmp_path, url, GATEWAY_SMTP_HOST="127.0.0.1", GATEWAY_SMTP_PORT=str(smtp.port))
            result = run_console("check", env=env)
    finally:
        drop()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   settings",
        "ok   database",
        "ok   migrations",
        "ok   key stores",
        "ok   public URL",
        "ok   SMTP",
    ], lines


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_names_each_problem_and_exits_non_zero(backend, templates, tmp_path):
    url, drop = copy_database(backend, templates, tmp_path)
    try:
        env = console_env(tmp_path, url, GATEWAY_PUBLIC_URL="http://localhost:9999", GATEWAY_SMTP_PORT="1")
        result = run_console("check", "--bind", "127.0.0.1:8080", env=env)
    finally:
        drop()
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in failed] == ["FAIL public URL", "FAIL SMTP"], result.stdout
    assert "port 9999" in failed[0] and "127.0.0.1:8080" in failed[0]


def test_check_reports_an_unreachable_or_unmigrated_database_and_bad_settings(tmp_path):
    missing = run_console("check", "--skip-smtp", env=console_env(tmp_path, f"sqlite:///{tmp_path}/none.db"))
    assert missing.returncode == 1 and "FAIL database: no database file" in missing.stdout, missing.stdout
    assert not (tmp_path / "none.db").exists()  # the check made no empty database
    sqlite3.connect(tmp_path / "empty.db").close()
    empty = run_console("check", "--skip-smtp", env=console_env(tmp_path, f"sqlite:///{tmp_path}/empty.db"))
    assert "ok   database" in empty.stdout and "FAIL migrations: pending migrations 0001_schema" in empty.stdout
    down = run_console(
        "check",
        "--skip-smtp",
        env=console_env(tmp_path, "postgresql://nobody@127.0.0.1:1/x", GATEWAY_DATABASE_TIMEOUT="2"),
    )
    assert "FAIL database" in down.stdout and "FAIL migrations: not checked" in down.stdout, down.stdout
    bad = run_console("check", env=console_env(tmp_path, "sqlite:///x.db", GATEWAY_LOG_FORMAT="xml"))
    assert bad.returncode == 1 and bad.stdout == "FAIL settings: setting log_format: 'xml' is not text or json\n"


def test_a_backup_taken_while_tickets_are_written_restores_the_database(templates, tmp_path):
    url, drop = copy_database("sqlite", templates, tmp_path)
    env = console_env(tmp_path, url)
    db = Database(url)
    stop = threading.Event()
    written = []

    def write() -> None:  # a server's writes, going on during the backup
        while not stop.is_set():
            with db.transaction() as tx:
                tx.execute("UPDATE ticket SET title = ? WHERE id = (SELECT MIN(id) FROM ticket)", [f"w{len(written)}"])
            written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        result = run_console("backup", "--output", tmp_path / "backup.db", env=env)
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    assert "Backed up" in result.stdout and written
    with db.transaction(write=False) as tx:
        tickets = tx.value("SELECT COUNT(*) FROM ticket")
    copy = sqlite3.connect(tmp_path / "backup.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT COUNT(*) FROM ticket").fetchone()[0] == tickets
    copy.close()
    refused = run_console("backup", "--output", tmp_path / "backup.db", env=env)
    assert refused.returncode == 1 and "exists" in refused.stderr

    with db.transaction() as tx:
        tx.execute("UPDATE ticket SET title = 'changed after the backup'")
    restored = run_console("restore", "--input", tmp_path / "backup.db", "--yes", env=env)
    assert restored.returncode == 0, restored.stderr
    with db.transaction(write=False) as tx:  # the open connection sees the restored database
        assert tx.value("SELECT COUNT(*) FROM ticket WHERE title = 'changed after the backup'") == 0
        assert tx.value("SELECT COUNT(*) FROM ticket") == tickets
    db.close()
    drop()

    older = sqlite3.connect(tmp_path / "backup.db")
    older.execute("DELETE FROM _yoyo_migration WHERE migration_id = '0008_fulltext'")
    older.commit()
    older.close()
    refused = run_console("restore", "--input", tmp_path / "backup.db", "--yes", env=env)
    assert refused.returncode == 1 and "lacks migrations 0008_fulltext" in refused.stderr, refused.stderr

    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    junk = run_console("restore", "--input", tmp_path / "junk.db", "--yes", env=env)
    assert junk.returncode == 1 and "not an SQLite database" in junk.stderr


def test_backup_of_postgresql_points_to_pg_dump(templates, tmp_path):
    url, drop = copy_database("postgresql", templates, tmp_path)
    try:
        result = run_console("backup", "--output", tmp_path / "x.db", env=console_env(tmp_path, url))
    finally:
        drop()
    assert result.returncode == 1 and "pg_dump" in result.stderr and not (tmp_path / "x.db").exists()


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """The units as installed in /opt/gateway, here with the checkout as that directory: verify checks the
    commands exist, every directive is known and the dependencies resolve."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: Debian's systemd package provides it")
    units = []
    for unit in sorted(UNITS.glob("*.service")):
        installed = tmp_path / unit.name
        installed.write_text(unit.read_text().replace("/opt/gateway", str(CHECKOUT)))
        units.append(str(installed))
    assert [Path(unit).name for unit in units] == ["gateway-mail.service", "gateway.service"]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    ours = [line for line in result.stderr.splitlines() if "gateway" in line]  # not the host's own units
    assert result.returncode == 0 and ours == [], result.stderr
    text = (UNITS / "gateway.service").read_text()
    assert (
        "ExecStart=/opt/gateway/.venv/bin/gateway serve" in text
        and "ExecStartPre=/opt/gateway/.venv/bin/gateway check" in text
    )
