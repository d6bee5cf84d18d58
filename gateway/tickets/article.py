"""A new article as an operation hands it to the domain, with the e-mail it may have to become."""

from __future__ import annotations

import dataclasses

from gateway.mail.crypto import Plan


@dataclasses.dataclass
class Outgoing:
    """What the request asked to send (validated), and the message once composed."""

    to: str
    cc: str
    bcc: str
    plan: Plan | None = None
    recipients: list[str] = dataclasses.field(default_factory=list)  # the envelope: To, Cc and Bcc
    sender: str = ""
    raw: bytes = b""


@dataclasses.dataclass
class NewArticle:
    sender_type_id: int
    channel_id: int
    visible: int
    from_: str
    to: str
    subject: str
    body: str
    content_type: str
    history_type: str
    history_comment: str
    time_unit: float | None = None
    cc: str = ""
    bcc: str = ""
    attachments: list[tuple[str, str, bytes, str]] = dataclasses.field(default_factory=list)
    fields: list[tuple[int, list[str]]] = dataclasses.field(default_factory=list)
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    # ArticleSend: the e-mail to store in the outbox with the article
    send: Outgoing | None = None
