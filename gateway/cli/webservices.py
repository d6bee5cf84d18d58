"""Web services: Znuny's YAML configurations, the presets, the communication log."""

from __future__ import annotations

import click

from gateway.admin import webservices
from gateway.cli.core import Context, action, main

# -- web services ------------------------------------------------------------------------------------


@main.group()
def webservice() -> None:
    """Web services (Znuny's YAML configuration)."""


@webservice.command("add")
@click.option("--name", required=True)
@click.option("--preset")
@click.option("--source-path", type=click.Path(dir_okay=False))
@action
def webservice_add(ctx: Context, name: str, preset: str | None, source_path: str | None) -> None:
    webservice_id = webservices.add_webservice(ctx.db, ctx.settings, name, preset, source_path)
    click.echo(f"Added web service {name} (ID {webservice_id}).")


@webservice.command("list")
@action
def webservice_list(ctx: Context) -> None:
    for row in webservices.list_webservices(ctx.db):
        state = "valid" if row["valid_id"] == 1 else "invalid"
        click.echo(f"{row['id']}\t{row['name']}\t{state}")


@webservice.command("export")
@click.option("--name", required=True)
@action
def webservice_export(ctx: Context, name: str) -> None:
    click.echo(webservices.export_webservice(ctx.db, name), nl=False)


@webservice.command("delete")
@click.option("--name", required=True)
@action
def webservice_delete(ctx: Context, name: str) -> None:
    webservices.delete_webservice(ctx.db, name)
    click.echo(f"Deleted web service {name}.")


@webservice.command("presets")
@action
def webservice_presets(ctx: Context) -> None:
    """The web services `webservice add --preset` can add, with their descriptions."""
    found = webservices.available_presets()
    width = max(map(len, found))
    for name, description in found.items():
        click.echo(f"{name:<{width}}  {description}")


@webservice.command("log")
@click.option("--name", required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@action
def webservice_log(ctx: Context, name: str, limit: int) -> None:
    for row in webservices.webservice_log(ctx.db, name, limit):
        click.echo(
            f"{row['create_time']}  {row['http_status']}{' ' + row['error_code'] if row['error_code'] else ''}"
            f"  {row['operation'] or '-'}  "
            f"{row['duration_ms']} ms  {row['remote_ip']}  [{row['communication_id']}]"
        )
        click.echo("  > " + (row["request"] or "").replace("\n", "\n  > "))
        click.echo("  < " + (row["response"] or "").replace("\n", "\n  < "))
