"""ArticleSend: an article becomes an e-mail the way Znuny makes it one.

Znuny's rules applied to the article before it is stored: the subject gets the ticket-number
hook (Ticket::SubjectFormat), the queue's signature is appended, From defaults to the queue's
system address, a follow-up answers the ticket's last message (In-Reply-To, References).
The stored article is exactly what is sent.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import re
import socket

from gateway.mail import compose, htmltext
from gateway.mail.address import display_address
from gateway.mail.crypto import Crypto
from gateway.mail.mime import content_type_parts
from gateway.settings import Settings
from gateway.store import agents, ticket_rows
from gateway.store.database import Transaction
from gateway.tickets.article import NewArticle

SIGNATURE_TAG = re.compile(r"<(?:OTRS|KIX|Znuny)_[A-Za-z0-9_]+>")


@functools.lru_cache(maxsize=1)
def _machine_fqdn() -> str:
    return socket.getfqdn()


@functools.lru_cache(maxsize=8)
def _hook_pattern(hook: str) -> re.Pattern[str]:
    return re.compile(rf"\[{re.escape(hook)}:?\s*(\d+)\]|{re.escape(hook)}:?\s*(\d+)")


def subject_build(settings: Settings, number: str, subject: str) -> str:
    """Znuny's TicketSubjectBuild for a new message: any old hook of this ticket removed, then the hook added."""
    hook = f"{settings.ticket_hook}{number}"
    cleaned = _hook_pattern(settings.ticket_hook).sub(
        lambda found: "" if (found.group(1) or found.group(2)) == number else found.group(0), subject
    )
    cleaned = " ".join(cleaned.split())
    if settings.ticket_subject_format == "Right":
        return f"{cleaned} [{hook}]"
    if settings.ticket_subject_format == "None":
        return cleaned
    return f"[{hook}] {cleaned}"


def prepare(
    tx: Transaction,
    settings: Settings,
    crypto: Crypto,
    acting_user_id: int,
    ticket_id: int,
    number: str,
    queue_id: int,
    article: NewArticle,
) -> None:
    """Turn the article into the e-mail it announces and compose that e-mail (article.send.raw)."""
    send = article.send
    if send is None:
        raise ValueError("prepare() is for an article that is sent (article.send)")
    identity = ticket_rows.queue_mail_identity(tx, queue_id)
    is_html = content_type_parts(article.content_type)[0].lower() == "text/html"
    signature = _signature(tx, identity["signature"] or "", acting_user_id)
    article.subject = subject_build(settings, number, article.subject)
    if signature.strip():
        # Znuny's signatures are text or HTML; each is converted to the body's kind and appended as it
        # is: the default signature begins with its own line break
        signature_html = (identity["signature_type"] or "").startswith("text/html")
        if is_html:
            article.body += signature if signature_html else htmltext.to_html(signature)
        else:
            article.body += htmltext.to_ascii(signature) if signature_html else signature
    if not article.from_:
        article.from_ = display_address(identity["realname"], identity["email"])
    now = dt.datetime.now(dt.UTC)
    article.message_id = compose.message_id(settings.fqdn or _machine_fqdn(), now)
    previous = ticket_rows.last_message(tx, ticket_id)
    if previous is not None:
        article.in_reply_to = previous["a_message_id"]
        references = f"{previous['a_references'] or ''} {previous['a_message_id']}".split()
        article.references = " ".join(references[-20:])
    letter = compose.Letter(
        from_=article.from_,
        to=send.to,
        cc=send.cc,
        bcc=send.bcc,
        subject=article.subject,
        body=article.body,
        html=is_html,
        message_id=article.message_id,
        in_reply_to=article.in_reply_to,
        references=article.references,
        attachments=article.attachments,
        date=now,
    )
    send.sender = email.utils.parseaddr(article.from_)[1]
    send.raw = compose.compose(letter, crypto, send.plan)


def _signature(tx: Transaction, text: str, user_id: int) -> str:
    """The queue signature with the agent's name filled in; other tags become "-" as in Znuny."""
    agent = agents.by_id(tx, user_id)
    values = {
        "<OTRS_Agent_UserFirstname>": agent["first_name"] if agent else "",
        "<OTRS_Agent_UserLastname>": agent["last_name"] if agent else "",
        "<OTRS_CURRENT_UserFirstname>": agent["first_name"] if agent else "",
        "<OTRS_CURRENT_UserLastname>": agent["last_name"] if agent else "",
    }
    return SIGNATURE_TAG.sub(lambda found: values.get(found.group(0), "-"), text)
