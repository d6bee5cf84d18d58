"""What every console command shares: settings, the database, one-line refusals, the `gateway` group."""

from __future__ import annotations

import functools
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import click
import psycopg

from gateway.errors import AdminError, GatewayError, SettingsError
from gateway.settings import Settings, load
from gateway.store import migrate
from gateway.store.database import Database


class Context:
    def __init__(self) -> None:
        self.settings: Settings = load()
        self._db: Database | None = None
        self.actor = f"console ({_user()})"  # who, in the change history

    @property
    def db(self) -> Database:
        if self._db is None:
            self.require_migrated()
            # unbounded statements: maintenance (a demo load, ...) may take long and wait for a server's locks
            self._db = Database(
                self.settings.database_url,
                1,
                self.settings.database_timeout,
                statement_timeout=0,
                lock_timeout=self.settings.database_lock_timeout,
            )
        return self._db

    def require_migrated(self) -> None:
        """Refuse a database that `gateway db upgrade` has not brought up to date, naming it: a command
        run from another directory (without GATEWAY_HOME) finds another SQLite file, not its installation's."""
        pending = migrate.pending(self.settings.database_url)
        if pending:
            raise AdminError(
                f"the database {self.database} is not up to date (pending: {', '.join(pending)});"
                " run `gateway db upgrade` (or set GATEWAY_HOME to the installation's directory)"
            )

    @property
    def database(self) -> str:
        """The database URL without its password, for messages."""
        return self.settings.database_url.split("@")[-1]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def _user() -> str:
    """The login running the console; a container's user without a name (no passwd entry) is its UID."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def action(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command with the console's context; turn refusals into one line and exit 1.

    A refusal is a GatewayError or a database that cannot be used; anything else is a bug
    and keeps its traceback.
    """

    @functools.wraps(fn)
    @click.pass_obj
    def run(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(ctx, *args, **kwargs)
        except GatewayError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except (sqlite3.Error, psycopg.Error) as error:
            message = " ".join(str(error).split())
            click.echo(f"Error: database {ctx.database}: {message}", err=True)
            sys.exit(1)

    return run


@click.group()
@click.pass_context
def main(click_ctx: click.Context) -> None:
    """Administer a gateway installation (Znuny GenericInterface server)."""
    try:
        click_ctx.obj = Context()
    except SettingsError as error:
        if click_ctx.invoked_subcommand != "check":
            raise click.ClickException(str(error)) from None
        click_ctx.obj = error  # `gateway check` reports it as its first failed check
        return
    click_ctx.call_on_close(click_ctx.obj.close)
