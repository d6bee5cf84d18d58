"""`gateway backup` and `gateway restore`: the embedded SQLite database, copied while it serves.

SQLite's online backup API copies a consistent snapshot page by page while readers and writers
go on (a write during the copy restarts the pages it changed). A restore goes through the same
API into the live file, under its write lock, so a running server sees either the old database or
the restored one; its cached web services and sessions then follow within the refresh interval.
PostgreSQL has its own tools (pg_dump, pg_restore, or base backups with WAL archiving): these commands
refuse it and say so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from gateway.cli.core import Context, action, main
from gateway.errors import AdminError
from gateway.store import migrate


def _sqlite_path(ctx: Context, verb: str) -> str:
    url = ctx.settings.database_url
    if not url.startswith("sqlite:///"):
        raise AdminError(
            f"{verb} is for the embedded SQLite database; for PostgreSQL use pg_dump and pg_restore (README: Backups)"
        )
    return url[len("sqlite:///") :]


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """In one step: a step-wise copy starts over after every write between steps, which on a server that
    writes its communication log with each request may never end. In WAL mode the copy's read blocks no writer."""
    source.backup(target)


@main.command()
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True), help="the backup file")
@action
def backup(ctx: Context, output: str) -> None:
    """Copy the SQLite database to FILE while it serves (SQLite's online backup)."""
    path = _sqlite_path(ctx, "backup")
    ctx.require_migrated()
    target_path = Path(output)
    if target_path.exists():
        raise AdminError(f"{output} exists: name a new file")
    partial = target_path.with_name(target_path.name + ".partial")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(partial)
        try:
            _copy(source, target)
        finally:
            target.close()
        partial.rename(target_path)  # a backup interrupted half-way never has the name asked for
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    click.echo(f"Backed up {path} to {output} ({target_path.stat().st_size} bytes).")


@main.command()
@click.option("--input", "input_", required=True, type=click.Path(exists=True, dir_okay=False), help="a backup file")
@click.option("--yes", is_flag=True, help="replace the database without asking")
@action
def restore(ctx: Context, input_: str, yes: bool) -> None:
    """Replace the SQLite database by a backup `gateway backup` made (checked first), while it serves."""
    path = _sqlite_path(ctx, "restore")
    source = sqlite3.connect(f"file:{input_}?mode=ro", uri=True)
    try:
        try:
            verdict = source.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise AdminError(f"{input_} is not an SQLite database: {error}") from None
        if verdict != "ok" or not {"ticket", "webservice", "_yoyo_migration"} <= tables:
            raise AdminError(f"{input_} is no gateway database (integrity check: {verdict})")
        _same_schema(source, input_)
        if not yes:
            click.confirm(f"Replace {path} by {input_}?", abort=True)
        target = sqlite3.connect(path, timeout=ctx.settings.database_lock_timeout)
        try:
            _copy(source, target)
        finally:
            target.close()
    finally:
        source.close()
    click.echo(f"Restored {path} from {input_}.")


def _same_schema(source: sqlite3.Connection, name: str) -> None:
    """A backup of another schema version would break the server serving the live file: refused before a byte
    of it is written."""
    applied = {row[0] for row in source.execute("SELECT migration_id FROM _yoyo_migration")}
    here = set(migrate.known())
    if applied - here:
        raise AdminError(f"{name} was made by a newer gateway (migrations {', '.join(sorted(applied - here))})")
    if here - applied:
        raise AdminError(
            f"{name} lacks migrations {', '.join(sorted(here - applied))}: upgrade a copy first"
            " (GATEWAY_DATABASE_URL=sqlite:///COPY gateway db upgrade), then restore the copy"
        )
