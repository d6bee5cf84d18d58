"""An article as the exact bytes of an e-mail: what the outbox stores and SMTP sends, unchanged.

The message is built once, 7-bit with CRLF line endings (quoted-printable text, base64
attachments, RFC 2047 headers), then signed/encrypted by the crypto module and never
serialised again: re-generating a signed message (as the stdlib generators do for a parsed
one, rewriting "From " lines and folding) breaks its signature.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import secrets
from collections.abc import Sequence

from gateway.errors import ComposeError
from gateway.mail import htmltext, mime
from gateway.mail.crypto import Crypto, Plan

Attachment = tuple[str, str, bytes, str]  # filename, content type, content, disposition


@dataclasses.dataclass
class Letter:
    from_: str
    to: str
    cc: str
    bcc: str
    subject: str
    body: str
    html: bool
    message_id: str
    in_reply_to: str = ""
    references: str = ""
    attachments: Sequence[Attachment] = ()
    date: dt.datetime | None = None


def message_id(fqdn: str, now: dt.datetime) -> str:
    """Znuny's form, <epoch.random@fqdn>: unique without coordination between machines."""
    return f"<{int(now.timestamp())}.{secrets.token_hex(8)}@{fqdn}>"


def addresses(*values: str) -> list[str]:
    """The bare addresses of header values, each once (the envelope recipients, Bcc included)."""
    seen: dict[str, str] = {}
    for _, address in email.utils.getaddresses([v for v in values if v]):
        if address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


def compose(letter: Letter, crypto: Crypto, plan: Plan | None = None) -> bytes:
    """The whole message: envelope headers, MIME-Version, then the (protected) entity."""
    body = letter.body
    if plan is not None and plan.inline:
        if letter.html:
            raise ComposeError(ComposeError.INLINE_HTML)
        if plan.crypt is not None and plan.crypt.subtype == "Inline" and letter.attachments:
            raise ComposeError(ComposeError.INLINE_ATTACHMENTS)
        body = (
            crypto.encrypt_text(plan, body)
            if plan.crypt is not None and plan.crypt.type == "PGP" and plan.crypt.subtype == "Inline"
            else crypto.clearsign(plan, body)
        )
    entity = _entity(body, letter.html, letter.attachments)
    if plan is not None:
        entity = crypto.protect(plan, entity)
    return _headers(letter) + entity


def _headers(letter: Letter) -> bytes:
    """The header block without its closing empty line; Bcc stays in the envelope only."""
    headers = [
        ("From", letter.from_),
        ("To", letter.to),
        ("Cc", letter.cc),
        ("Subject", " ".join(letter.subject.split())),
        ("Date", email.utils.format_datetime(letter.date or dt.datetime.now(dt.UTC))),
        ("Message-ID", letter.message_id),
        ("In-Reply-To", letter.in_reply_to),
        ("References", letter.references),
        ("MIME-Version", "1.0"),
    ]
    return b"".join(mime.header(name, value) for name, value in headers if value)


def _entity(body: str, is_html: bool, attachments: Sequence[Attachment]) -> bytes:
    content = _alternative(body) if is_html else _text(body, "plain")
    if attachments:
        content = mime.multipart("multipart/mixed", [content, *(_attachment(a) for a in attachments)])
    return content


def _alternative(body: str) -> bytes:
    return mime.multipart("multipart/alternative", [_text(htmltext.to_ascii(body), "plain"), _text(body, "html")])


def _text(text: str, subtype: str) -> bytes:
    return (
        f"Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + mime.quoted_printable(text)


def _attachment(attachment: Attachment) -> bytes:
    filename, content_type, content, disposition = attachment
    mime_type, charset = mime.content_type_parts(content_type)
    disposition = "inline" if disposition == "inline" else "attachment"
    name = filename.replace("\\", "").replace('"', "")
    if name.isascii() and name.isprintable():
        disposition += f'; filename="{name}"'
    else:  # RFC 2231: a parameter in UTF-8
        disposition += f"; filename*={email.utils.encode_rfc2231(filename, 'utf-8')}"
    return (
        mime.header("Content-Type", mime_type.strip().lower() + (f'; charset="{charset}"' if charset else ""))
        + mime.header("Content-Disposition", disposition)
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + mime.base64_lines(content)
    )
