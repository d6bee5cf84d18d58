"""Web services: Znuny's YAML configurations, the presets, the communication log."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.admin import webservices
from gateway.cli.core import Context, action, main
from gateway.errors import AdminError

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
    if (preset is None) == (source_path is None):
        raise AdminError("give exactly one of --preset and --source-path")
    if source_path is None:
        webservice_id = webservices.add_webservice(ctx.db, ctx.settings, name, preset=preset, actor=ctx.actor)
    else:
        text, source = _read(source_path)
        webservice_id = webservices.add_webservice(
            ctx.db, ctx.settings, name, text=text, source=source, actor=ctx.actor
        )
    click.echo(f"Added web service {name} (ID {webservice_id}).")


@webservice.command("update")
@click.option("--name", required=True)
@click.option("--source-path", required=True, type=click.Path(dir_okay=False))
@action
def webservice_update(ctx: Context, name: str, source_path: str) -> None:
    """Replace a web service's configuration (kept as its next version)."""
    text, _ = _read(source_path)
    version = webservices.update_webservice(ctx.db, ctx.settings, name, text, actor=ctx.actor)
    click.echo(f"Updated web service {name} (version {version}).")


@webservice.command("clone")
@click.option("--name", required=True)
@click.option("--new-name", required=True)
@action
def webservice_clone(ctx: Context, name: str, new_name: str) -> None:
    webservice_id = webservices.clone_webservice(ctx.db, ctx.settings, name, new_name, actor=ctx.actor)
    click.echo(f"Cloned web service {name} as {new_name} (ID {webservice_id}).")


@webservice.command("enable")
@click.option("--name", required=True)
@action
def webservice_enable(ctx: Context, name: str) -> None:
    webservices.set_webservice_valid(ctx.db, name, True, actor=ctx.actor)
    click.echo(f"Enabled web service {name}.")


@webservice.command("disable")
@click.option("--name", required=True)
@action
def webservice_disable(ctx: Context, name: str) -> None:
    """Stop serving a web service (it answers 404) and keep it."""
    webservices.set_webservice_valid(ctx.db, name, False, actor=ctx.actor)
    click.echo(f"Disabled web service {name}.")


@webservice.command("history")
@click.option("--name", required=True)
@action
def webservice_history(ctx: Context, name: str) -> None:
    """A web service's configuration versions and its changes, newest first."""
    versions = webservices.webservice_versions(ctx.db, name)
    changes = webservices.webservice_changes(ctx.db, name)
    click.echo("Versions:")
    for row in versions:
        click.echo(f"  {row['version']}\t{row['create_time']}\t{row['create_by']}")
    click.echo("Changes:")
    for row in changes:
        click.echo(f"  {row['create_time']}\t{row['actor']}\t{row['action']}\t{row['detail']}")


@webservice.command("restore")
@click.option("--name", required=True)
@click.option("--version", required=True, type=click.IntRange(1))
@action
def webservice_restore(ctx: Context, name: str, version: int) -> None:
    """Make an earlier configuration the newest version."""
    number = webservices.restore_webservice_version(ctx.db, ctx.settings, name, version, actor=ctx.actor)
    click.echo(f"Restored version {version} of web service {name} as version {number}.")


@webservice.command("list")
@action
def webservice_list(ctx: Context) -> None:
    for found in webservices.list_webservices(ctx.db):
        click.echo(f"{found.id}\t{found.name}\t{'valid' if found.valid else 'invalid'}")


@webservice.command("export")
@click.option("--name", required=True)
@action
def webservice_export(ctx: Context, name: str) -> None:
    click.echo(webservices.export_webservice(ctx.db, name), nl=False)


@webservice.command("delete")
@click.option("--name", required=True)
@action
def webservice_delete(ctx: Context, name: str) -> None:
    webservices.delete_webservice(ctx.db, name, actor=ctx.actor)
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


def _read(source_path: str) -> tuple[str, str]:
    """A configuration file's text and its name (for messages and the change history)."""
    path = Path(source_path)
    if not path.is_file():
        raise AdminError(f"{source_path}: no such file")
    try:
        return path.read_text(encoding="utf-8"), path.name
    except UnicodeDecodeError:
        raise AdminError(f"{source_path}: not UTF-8 text") from None
