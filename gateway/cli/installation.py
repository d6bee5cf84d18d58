"""Installing and running: the schema, `setup`, serving, the WSDL files, demo data."""

from __future__ import annotations

import os
import sys
import tempfile

import click

from gateway import metrics
from gateway.admin import directory, webservices
from gateway.cli.core import Context, action, main
from gateway.settings import DEFAULT_BIND, advertised_url, as_ini
from gateway.store import migrate

# the checked-in WSDL files name this address; a running server writes its public_url instead
WSDL_PUBLIC_URL = "http://localhost:8080"
GUNICORN_CONFIG = "python:gateway.gunicorn_config"


# -- database ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@action
def db_upgrade(ctx: Context) -> None:
    """Apply pending migrations."""
    applied = migrate.upgrade(ctx.settings.database_url)
    click.echo(f"Applied: {', '.join(applied)}" if applied else "The database is up to date.")


@main.command()
@action
def setup(ctx: Context) -> None:
    """Make a database ready to serve: migrations, presets, a password for root@localhost."""
    migrate.upgrade(ctx.settings.database_url)
    for name in webservices.ensure_presets(ctx.db, ctx.settings):
        click.echo(f"Added web service {name}.")
    password = directory.ensure_root_password(ctx.db, ctx.settings)
    if password:
        click.echo(f"Agent root@localhost has the password: {password}")
        click.echo(
            "  (shown once; change it with `gateway user set-password --user-name root@localhost --password ...`)"
        )


@main.command("settings")
@action
def show_settings(ctx: Context) -> None:
    """Print every setting as a commented ini file: its documentation, its default, the value in force."""
    click.echo(as_ini(ctx.settings), nl=False)


# -- serving -----------------------------------------------------------------------------------------


@main.command()
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="HOST:PORT")
@click.option("--workers", type=click.IntRange(1, 64), help="default: GATEWAY_WORKERS, else 2 per CPU")
@action
def serve(ctx: Context, bind: str, workers: int | None) -> None:
    """Serve with gunicorn (settings: gateway/gunicorn_config.py; GUNICORN_CMD_ARGS adds gunicorn options).

    The WSDL and OpenAPI documents name public_url, or without one http://HOST:PORT of --bind
    (see gateway.settings.advertised_url): passed to the server as its GATEWAY_PUBLIC_URL.
    """
    ctx.require_migrated()
    os.environ["GATEWAY_PUBLIC_URL"] = advertised_url(ctx.settings.public_url, bind)
    # the workers' metric files (gateway.metrics), for gunicorn only: set before it imports prometheus_client
    if ctx.settings.metrics_dir:
        metrics.prepare_directory(ctx.settings.metrics_dir)
        os.environ[metrics.MULTIPROC_DIR] = ctx.settings.metrics_dir
    else:
        os.environ[metrics.MULTIPROC_DIR] = os.environ[metrics.OWN_DIR] = tempfile.mkdtemp(prefix="gateway-metrics-")
    args = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG, "--bind", bind]
    if workers:
        args += ["--workers", str(workers)]
    os.execv(sys.executable, [*args, "gateway.app:application"])


@main.command()
@click.option("--output-dir", default="wsdl", show_default=True, type=click.Path(file_okay=False))
@click.option("--public-url", default=WSDL_PUBLIC_URL, show_default=True)
@action
def wsdl(ctx: Context, output_dir: str, public_url: str) -> None:
    """Write the WSDL of every SOAP preset (the files checked in under wsdl/)."""
    os.makedirs(output_dir, exist_ok=True)
    for name, document in webservices.preset_wsdls(ctx.settings, public_url).items():
        path = os.path.join(output_dir, f"{name}.wsdl")
        with open(path, "wb") as out:
            out.write(document)
        click.echo(f"Wrote {path}")


# -- demo data ---------------------------------------------------------------------------------------


@main.command("demo-data")
@click.option("--tickets", required=True, type=click.IntRange(min=1))
@click.option("--articles-per-ticket", default=2, show_default=True, type=click.IntRange(min=1))
@action
def demo_data(ctx: Context, tickets: int, articles_per_ticket: int) -> None:
    """Fill the database with realistic demo tickets, for benchmarks and a first look at the API.

    Tickets are spread over the last 365 days, the default queues, states and priorities, and
    demo customer users (added if missing, password "demo").
    """
    from gateway import demo

    summary = demo.load(ctx.db, tickets, articles_per_ticket, settings=ctx.settings)
    click.echo(summary.line())
