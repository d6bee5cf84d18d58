"""`gateway check`: whether an installation can serve, before it is started (systemd's ExecStartPre).

One line per check, `ok` or `FAIL` and what was found; the exit status is 1 if any check failed.
Settings that do not load are the first failure and the others are not tried: they would only
repeat it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import click

from gateway.cli.core import Context, main
from gateway.errors import GatewayError, SettingsError
from gateway.mail import outbox
from gateway.settings import DEFAULT_BIND, KEY_STORES, Settings, config_path
from gateway.store import migrate
from gateway.store.database import Database

_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _database(settings: Settings) -> str:
    logging.getLogger("gateway.store").setLevel(logging.CRITICAL)  # the check's own line says it, once
    db = Database(settings.database_url, 1, settings.database_timeout)
    if db.dialect == "sqlite" and db.path != ":memory:" and not Path(db.path).is_file():
        raise GatewayError(f"no database file {db.path}: run `gateway setup`")  # a ping would make an empty one
    try:
        if not db.ping():
            raise GatewayError(f"{_where(settings)} does not answer within {settings.database_timeout:g} s")
    finally:
        db.close()
    return f"{_where(settings)} answers"


def _migrated(settings: Settings) -> str:
    pending = migrate.pending(settings.database_url)
    if pending:
        raise GatewayError(f"pending migrations {', '.join(pending)}: run `gateway db upgrade`")
    return "no migration pending"


def _key_stores(settings: Settings) -> str:
    """Each key store a directory the server's user may read (gpg also writes its lock files in gnupghome)."""
    for key in KEY_STORES:
        path = Path(getattr(settings, key))
        if not path.exists():
            continue  # made when the first key is imported; nothing to sign or encrypt with until then
        if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
            raise GatewayError(f"{key} {path} is not a directory this user may read")
    if Path(settings.gnupghome).is_dir() and not os.access(settings.gnupghome, os.W_OK):
        raise GatewayError(f"gnupghome {settings.gnupghome} is not writable: gpg keeps its lock files there")
    return ", ".join(str(getattr(settings, key)) for key in KEY_STORES)


def _smtp(settings: Settings) -> str:
    try:
        smtp = outbox.connect(settings)
    except (OSError, smtplib.SMTPException) as error:
        raise GatewayError(f"{settings.smtp_host}:{settings.smtp_port}: {error}") from None
    with contextlib.suppress(OSError, smtplib.SMTPException):
        smtp.quit()
    return f"{settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security}) answers"


def _public_url(settings: Settings, bind: str) -> str:
    """public_url names where clients reach this server: absolute http(s), and on this machine the bound port."""
    if not settings.public_url:
        return f"not set: the documents name the bind address http://{bind}"
    parts = urlsplit(settings.public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise GatewayError(f"{settings.public_url!r} is not an http(s) URL of a host (no query or fragment)")
    host, _, port = bind.rpartition(":")
    if bind.startswith("unix:"):
        return f"{settings.public_url} (served on {bind}, behind a proxy)"
    public_port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.hostname in _LOOPBACK and str(public_port) != port:
        raise GatewayError(
            f"{settings.public_url} is this machine's port {public_port}, but the server binds {bind}:"
            " clients following the WSDL would miss it"
        )
    if host.strip("[]") in _LOOPBACK and parts.hostname not in _LOOPBACK:
        return f"{settings.public_url} (bound to {bind}: a proxy must forward to it)"
    return settings.public_url


@main.command()
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="the HOST:PORT `gateway serve` will bind")
@click.option("--skip-smtp", is_flag=True, help="do not connect to the SMTP server (the mail worker's concern)")
@click.pass_context
def check(click_ctx: click.Context, bind: str, skip_smtp: bool) -> None:
    """Check the installation: settings, database reachable and migrated, key stores, SMTP, public URL."""
    obj = click_ctx.obj
    if isinstance(obj, SettingsError):
        click.echo(f"FAIL settings: {obj}")
        sys.exit(1)
    assert isinstance(obj, Context)
    settings = obj.settings
    where = config_path()
    checks: list[tuple[str, Callable[[], str]]] = [
        ("settings", lambda: f"{where}" if where.exists() else "defaults (no settings file)"),
        ("database", lambda: _database(settings)),
        ("migrations", lambda: _migrated(settings)),
        ("key stores", lambda: _key_stores(settings)),
        ("public URL", lambda: _public_url(settings, bind)),
    ]
    if not skip_smtp:
        checks.append(("SMTP", lambda: _smtp(settings)))
    failed = database_down = False
    for name, run in checks:
        if name == "migrations" and database_down:
            click.echo("FAIL migrations: not checked, the database does not answer")
            continue
        try:
            click.echo(f"ok   {name}: {run()}")
        except Exception as error:  # every check's failure is one line, whatever raised it
            failed, database_down = True, database_down or name == "database"
            click.echo(f"FAIL {name}: {' '.join(str(error).split())}")
    sys.exit(1 if failed else 0)


def _where(settings: Settings) -> str:
    return "database " + settings.database_url.split("@")[-1]
