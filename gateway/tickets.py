"""Tickets as Znuny keeps them: creation, articles, dynamic fields, history, and reading them back.

Everything here works inside the caller's transaction and trusts its input: the operations
validate first (with Znuny's error codes), then call these functions, so a failure anywhere
rolls the whole request back.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from gateway.auth import Principal
from gateway.mail import htmltext, outbox
from gateway.mail.outgoing import Outgoing
from gateway.store import tickets
from gateway.store.database import Row, Transaction, as_datetime, utcnow
from gateway.ticketnumber import next_ticket_number

# the agent that customer users' actions are recorded as (Znuny's CustomerPanelUserID)
CUSTOMER_PANEL_USER_ID = 1
HTML_BODY_FILE = "file-2"  # Znuny's name for the HTML body kept beside its text
LOCK_UNLOCK, LOCK_LOCK = 1, 2


def acting_user_id(principal: Principal) -> int:
    return principal.user_id if principal.is_agent else CUSTOMER_PANEL_USER_ID


# -- permissions -----------------------------------------------------------------------------------------

class Access:
    """The caller's permissions, read once per request: checking many tickets costs one query.

    Znuny's rules: agents through the queue's group (rw implies every other key) or as the
    ticket's owner or responsible; customers through their own login or company.
    """

    def __init__(self, tx: Transaction, principal: Principal) -> None:
        self.tx = tx
        self.principal = principal
        self._groups: dict[int, set[str]] | None = None

    def _agent_keys(self, group_id: int) -> set[str]:
        if self._groups is None:
            self._groups = tickets.agent_permissions(self.tx, self.principal.user_id)
        return self._groups.get(group_id, set())

    def allows(self, ticket: Row, permission: str = "ro") -> bool:
        principal = self.principal
        if principal.is_agent:
            if principal.user_id in (ticket["user_id"], ticket["responsible_user_id"]):
                return True
            return bool(self._agent_keys(ticket["group_id"]) & {permission, "rw"})
        return ticket["customer_user_id"] == principal.login or (
            bool(principal.customer_id) and ticket["customer_id"] == principal.customer_id)

    def may_create_in(self, group_id: int, customer_group_support: bool) -> bool:
        if self.principal.is_agent:
            return bool(self._agent_keys(group_id) & {"create", "rw"})
        if not customer_group_support:
            return True
        return tickets.customer_has_permission(self.tx, self.principal.login, self.principal.customer_id or "",
                                               group_id, "create")


# -- writing ---------------------------------------------------------------------------------------------

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


def create_ticket(tx: Transaction, principal: Principal, system_id: str, values: dict[str, Any],
                  names: tuple[str, str, str]) -> tuple[int, str]:
    """Insert the ticket row and its first history lines; returns (TicketID, TicketNumber).

    `names` are the queue, priority and state names, which the caller has just looked up.
    """
    by = acting_user_id(principal)
    number = next_ticket_number(tx, system_id, utcnow())
    ticket_id = tickets.insert_ticket(tx, {**values, "tn": number, "create_by": by})
    queue, priority, state = names
    tickets.add_history(tx, ticket_id, "NewTicket", f"%%{number}%%{queue}%%{priority}%%{state}%%{ticket_id}", by)
    tickets.add_history(tx, ticket_id, "CustomerUpdate",
                        f"%%CustomerID={values.get('customer_id') or ''};"
                        f"CustomerUser={values.get('customer_user_id') or ''};", by)
    return ticket_id, number


def add_article(tx: Transaction, principal: Principal, ticket_id: int, article: NewArticle, unlocked: bool,
                reset_unlock_time: bool = True) -> int:
    """An article and what comes with it; an agent's article on an unlocked ticket resets its unlock time."""
    by = acting_user_id(principal)
    body, content_type, attachments = _as_stored(article)
    article_id = tickets.insert_article(tx, ticket_id, article.sender_type_id, article.channel_id, article.visible,
                                        by, {"from": article.from_, "to": article.to, "cc": article.cc,
                                             "bcc": article.bcc, "subject": article.subject, "body": body,
                                             "content_type": content_type, "message_id": article.message_id,
                                             "in_reply_to": article.in_reply_to, "references": article.references})
    if article.send is not None:
        outbox.enqueue(tx, article_id, article.send.sender, article.send.recipients, article.send.raw)
    tickets.add_history(tx, ticket_id, article.history_type, article.history_comment, by, article_id)
    if principal.is_agent and unlocked:
        if reset_unlock_time:
            tickets.update_ticket(tx, ticket_id, {"timeout": int(utcnow().replace(tzinfo=dt.UTC).timestamp())}, by)
        tickets.add_history(tx, ticket_id, "Misc", "Reset of unlock time.", by)
    for filename, file_type, content, disposition in attachments:
        tickets.insert_attachment(tx, article_id, filename, file_type, content, disposition)
    for field_id, values in article.fields:
        tickets.set_field_values(tx, field_id, article_id, values)
    if article.time_unit is not None:
        account_time(tx, ticket_id, article_id, article.time_unit, by)
    return article_id


