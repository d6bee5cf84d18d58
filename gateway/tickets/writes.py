"""Writing tickets as Znuny does: creation, articles, dynamic fields, and the history lines clients parse.

Everything here works inside the caller's transaction and trusts its input: the operations
validate first (with Znuny's error codes), then call these functions, so a failure anywhere
rolls the whole request back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from gateway.mail import htmltext, outbox
from gateway.mail.mime import content_type_parts
from gateway.principal import Principal
from gateway.store import ticket_rows
from gateway.store.database import Database, Row, Transaction, Value, utcnow
from gateway.tickets.access import acting_user_id
from gateway.tickets.article import NewArticle
from gateway.tickets.numbers import next_ticket_number

HTML_BODY_FILE = "file-2"  # Znuny's name for the HTML body kept beside its text
LOCK_UNLOCK, LOCK_LOCK = 1, 2


def create_ticket(
    db: Database,
    tx: Transaction,
    principal: Principal,
    system_id: str,
    values: Mapping[str, Any],
    names: tuple[str, str, str],
) -> tuple[int, str]:
    """Insert the ticket row and its first history lines in `tx` (a transaction of `db`); returns (TicketID,
    TicketNumber).

    `names` are the queue, priority and state names, which the caller has just looked up.
    """
    by = acting_user_id(principal)
    number = next_ticket_number(db, tx, system_id, utcnow())
    ticket_id = ticket_rows.insert_ticket(tx, {**values, "tn": number, "create_by": by})
    queue, priority, state = names
    ticket_rows.add_history(tx, ticket_id, "NewTicket", f"%%{number}%%{queue}%%{priority}%%{state}%%{ticket_id}", by)
    ticket_rows.add_history(
        tx,
        ticket_id,
        "CustomerUpdate",
        f"%%CustomerID={values.get('customer_id') or ''};CustomerUser={values.get('customer_user_id') or ''};",
        by,
    )
    return ticket_id, number


def add_article(
    tx: Transaction,
    principal: Principal,
    ticket_id: int,
    article: NewArticle,
    unlocked: bool,
    reset_unlock_time: bool = True,
) -> int:
    """An article and what comes with it; an agent's article on an unlocked ticket resets its unlock time."""
    by = acting_user_id(principal)
    body, content_type, attachments = _as_stored(article)
    article_id = ticket_rows.insert_article(
        tx,
        ticket_id,
        article.sender_type_id,
        article.channel_id,
        article.visible,
        by,
        {
            "from": article.from_,
            "to": article.to,
            "cc": article.cc,
            "bcc": article.bcc,
            "subject": article.subject,
            "body": body,
            "content_type": content_type,
            "message_id": article.message_id,
            "in_reply_to": article.in_reply_to,
            "references": article.references,
        },
    )
    if article.send is not None:
        outbox.enqueue(tx, article_id, article.send.sender, article.send.recipients, article.send.raw)
    ticket_rows.add_history(tx, ticket_id, article.history_type, article.history_comment, by, article_id)
    if principal.is_agent and unlocked:
        if reset_unlock_time:
            ticket_rows.update_ticket(tx, ticket_id, {"timeout": int(utcnow().replace(tzinfo=dt.UTC).timestamp())}, by)
        ticket_rows.add_history(tx, ticket_id, "Misc", "Reset of unlock time.", by)
    for filename, file_type, content, disposition in attachments:
        ticket_rows.insert_attachment(tx, article_id, filename, file_type, content, disposition)
    for field_id, values in article.fields:
        ticket_rows.set_field_values(tx, field_id, article_id, values)
    if article.time_unit is not None:
        account_time(tx, ticket_id, article_id, article.time_unit, by)
    return article_id


def _as_stored(article: NewArticle) -> tuple[str, str, list[tuple[str, str, bytes, str]]]:
    """Body, content type and attachments as Znuny's article backend stores them: an HTML body becomes
    its plain text (HTMLUtils::ToAscii) and the HTML the first attachment, `file-2`, inline."""
    mime, charset = content_type_parts(article.content_type)
    if mime.lower() != "text/html":
        return article.body, article.content_type, article.attachments
    html_body = (HTML_BODY_FILE, f'text/html; charset="{charset}"', article.body.encode(), "inline")
    plain_type = re.sub("html", "plain", article.content_type, count=1, flags=re.IGNORECASE)
    return htmltext.to_ascii(article.body), plain_type, [html_body, *article.attachments]


def record_impersonation(tx: Transaction, principal: Principal, ticket_id: int) -> None:
    """An impersonated write gets one more history line that names both logins (decisions.md);
    Znuny's own lines keep their exact form, which clients parse."""
    if principal.impersonated_by:
        ticket_rows.add_history(
            tx,
            ticket_id,
            "Misc",
            f"%%Impersonation%%{principal.impersonated_by} acting as {principal.login}",
            acting_user_id(principal),
        )


def change(
    tx: Transaction,
    principal: Principal,
    ticket_id: int,
    columns: Mapping[str, Value],
    history_type: str,
    history_name: str,
) -> None:
    """One attribute change and its history line, as Znuny writes them."""
    by = acting_user_id(principal)
    ticket_rows.update_ticket(tx, ticket_id, columns, by)
    ticket_rows.add_history(tx, ticket_id, history_type, history_name, by)


def account_time(tx: Transaction, ticket_id: int, article_id: int | None, time_unit: float, by: int) -> None:
    total = ticket_rows.add_time_accounting(tx, ticket_id, article_id, time_unit, by)
    ticket_rows.add_history(
        tx, ticket_id, "TimeAccounting", f"%%{number_text(time_unit)}%%{number_text(total)}", by, article_id
    )


def set_owner(tx: Transaction, principal: Principal, ticket_id: int, owner: Row, lock: bool) -> None:
    by = acting_user_id(principal)
    changes: dict[str, Value] = {"user_id": owner["id"]}
    if lock:
        changes["ticket_lock_id"] = LOCK_LOCK
    ticket_rows.update_ticket(tx, ticket_id, changes, by)
    ticket_rows.add_history(tx, ticket_id, "OwnerUpdate", f"%%{owner['login']}%%{owner['id']}", by)


def set_fields(
    tx: Transaction, object_id: int, fields: Sequence[tuple[int, str, list[str]]], by: int, ticket_id: int | None = None
) -> None:
    """Set dynamic-field values; as Znuny, an unchanged value is not written, a changed one of a
    ticket gets a history line with the new and the old value."""
    old: dict[str, list[str]] = {}
    if fields and ticket_id is not None:
        for row in ticket_rows.field_values(tx, "Ticket", [object_id]):
            old.setdefault(row["name"], []).append(row["value_text"])
    for field_id, name, values in fields:
        if ticket_id is not None and old.get(name, []) == list(values):
            continue
        ticket_rows.set_field_values(tx, field_id, object_id, values)
        if ticket_id is not None:
            ticket_rows.add_history(
                tx,
                ticket_id,
                "TicketDynamicFieldUpdate",
                f"%%FieldName%%{name}%%Value%%{','.join(values)}%%OldValue%%{','.join(old.get(name, []))}",
                by,
            )


def number_text(value: float | Decimal) -> str:
    """A number as Perl prints it (an NV: 15 significant digits), as Znuny writes accounted time ("%g" has six:
    10000.01 would be 10000)."""
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.15g}"
