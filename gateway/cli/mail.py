"""Outgoing mail: the PGP and S/MIME key stores, the mail worker and the outbox."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import BinaryIO

import click

from gateway.admin import keys, mailqueue
from gateway.cli.core import Context, action, main
from gateway.mail import outbox

# -- key stores for signed and encrypted mail (settings only, no database) -----------------------------


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@main.group()
def pgp() -> None:
    """PGP keys for ArticleSend's Sign and Crypt (settings gnupghome)."""


@pgp.command("import")
@click.option("--file", "key_file", required=True, type=click.File("rb"), help="public or secret key(s)")
@click.option("--passphrase", help="of the secret key; checked, then kept for signing")
@action
def pgp_import(ctx: Context, key_file: BinaryIO, passphrase: str | None) -> None:
    for key in keys.pgp_import(ctx.settings, key_file.read(), passphrase):
        click.echo(f"Imported {key['fingerprint']}\t{key['keyid']}\t{key['uid']}\tsecret: {_yes(key['secret'])}")


@pgp.command("list")
@action
def pgp_list(ctx: Context) -> None:
    for key in keys.pgp_list(ctx.settings):
        click.echo(
            f"{key['keyid']}\t{key['fingerprint']}\t{key['uid']}\t{'secret' if key['secret'] else 'public'}"
            f"\texpires {key['expires']}\t{key['state']}"
        )


@pgp.command("delete")
@click.option("--key", required=True, help="key ID (8 or 16 hex digits) or fingerprint")
@action
def pgp_delete(ctx: Context, key: str) -> None:
    keys.pgp_delete(ctx.settings, key)
    click.echo(f"Deleted PGP key {key}.")


@main.group()
def smime() -> None:
    """S/MIME certificates and private keys for ArticleSend (settings smime_cert_dir, smime_private_dir)."""


@smime.command("add-certificate")
@click.option("--file", "cert_file", required=True, type=click.File("rb"), help="PEM or DER certificate")
@action
def smime_add_certificate(ctx: Context, cert_file: BinaryIO) -> None:
    added = keys.smime_add_certificate(ctx.settings, cert_file.read())
    click.echo(f"Added certificate {added['filename']}\t{added['subject']}")


@smime.command("add-private-key")
@click.option("--file", "key_file", required=True, type=click.File("rb"), help="PEM private key")
@click.option("--passphrase", required=True)
@action
def smime_add_private_key(ctx: Context, key_file: BinaryIO, passphrase: str) -> None:
    subject_hash = keys.smime_add_private_key(ctx.settings, key_file.read(), passphrase)
    click.echo(f"Added the private key of certificate {subject_hash}.")


@smime.command("list")
@action
def smime_list(ctx: Context) -> None:
    for cert in keys.smime_list(ctx.settings):
        click.echo(
            f"{cert['filename']}\t{cert['subject']}\t{','.join(cert['emails']) or '-'}\t"
            f"not after {cert['not_after']} ({cert['state']})\tprivate key: {_yes(cert['private'])}"
        )


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

    def request_stop(signum: int, frame: FrameType | None) -> None:
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
    for row in mailqueue.list_messages(ctx.db, state, article_id):
        # a finished message's due_time is when it finished
        when = {"queued": "due ", "sent": "sent ", "failed": "failed "}[row["state"]] + str(row["due_time"])
        click.echo(
            f"{row['id']}\t{row['article_id'] or '-'}\t{row['state']}\t{row['attempts']} attempts\t{when}"
            f"\t{', '.join(row['recipient'].splitlines())}"
            f"\t{row['last_smtp_code'] or '-'} {row['last_smtp_message'] or ''}".rstrip()
        )


@mail_queue.command("retry")
@click.option(
    "--id",
    "mail_ids",
    type=int,
    multiple=True,
    help="a failed or deferred message; repeatable; default: every failed one",
)
@action
def mail_queue_retry(ctx: Context, mail_ids: tuple[int, ...]) -> None:
    """Make failed or deferred messages due now, with a fresh attempt count."""
    count = mailqueue.retry(ctx.db, mail_ids, actor=ctx.actor)
    click.echo(f"{count} message(s) due now.")


@mail_queue.command("purge")
@click.option("--state", default="sent", show_default=True, type=click.Choice(["sent", "failed"]))
@click.option("--older-than-days", default=0, show_default=True, type=click.IntRange(min=0))
@action
def mail_queue_purge(ctx: Context, state: str, older_than_days: int) -> None:
    """Delete finished messages with their attempts; queued ones are never purged."""
    count = mailqueue.purge(ctx.db, state, older_than_days, actor=ctx.actor)
    click.echo(f"Purged {count} {state} message(s).")
