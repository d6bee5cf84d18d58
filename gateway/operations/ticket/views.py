"""TicketGet's answer: tickets, articles, attachments and dynamic fields as Znuny's wire shows them.

Plain dicts shaped like the TicketGet models, built in a fixed number of queries whatever
the number of tickets: both transports serialize them directly.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from typing import Any

from gateway.mail import outbox
from gateway.mail.mime import content_type_parts
from gateway.operations.common import wire_time
from gateway.store import ticket_rows
from gateway.store.database import Row, Transaction, as_datetime, utcnow
from gateway.tickets.writes import HTML_BODY_FILE, number_text


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
    """TicketGet's data for rows of ticket_rows.tickets(), in a fixed number of queries whatever their count.

    Plain dicts shaped like the TicketGet models: both transports serialize them directly.
    """
    now = utcnow()
    ids = [row["id"] for row in rows]
    fields = _fields_by_object(tx, "Ticket", ids) if options.dynamic_fields else {}
    articles = _articles(tx, ids, options) if options.all_articles else {}
    result = []
    for row in rows:
        data = {
            "Age": int((now - as_datetime(row["create_time"])).total_seconds()),
            "ArchiveFlag": "y" if row["archive_flag"] else "n",
            "ChangeBy": row["change_by"],
            "Changed": wire_time(row["change_time"]),
            "CreateBy": row["create_by"],
            "Created": wire_time(row["create_time"]),
            "CustomerID": row["customer_id"] or "",
            "CustomerUserID": row["customer_user_id"] or "",
            "EscalationResponseTime": 0,
            "EscalationSolutionTime": 0,
            "EscalationTime": 0,
            "EscalationUpdateTime": 0,
            "GroupID": row["group_id"],
            "Lock": row["lock_name"],
            "LockID": row["ticket_lock_id"],
            "Owner": row["owner"],
            "OwnerID": row["user_id"],
            "Priority": row["priority"],
            "PriorityID": row["ticket_priority_id"],
            "Queue": row["queue"],
            "QueueID": row["queue_id"],
            "RealTillTimeNotUsed": row["until_time"],
            "Responsible": row["responsible"],
            "ResponsibleID": row["responsible_user_id"],
            "SLAID": str(row["sla_id"] or ""),
            "ServiceID": str(row["service_id"] or ""),
            "State": row["state"],
            "StateID": row["ticket_state_id"],
            "StateType": row["state_type"],
            "TicketID": row["id"],
            "TicketNumber": row["tn"],
            "TimeUnit": number_text(row["time_unit"]),
            "Title": row["title"],
            "Type": row["type_name"] or "",
            "TypeID": row["type_id"] or 0,
            "UnlockTimeout": row["timeout"],
            "UntilTime": max(0, row["until_time"] - int(now.timestamp())) if row["until_time"] else 0,
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
    for value in ticket_rows.field_values(tx, object_type, ids):
        grouped.setdefault(value["object_id"], {}).setdefault(value["name"], []).append(value["value_text"])
    return {
        object_id: [{"Name": name, "Value": values} for name, values in sorted(by_name.items())]
        for object_id, by_name in grouped.items()
    }


def _articles(tx: Transaction, ticket_ids: Sequence[int], options: GetOptions) -> dict[int, list[dict[str, Any]]]:
    by_ticket: dict[int, list[Row]] = {}
    for row in ticket_rows.articles(tx, ticket_ids):
        by_ticket.setdefault(row["ticket_id"], []).append(row)
    selected: dict[int, list[tuple[int, Row]]] = {}
    for ticket_id, rows in by_ticket.items():
        numbered = list(enumerate(rows, start=1))
        numbered = [
            (n, r)
            for n, r in numbered
            if (not options.customer_view or r["is_visible_for_customer"])
            and (not options.sender_types or r["sender_type"] in options.sender_types)
        ]
        if options.descending:
            numbered.reverse()
        selected[ticket_id] = numbered[: options.limit] if options.limit else numbered
    article_ids = [row["id"] for rows in selected.values() for _, row in rows]
    files: dict[int, list[dict[str, str]]] = {}
    if options.attachments:
        by_article: dict[int, list[Row]] = {}
        for file in ticket_rows.attachments(tx, article_ids, options.attachment_contents):
            by_article.setdefault(file["article_id"], []).append(file)
        for article_id, stored in by_article.items():
            # Znuny numbers an article's files by name (ORDER BY filename, id), hidden bodies included,
            # and lists them in the string order of those numbers (Perl's `sort keys`: 1, 10, 2, ...)
            stored.sort(key=lambda file: (file["filename"] or "", file["id"]))
            hidden = _hidden_bodies(stored, options.html_body_as_attachment)
            files[article_id] = sorted(
                (
                    {
                        "Content": base64.b64encode(bytes(file["content"])).decode()
                        if file["content"] is not None
                        else "",
                        "ContentAlternative": file["content_alternative"] or "",
                        "ContentID": file["content_id"] or "",
                        "ContentType": file["content_type"] or "",
                        "Disposition": file["disposition"] or "",
                        "FileID": str(number),
                        "Filename": file["filename"] or "",
                        "FilesizeRaw": file["content_size"] or "0",
                    }
                    for number, file in enumerate(stored, start=1)
                    if file["id"] not in hidden
                ),
                key=lambda attachment: attachment["FileID"],
            )
    fields = _fields_by_object(tx, "Article", article_ids) if options.dynamic_fields else {}
    mailed = [row["id"] for rows in selected.values() for _, row in rows if row["channel"] == "Email"]
    deliveries = outbox.delivery(tx, mailed) if mailed and not options.customer_view else {}
    result: dict[int, list[dict[str, Any]]] = {}
    for ticket_id, numbered in selected.items():
        for number, row in numbered:
            mime, charset = content_type_parts(row["a_content_type"])
            article = {
                "ArticleID": row["id"],
                "ArticleNumber": number,
                "Bcc": row["a_bcc"] or "",
                "Body": row["a_body"] or "",
                "Cc": row["a_cc"] or "",
                "ChangeBy": row["change_by"],
                "ChangeTime": wire_time(row["change_time"]),
                "Charset": charset,
                "CommunicationChannel": row["channel"],
                "CommunicationChannelID": row["communication_channel_id"],
                "ContentCharset": charset,
                "ContentType": row["a_content_type"] or "",
                "CreateBy": row["create_by"],
                "CreateTime": wire_time(row["create_time"]),
                "From": row["a_from"] or "",
                "InReplyTo": row["a_in_reply_to"] or "",
                "IncomingTime": row["incoming_time"],
                "IsVisibleForCustomer": row["is_visible_for_customer"],
                "MessageID": row["a_message_id"] or "",
                "MimeType": mime,
                "References": row["a_references"] or "",
                "ReplyTo": row["a_reply_to"] or "",
                "SenderType": row["sender_type"],
                "SenderTypeID": str(row["article_sender_type_id"]),
                "Subject": row["a_subject"] or "",
                "TicketID": ticket_id,
                "TimeUnit": number_text(row["time_unit"]),
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


def _hidden_bodies(files: list[Row], html_body_as_attachment: bool) -> set[int]:
    """Znuny's ArticleAttachmentIndex: the plain-text body (file-1) is never listed, the HTML body
    (file-2, or file-1.html) only with HTMLBodyAsAttachment; both only when inline, except that
    without either an attached text/plain file-1 counts as the plain body."""

    def kind(file: Row, mime: str) -> bool:
        return mime in (file["content_type"] or "").lower()

    plain = next(
        (
            f["id"]
            for f in files
            if f["filename"] == "file-1" and f["disposition"] == "inline" and kind(f, "text/plain")
        ),
        None,
    )
    html = next(
        (
            f["id"]
            for f in files
            if f["filename"] in ("file-1", HTML_BODY_FILE, "file-1.html")
            and f["disposition"] == "inline"
            and kind(f, "text/html")
        ),
        None,
    )
    if plain is None and html is None:
        plain = next((f["id"] for f in files if f["filename"] == "file-1" and kind(f, "text/plain")), None)
    return {i for i in (plain, None if html_body_as_attachment else html) if i is not None}