def _as_stored(article: NewArticle) -> tuple[str, str, list[tuple[str, str, bytes, str]]]:
    """Body, content type and attachments as Znuny's article backend stores them: an HTML body becomes
    its plain text (HTMLUtils::ToAscii) and the HTML the first attachment, `file-2`, inline."""
    mime, charset = _content_type_parts(article.content_type)
    if mime.lower() != "text/html":
        return article.body, article.content_type, article.attachments
    html_body = (HTML_BODY_FILE, f'text/html; charset="{charset}"', article.body.encode(), "inline")
    plain_type = re.sub("html", "plain", article.content_type, count=1, flags=re.IGNORECASE)
    return htmltext.to_ascii(article.body), plain_type, [html_body, *article.attachments]


def _hidden_bodies(files: list[Row], html_body_as_attachment: bool) -> set[int]:
    """Znuny's ArticleAttachmentIndex: the plain-text body (file-1) is never listed, the HTML body
    (file-2, or file-1.html) only with HTMLBodyAsAttachment; both only when inline, except that
    without either an attached text/plain file-1 counts as the plain body."""
    def kind(file: Row, mime: str) -> bool:
        return mime in (file["content_type"] or "").lower()

    plain = next((f["id"] for f in files if f["filename"] == "file-1" and f["disposition"] == "inline"
                  and kind(f, "text/plain")), None)
    html = next((f["id"] for f in files if f["filename"] in ("file-1", HTML_BODY_FILE, "file-1.html")
                 and f["disposition"] == "inline" and kind(f, "text/html")), None)
    if plain is None and html is None:
        plain = next((f["id"] for f in files if f["filename"] == "file-1" and kind(f, "text/plain")), None)
    return {i for i in (plain, None if html_body_as_attachment else html) if i is not None}


def record_impersonation(tx: Transaction, principal: Principal, ticket_id: int) -> None:
    """An impersonated write gets one more history line that names both logins (decisions.md);
    Znuny's own lines keep their exact form, which clients parse."""
    if principal.impersonated_by:
        tickets.add_history(tx, ticket_id, "Misc", f"%%Impersonation%%{principal.impersonated_by}"
                                                   f" acting as {principal.login}", acting_user_id(principal))


def change(tx: Transaction, principal: Principal, ticket_id: int, columns: dict[str, Any], history_type: str,
           history_name: str) -> None:
    """One attribute change and its history line, as Znuny writes them."""
    by = acting_user_id(principal)
    tickets.update_ticket(tx, ticket_id, columns, by)
    tickets.add_history(tx, ticket_id, history_type, history_name, by)


def account_time(tx: Transaction, ticket_id: int, article_id: int | None, time_unit: float, by: int) -> None:
    tickets.add_time_accounting(tx, ticket_id, article_id, time_unit, by)
    total = tickets.accounted_total(tx, ticket_id)
    tickets.add_history(tx, ticket_id, "TimeAccounting", f"%%{_number(time_unit)}%%{_number(total)}", by,
                        article_id)


def set_owner(tx: Transaction, principal: Principal, ticket_id: int, owner: Row, lock: bool) -> None:
    by = acting_user_id(principal)
    changes: dict[str, Any] = {"user_id": owner["id"]}
    if lock:
        changes["ticket_lock_id"] = LOCK_LOCK
    tickets.update_ticket(tx, ticket_id, changes, by)
    tickets.add_history(tx, ticket_id, "OwnerUpdate", f"%%{owner['login']}%%{owner['id']}", by)


