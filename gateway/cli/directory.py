"""Agents, groups, queues, customers and dynamic fields (Znuny's Admin:: objects)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from gateway.admin import directory, lockouts
from gateway.cli.core import Context, action, main
from gateway.errors import AdminError

PERMISSIONS = click.Choice(["ro", "move_into", "create", "note", "owner", "priority", "rw"])


# -- agents and groups -------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Agents."""


def person(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options agents and customer users share, as Znuny's Admin::User::Add and CustomerUser::Add."""
    for name in ("--password", "--email-address", "--last-name", "--first-name", "--user-name"):
        fn = click.option(name, required=True)(fn)
    return fn


@user.command("add")
@person
@click.option("--group", "groups", multiple=True, help="grants rw in this group; repeatable")
@action
def user_add(
    ctx: Context,
    user_name: str,
    first_name: str,
    last_name: str,
    email_address: str,
    password: str,
    groups: tuple[str, ...],
) -> None:
    user_id = directory.add_user(
        ctx.db, ctx.settings, user_name, first_name, last_name, email_address, password, list(groups)
    )
    click.echo(f"Added agent {user_name} (UserID {user_id}).")


@user.command("set-password")
@click.option("--user-name", required=True)
@click.option("--password", required=True)
@action
def user_set_password(ctx: Context, user_name: str, password: str) -> None:
    directory.set_user_password(ctx.db, ctx.settings, user_name, password)
    click.echo(f"Password of agent {user_name} changed.")


@user.command("show")
@click.option("--user-name", required=True)
@action
def user_show(ctx: Context, user_name: str) -> None:
    agent = directory.show_user(ctx.db, user_name)
    state = {"1": "yes", "0": "no"}.get(agent.out_of_office or "", "not set")
    click.echo(f"Login:          {agent.login}")
    click.echo(f"Name:           {agent.name}")
    click.echo(f"Email:          {agent.email}")
    click.echo(f"Valid:          {'yes' if agent.valid else 'no'}")
    click.echo(
        "Groups:         " + (", ".join(f"{name} ({', '.join(keys)})" for name, keys in agent.groups.items()) or "none")
    )
    click.echo(f"Out of office:  {state}")
    click.echo(f"  Start:        {agent.out_of_office_start or '-'}")
    click.echo(f"  End:          {agent.out_of_office_end or '-'}")


@main.group()
def group() -> None:
    """Groups and agent permissions."""


@group.command("add")
@click.option("--name", required=True)
@click.option("--comment", default="")
@action
def group_add(ctx: Context, name: str, comment: str) -> None:
    group_id = directory.add_group(ctx.db, name, comment)
    click.echo(f"Added group {name} (GroupID {group_id}).")


@group.command("user-link")
@click.option("--user-name", required=True)
@click.option("--group-name", required=True)
@click.option("--permission-key", required=True, type=PERMISSIONS)
@action
def group_user_link(ctx: Context, user_name: str, group_name: str, permission_key: str) -> None:
    directory.link_user_group(ctx.db, user_name, group_name, permission_key)
    click.echo(f"Agent {user_name} has {permission_key} in group {group_name}.")


@main.group()
def queue() -> None:
    """Queues."""


@queue.command("add")
@click.option("--name", required=True)
@click.option("--group", required=True)
@action
def queue_add(ctx: Context, name: str, group: str) -> None:
    queue_id = directory.add_queue(ctx.db, name, group)
    click.echo(f"Added queue {name} (QueueID {queue_id}).")


# -- customers ---------------------------------------------------------------------------------------


@main.group("customer-company")
def customer_company() -> None:
    """Customer companies."""


@customer_company.command("add")
@click.option("--customer-id", required=True)
@click.option("--name", required=True)
@action
def customer_company_add(ctx: Context, customer_id: str, name: str) -> None:
    directory.add_customer_company(ctx.db, customer_id, name)
    click.echo(f"Added customer company {customer_id}.")


@main.group("customer-user")
def customer_user() -> None:
    """Customer users."""


@customer_user.command("add")
@person
@click.option("--customer-id", required=True)
@action
def customer_user_add(
    ctx: Context, user_name: str, first_name: str, last_name: str, email_address: str, customer_id: str, password: str
) -> None:
    directory.add_customer_user(
        ctx.db, ctx.settings, user_name, first_name, last_name, email_address, customer_id, password
    )
    click.echo(f"Added customer user {user_name}.")


@customer_user.command("set-password")
@click.option("--user-name", required=True)
@click.option("--password", required=True)
@action
def customer_user_set_password(ctx: Context, user_name: str, password: str) -> None:
    directory.set_customer_password(ctx.db, ctx.settings, user_name, password)
    click.echo(f"Password of customer user {user_name} changed.")


# -- dynamic fields ----------------------------------------------------------------------------------


def _possible_values(values: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise AdminError(f"--possible-value {item!r} is not KEY=VALUE")
        result[key] = value
    return result


@main.group("dynamic-field")
def dynamic_field() -> None:
    """Dynamic fields."""


@dynamic_field.command("add")
@click.option("--name", required=True)
@click.option("--label", required=True)
@click.option("--field-type", required=True, type=click.Choice(directory.FIELD_TYPES))
@click.option("--object-type", required=True, type=click.Choice(directory.OBJECT_TYPES))
@click.option("--possible-value", "possible_values", multiple=True, help="KEY=VALUE; repeatable")
@action
def dynamic_field_add(
    ctx: Context, name: str, label: str, field_type: str, object_type: str, possible_values: tuple[str, ...]
) -> None:
    field_id = directory.add_dynamic_field(
        ctx.db, name, label, field_type, object_type, _possible_values(possible_values)
    )
    click.echo(f"Added dynamic field {name} (ID {field_id}).")


# -- failed-login lockouts -----------------------------------------------------------------------------


@main.group()
def lockout() -> None:
    """Logins refused after too many failures (login_failure_limit, login_failure_address_limit)."""


@lockout.command("list")
@action
def lockout_list(ctx: Context) -> None:
    for found in lockouts.list_lockouts(ctx.db, ctx.settings):
        key = found.key.encode("unicode_escape").decode("ascii")  # lift takes it as printed
        click.echo(
            f"{key}\t{lockouts.describe(found)}\t{found.failures} failures\tuntil {found.until:%Y-%m-%d %H:%M:%S}"
        )


@lockout.command("lift")
@click.option("--key", required=True, help="as `lockout list` prints it")
@action
def lockout_lift(ctx: Context, key: str) -> None:
    key = key.encode("latin-1", "backslashreplace").decode("unicode_escape")  # as `lockout list` escapes it
    found = lockouts.lift(ctx.db, ctx.settings, key, actor=ctx.actor)
    click.echo(f"Lifted the lockout of {lockouts.describe(found)}.")
