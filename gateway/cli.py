"""The `gateway` console, mirroring Znuny's Admin:: commands.

Every command prints one line per result; a refused command prints one line naming the
problem on stderr and exits 1 (2 for usage errors), having written nothing.
"""

from __future__ import annotations

import functools
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any

import click
import psycopg

from gateway import admin
from gateway.mail import outbox
from gateway.settings import CONF_DIR, Settings, load
from gateway.store import migrate
from gateway.store.database import Database

# the checked-in WSDL files name this address; a running server writes its public_url instead
WSDL_PUBLIC_URL = "http://localhost:8080"
PERMISSIONS = click.Choice(["ro", "move_into", "create", "note", "owner", "priority", "rw"])


class Context:
    def __init__(self) -> None:
        self.settings: Settings = load()
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url, 1)
            pending = migrate.pending(self.settings.database_url)
            if pending:
                raise admin.AdminError(f"the database is not up to date (pending: {', '.join(pending)});"
                                       " run `gateway db upgrade`")
        return self._db


def action(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command with the console's context; turn refusals into one line and exit 1."""

    @functools.wraps(fn)
    @click.pass_obj
    def run(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(ctx, *args, **kwargs)
        except admin.AdminError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except ValueError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except (sqlite3.Error, psycopg.Error) as error:
            message = " ".join(str(error).split())
            click.echo(f"Error: database {ctx.settings.database_url.split('@')[-1]}: {message}", err=True)
            sys.exit(1)

    return run


@click.group()
@click.pass_context
def main(click_ctx: click.Context) -> None:
    """Administer a gateway installation (Znuny GenericInterface server)."""
    try:
        click_ctx.obj = Context()
    except ValueError as error:
        raise click.ClickException(str(error)) from None


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
    for name in admin.ensure_presets(ctx.db, ctx.settings):
        click.echo(f"Added web service {name}.")
    password = admin.ensure_root_password(ctx.db)
    if password:
        click.echo(f"Agent root@localhost has the password: {password}")
        click.echo("  (shown once; change it with `gateway user set-password --user-name root@localhost"
                   " --password ...`)")


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
def user_add(ctx: Context, user_name: str, first_name: str, last_name: str, email_address: str, password: str,
             groups: tuple[str, ...]) -> None:
    user_id = admin.add_user(ctx.db, user_name, first_name, last_name, email_address, password, list(groups))
    click.echo(f"Added agent {user_name} (UserID {user_id}).")


@user.command("set-password")
@click.option("--user-name", required=True)
@click.option("--password", required=True)
@action
def user_set_password(ctx: Context, user_name: str, password: str) -> None:
    admin.set_user_password(ctx.db, user_name, password)
    click.echo(f"Password of agent {user_name} changed.")


@user.command("show")
@click.option("--user-name", required=True)
@action
def user_show(ctx: Context, user_name: str) -> None:
    agent = admin.show_user(ctx.db, user_name)
    state = {"1": "yes", "0": "no"}.get(agent.out_of_office or "", "not set")
    click.echo(f"Login:          {agent.login}")
    click.echo(f"Name:           {agent.name}")
    click.echo(f"Email:          {agent.email}")
    click.echo(f"Valid:          {'yes' if agent.valid else 'no'}")
    click.echo("Groups:         " + (", ".join(f"{name} ({', '.join(keys)})" for name, keys in agent.groups.items())
                                     or "none"))
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
    group_id = admin.add_group(ctx.db, name, comment)
    click.echo(f"Added group {name} (GroupID {group_id}).")


@group.command("user-link")
@click.option("--user-name", required=True)
@click.option("--group-name", required=True)
@click.option("--permission-key", required=True, type=PERMISSIONS)
@action
def group_user_link(ctx: Context, user_name: str, group_name: str, permission_key: str) -> None:
    admin.link_user_group(ctx.db, user_name, group_name, permission_key)
    click.echo(f"Agent {user_name} has {permission_key} in group {group_name}.")


@main.group()
def queue() -> None:
    """Queues."""


@queue.command("add")
@click.option("--name", required=True)
@click.option("--group", required=True)
@action
def queue_add(ctx: Context, name: str, group: str) -> None:
    queue_id = admin.add_queue(ctx.db, name, group)
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
    admin.add_customer_company(ctx.db, customer_id, name)
    click.echo(f"Added customer company {customer_id}.")


@main.group("customer-user")
def customer_user() -> None:
    """Customer users."""


@customer_user.command("add")
@person
@click.option("--customer-id", required=True)
@action
def customer_user_add(ctx: Context, user_name: str, first_name: str, last_name: str, email_address: str,
                      customer_id: str, password: str) -> None:
    admin.add_customer_user(ctx.db, user_name, first_name, last_name, email_address, customer_id, password)
    click.echo(f"Added customer user {user_name}.")


@customer_user.command("set-password")
@click.option("--user-name", required=True)
@click.option("--password", required=True)
@action
def customer_user_set_password(ctx: Context, user_name: str, password: str) -> None:
    admin.set_customer_password(ctx.db, user_name, password)
    click.echo(f"Password of customer user {user_name} changed.")


# -- dynamic fields ----------------------------------------------------------------------------------

def _possible_values(values: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise admin.AdminError(f"--possible-value {item!r} is not KEY=VALUE")
        result[key] = value
    return result


@main.group("dynamic-field")
def dynamic_field() -> None:
    """Dynamic fields."""


@dynamic_field.command("add")
@click.option("--name", required=True)
@click.option("--label", required=True)
@click.option("--field-type", required=True, type=click.Choice(admin.FIELD_TYPES))
@click.option("--object-type", required=True, type=click.Choice(admin.OBJECT_TYPES))
@click.option("--possible-value", "possible_values", multiple=True, help="KEY=VALUE; repeatable")
@action
def dynamic_field_add(ctx: Context, name: str, label: str, field_type: str, object_type: str,
                      possible_values: tuple[str, ...]) -> None:
    field_id = admin.add_dynamic_field(ctx.db, name, label, field_type, object_type,
                                       _possible_values(possible_values))
    click.echo(f"Added dynamic field {name} (ID {field_id}).")


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
    webservice_id = admin.add_webservice(ctx.db, ctx.settings, name, preset, source_path)
    click.echo(f"Added web service {name} (ID {webservice_id}).")


@webservice.command("list")
@action
def webservice_list(ctx: Context) -> None:
    for row in admin.list_webservices(ctx.db):
        state = "valid" if row["valid_id"] == 1 else "invalid"
        click.echo(f"{row['id']}\t{row['name']}\t{state}")


@webservice.command("export")
@click.option("--name", required=True)
@action
def webservice_export(ctx: Context, name: str) -> None:
    click.echo(admin.export_webservice(ctx.db, name), nl=False)


@webservice.command("delete")
@click.option("--name", required=True)
@action
def webservice_delete(ctx: Context, name: str) -> None:
    admin.delete_webservice(ctx.db, name)
    click.echo(f"Deleted web service {name}.")


@webservice.command("presets")
@action
def webservice_presets(ctx: Context) -> None:
    for name in admin.presets(ctx.settings):
        click.echo(name)


@webservice.command("log")
@click.option("--name", required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@action
def webservice_log(ctx: Context, name: str, limit: int) -> None:
    for row in admin.webservice_log(ctx.db, name, limit):
        click.echo(f"{row['create_time']}  {row['http_status']}  {row['operation'] or '-'}  "
                   f"{row['duration_ms']} ms  {row['remote_ip']}  [{row['communication_id']}]")
        click.echo("  > " + (row["request"] or "").replace("\n", "\n  > "))
        click.echo("  < " + (row["response"] or "").replace("\n", "\n  < "))


# -- key stores for signed and encrypted mail (settings only, no database) -----------------------------

def _crypto(ctx: Context) -> Any:
    """The key stores' logic, imported late: only these commands need the gpg and OpenSSL bindings."""
    from gateway.mail.crypto import Crypto

    return Crypto(ctx.settings)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@main.group()
def pgp() -> None:
    """PGP keys for ArticleSend's Sign and Crypt (settings gnupghome)."""


@pgp.command("import")
@click.option("--file", "key_file", required=True, type=click.File("rb"), help="public or secret key(s)")
@click.option("--passphrase", help="of the secret key; checked, then kept for signing")
@action
def pgp_import(ctx: Context, key_file: Any, passphrase: str | None) -> None:
    for key in _crypto(ctx).pgp_import(key_file.read(), passphrase):
        click.echo(f"Imported {key['fingerprint']}\t{key['keyid']}\t{key['uid']}\tsecret: {_yes(key['secret'])}")


@pgp.command("list")
@action
def pgp_list(ctx: Context) -> None:
    for key in _crypto(ctx).pgp_list():
        click.echo(f"{key['keyid']}\t{key['fingerprint']}\t{key['uid']}\t{'secret' if key['secret'] else 'public'}"
                   f"\texpires {key['expires']}\t{key['state']}")


@pgp.command("delete")
@click.option("--key", required=True, help="key ID (8 or 16 hex digits) or fingerprint")
@action
def pgp_delete(ctx: Context, key: str) -> None:
    _crypto(ctx).pgp_delete(key)
    click.echo(f"Deleted PGP key {key}.")


@main.group()
def smime() -> None:
    """S/MIME certificates and private keys for ArticleSend (settings smime_cert_dir, smime_private_dir)."""


@smime.command("add-certificate")
@click.option("--file", "cert_file", required=True, type=click.File("rb"), help="PEM or DER certificate")
@action
def smime_add_certificate(ctx: Context, cert_file: Any) -> None:
    crypto = _crypto(ctx)
    before = {cert["filename"] for cert in crypto.smime_list()}
    crypto.smime_add_certificate(cert_file.read())
    added = next(cert for cert in crypto.smime_list() if cert["filename"] not in before)
    click.echo(f"Added certificate {added['filename']}\t{added['subject']}")


@smime.command("add-private-key")
@click.option("--file", "key_file", required=True, type=click.File("rb"), help="PEM private key")
@click.option("--passphrase", required=True)
@action
def smime_add_private_key(ctx: Context, key_file: Any, passphrase: str) -> None:
    subject_hash = _crypto(ctx).smime_add_private_key(key_file.read(), passphrase)
    click.echo(f"Added the private key of certificate {subject_hash}.")


@smime.command("list")
@action
def smime_list(ctx: Context) -> None:
    for cert in _crypto(ctx).smime_list():
        click.echo(f"{cert['filename']}\t{cert['subject']}\t{','.join(cert['emails']) or '-'}\t"
                   f"not after {cert['not_after']} ({cert['state']})\tprivate key: {_yes(cert['private'])}")


# -- serving -----------------------------------------------------------------------------------------

@main.command()
@click.option("--bind", default="127.0.0.1:8080", show_default=True, help="HOST:PORT")
@click.option("--workers", type=click.IntRange(1, 64), help="default: conf/gunicorn.conf.py")
@action
def serve(ctx: Context, bind: str, workers: int | None) -> None:
    """Serve with gunicorn (conf/gunicorn.conf.py)."""
    pending = migrate.pending(ctx.settings.database_url)
    if pending:
        raise admin.AdminError(f"the database is not up to date (pending: {', '.join(pending)});"
                               " run `gateway db upgrade`")
    args = [sys.executable, "-m", "gunicorn", "-c", str(CONF_DIR / "gunicorn.conf.py"), "--bind", bind]
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
    for name, document in admin.preset_wsdls(ctx.settings, public_url).items():
        path = os.path.join(output_dir, f"{name}.wsdl")
        with open(path, "wb") as out:
            out.write(document)
        click.echo(f"Wrote {path}")


# -- outgoing mail -----------------------------------------------------------------------------------

@main.command("mail-worker")
@click.option("--once", is_flag=True, help="deliver what is due now, print a summary and exit")
@action
def mail_worker(ctx: Context, once: bool) -> None:
    """Deliver the outbox over SMTP; any number of workers may run at once.

    SIGTERM or SIGINT lets the message in flight finish, then the worker exits.
    """
    worker = outbox.Worker(ctx.settings, ctx.db)
    if once:
        click.echo(worker.run_once().line())
        return
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        # set from another thread: the handler may interrupt the main thread inside stop.wait()
        threading.Thread(target=stop.set).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    click.echo(worker.run(stop).line())


@main.group("mail-queue")
def mail_queue() -> None:
    """The outbox: queued, sent and failed messages."""


@mail_queue.command("list")
@click.option("--state", type=click.Choice(["queued", "sent", "failed"]))
@click.option("--article-id", type=int)
@action
def mail_queue_list(ctx: Context, state: str | None, article_id: int | None) -> None:
    """One line per message: id, article, state, attempts, due/sent time, recipients, last reply."""
    for row in outbox.list_messages(ctx.db, state, article_id):
        # a finished message's due_time is when it finished
        when = {"queued": "due ", "sent": "sent ", "failed": "failed "}[row["state"]] + str(row["due_time"])
        click.echo(f"{row['id']}\t{row['article_id'] or '-'}\t{row['state']}\t{row['attempts']} attempts\t{when}"
                   f"\t{', '.join(row['recipient'].splitlines())}"
                   f"\t{row['last_smtp_code'] or '-'} {row['last_smtp_message'] or ''}".rstrip())


@mail_queue.command("retry")
@click.option("--id", "mail_ids", type=int, multiple=True, help="a failed or deferred message; repeatable;"
              " default: every failed one")
@action
def mail_queue_retry(ctx: Context, mail_ids: tuple[int, ...]) -> None:
    """Make failed or deferred messages due now, with a fresh attempt count."""
    count = outbox.retry(ctx.db, mail_ids)
    click.echo(f"{count} message(s) due now.")


@mail_queue.command("purge")
@click.option("--state", default="sent", show_default=True, type=click.Choice(["sent", "failed"]))
@click.option("--older-than-days", default=0, show_default=True, type=click.IntRange(min=0))
@action
def mail_queue_purge(ctx: Context, state: str, older_than_days: int) -> None:
    """Delete finished messages with their attempts; queued ones are never purged."""
    count = outbox.purge(ctx.db, state, older_than_days)
    click.echo(f"Purged {count} {state} message(s).")


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
    from gateway.store import demodata

    summary = demodata.load(ctx.db, tickets, articles_per_ticket, system_id=ctx.settings.system_id)
    click.echo(summary.line())