def set_fields(tx: Transaction, object_id: int, fields: Sequence[tuple[int, str, list[str]]], by: int,
               ticket_id: int | None = None) -> None:
    """Set dynamic-field values; as Znuny, an unchanged value is not written, a changed one of a
    ticket gets a history line with the new and the old value."""
    old: dict[str, list[str]] = {}
    if fields and ticket_id is not None:
        for row in tickets.field_values(tx, "Ticket", [object_id]):
            old.setdefault(row["name"], []).append(row["value_text"])
    for field_id, name, values in fields:
        if ticket_id is not None and old.get(name, []) == list(values):
            continue
        tickets.set_field_values(tx, field_id, object_id, values)
        if ticket_id is not None:
            tickets.add_history(tx, ticket_id, "TicketDynamicFieldUpdate",
                                f"%%FieldName%%{name}%%Value%%{','.join(values)}"
                                f"%%OldValue%%{','.join(old.get(name, []))}", by)


def _number(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


# -- reading (TicketGet) ---------------------------------------------------------------------------------

def _time(value: Any) -> str:
    moment = as_datetime(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _epoch(value: Any) -> int:
    moment = as_datetime(value)
    return int(moment.replace(tzinfo=dt.UTC).timestamp()) if moment else 0


def _content_type_parts(content_type: str) -> tuple[str, str]:
    mime, _, rest = (content_type or "").partition(";")
    charset = rest.split("charset=", 1)[1].strip().strip('"') if "charset=" in rest else ""
    return mime.strip(), charset


@dataclasses.dataclass(frozen=True)
class GetOptions:
    dynamic_fields: bool = False
    all_articles: bool = False
    sender_types: tuple[str, ...] = ()
    descending: bool = False
    limit: int = 0
    attachments: bool = False
    attachment_contents: bool = True
    html_body_as_attachment: bool = False
    customer_view: bool = False


def ticket_data(tx: Transaction, rows: Sequence[Row], options: GetOptions) -> list[dict[str, Any]]:
    """TicketGet's data for rows of tickets.tickets(), in a fixed number of queries whatever their count.

    Plain dicts shaped like the TicketGet models: both transports serialize them directly.
    """
    now = utcnow()
    ids = [row["id"] for row in rows]
    fields = _fields_by_object(tx, "Ticket", ids) if options.dynamic_fields else {}
    articles = _articles(tx, ids, options) if options.all_articles else {}
    result = []
    for row in rows:
        data = {
            "Age": int((now - as_datetime(row["create_time"])).total_seconds()), "ArchiveFlag": "y"
            if row["archive_flag"] else "n", "ChangeBy": row["change_by"], "Changed": _time(row["change_time"]),
            "CreateBy": row["create_by"], "Created": _time(row["create_time"]),
            "CustomerID": row["customer_id"] or "", "CustomerUserID": row["customer_user_id"] or "",
            "EscalationResponseTime": 0, "EscalationSolutionTime": 0, "EscalationTime": 0,
            "EscalationUpdateTime": 0, "GroupID": row["group_id"], "Lock": row["lock_name"],
            "LockID": row["ticket_lock_id"], "Owner": row["owner"], "OwnerID": row["user_id"],
            "Priority": row["priority"], "PriorityID": row["ticket_priority_id"], "Queue": row["queue"],
            "QueueID": row["queue_id"], "RealTillTimeNotUsed": row["until_time"],
            "Responsible": row["responsible"], "ResponsibleID": row["responsible_user_id"],
            "SLAID": str(row["sla_id"] or ""), "ServiceID": str(row["service_id"] or ""), "State": row["state"],
            "StateID": row["ticket_state_id"], "StateType": row["state_type"], "TicketID": row["id"],
            "TicketNumber": row["tn"], "TimeUnit": _number(row["time_unit"]), "Title": row["title"],
            "Type": row["type_name"] or "", "TypeID": row["type_id"] or 0,
            "UnlockTimeout": row["timeout"], "UntilTime": max(0, row["until_time"] - int(now.timestamp()))
            if row["until_time"] else 0,
        }
        if row["sla"]:
            data["SLA"] = row["sla"]
        if row["service"]:
            data["Service"] = row["service"]
        # as Znuny: a key with nothing under it is left out, not sent as []
        if fields.get(row["id"]):
            data["DynamicField"] = fields[row["id"]]
        if articles.get(row["id"]):
            data["Article"] = articles[row["id"]]
        result.append(data)
    return result


def _fields_by_object(tx: Transaction, object_type: str, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, dict[str, list[str]]] = {}
    for value in tickets.field_values(tx, object_type, ids):
        grouped.setdefault(value["object_id"], {}).setdefault(value["name"], []).append(value["value_text"])
    return {object_id: [{"Name": name, "Value": values} for name, values in sorted(by_name.items())]
            for object_id, by_name in grouped.items()}


def _articles(tx: Transaction, ticket_ids: Sequence[int], options: GetOptions) -> dict[int, list[dict[str, Any]]]:
    by_ticket: dict[int, list[Row]] = {}
    for row in tickets.articles(tx, ticket_ids):
        by_ticket.setdefault(row["ticket_id"], []).append(row)
    selected: dict[int, list[tuple[int, Row]]] = {}
    for ticket_id, rows in by_ticket.items():
        numbered = list(enumerate(rows, start=1))
        numbered = [(n, r) for n, r in numbered if (not options.customer_view or r["is_visible_for_customer"])
                    and (not options.sender_types or r["sender_type"] in options.sender_types)]
        if options.descending:
            numbered.reverse()
        selected[ticket_id] = numbered[: options.limit] if options.limit else numbered
    article_ids = [row["id"] for rows in selected.values() for _, row in rows]
    files: dict[int, list[dict[str, str]]] = {}
    if options.attachments:
        by_article: dict[int, list[Row]] = {}
        for file in tickets.attachments(tx, article_ids, options.attachment_contents):
            by_article.setdefault(file["article_id"], []).append(file)
        for article_id, stored in by_article.items():
            # Znuny numbers an article's files by name (ORDER BY filename, id), hidden bodies included,
            # and lists them in the string order of those numbers (Perl's `sort keys`: 1, 10, 2, ...)
            stored.sort(key=lambda file: (file["filename"] or "", file["id"]))
            hidden = _hidden_bodies(stored, options.html_body_as_attachment)
            files[article_id] = sorted(({
                "Content": base64.b64encode(bytes(file["content"])).decode() if file["content"] is not None else "",
                "ContentAlternative": file["content_alternative"] or "", "ContentID": file["content_id"] or "",
                "ContentType": file["content_type"] or "", "Disposition": file["disposition"] or "",
                "FileID": str(number), "Filename": file["filename"] or "", "FilesizeRaw": file["content_size"] or "0"}
                for number, file in enumerate(stored, start=1) if file["id"] not in hidden),
                key=lambda attachment: attachment["FileID"])
    fields = _fields_by_object(tx, "Article", article_ids) if options.dynamic_fields else {}
    mailed = [row["id"] for rows in selected.values() for _, row in rows if row["channel"] == "Email"]
    deliveries = outbox.delivery(tx, mailed) if mailed and not options.customer_view else {}
    result: dict[int, list[dict[str, Any]]] = {}
    for ticket_id, rows in selected.items():
        for number, row in rows:
            mime, charset = _content_type_parts(row["a_content_type"])
            article = {
                "ArticleID": row["id"], "ArticleNumber": number, "Bcc": row["a_bcc"] or "",
                "Body": row["a_body"] or "", "Cc": row["a_cc"] or "", "ChangeBy": row["change_by"],
                "ChangeTime": _time(row["change_time"]), "Charset": charset,
                "CommunicationChannel": row["channel"], "CommunicationChannelID": row["communication_channel_id"],
                "ContentCharset": charset, "ContentType": row["a_content_type"] or "",
                "CreateBy": row["create_by"], "CreateTime": _time(row["create_time"]), "From": row["a_from"] or "",
                "InReplyTo": row["a_in_reply_to"] or "", "IncomingTime": row["incoming_time"],
                "IsVisibleForCustomer": row["is_visible_for_customer"], "MessageID": row["a_message_id"] or "",
                "MimeType": mime, "References": row["a_references"] or "", "ReplyTo": row["a_reply_to"] or "",
                "SenderType": row["sender_type"], "SenderTypeID": str(row["article_sender_type_id"]),
                "Subject": row["a_subject"] or "", "TicketID": ticket_id, "TimeUnit": _number(row["time_unit"]),
                "To": row["a_to"] or "",
            }
            if files.get(row["id"]):
                article["Attachment"] = files[row["id"]]
            if row["id"] in fields:
                article["DynamicField"] = fields[row["id"]]
            if row["id"] in deliveries:
                article["Delivery"] = deliveries[row["id"]]
            result.setdefault(ticket_id, []).append(article)
    return result
