"""Ticket::TicketGet: one or more tickets, with the articles, attachments and fields asked for."""

from __future__ import annotations

from typing import Any

from gateway.operations.common import Call, OperationError
from gateway.operations.ticket import views
from gateway.operations.ticket.models import TicketGetRequest, TicketGetResponse
from gateway.store import ticket_rows
from gateway.store.database import Transaction
from gateway.tickets.access import Access
from gateway.wirenumbers import identifier, integer, is_whole_number

OP = "TicketGet"


def ticket_ids(values: list[str] | None, operation: str) -> list[str]:
    """TicketID as a list or a comma-separated string, as Znuny accepts it."""
    if not values:
        raise OperationError(f"{operation}.MissingParameter", f"{operation}: TicketID parameter is missing!")
    ids = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
    if not ids:
        raise OperationError(f"{operation}.MissingParameter", f"{operation}: TicketID parameter is missing!")
    return ids


def _flag(value: str | None, default: bool = False) -> bool:
    """Znuny's `$Param{X} // default`: only an absent flag takes the default, an empty one is false."""
    return default if value is None else str(value).strip() not in ("0", "")


def run(call: Call, request: TicketGetRequest) -> TicketGetResponse:
    with call.runtime.db.transaction(write=False) as tx:
        principal = call.authenticate(call.credentials(request), tx)
        if principal is None:
            raise OperationError(f"{OP}.AuthFail", f"{OP}: Authorization failing!")
        access = Access(tx, principal, customer_group_support=bool(call.runtime.settings.customer_group_support))
        return TicketGetResponse(Ticket=_tickets(tx, access, request))


def _tickets(tx: Transaction, access: Access, request: TicketGetRequest) -> list[dict[str, Any]]:
    values = ticket_ids(request.TicketID, OP)
    if not all(is_whole_number(value) for value in values):
        raise OperationError(f"{OP}.WrongStructure", f"{OP}: Invalid ticket ID parameter(s) found!")
    # 2**70 is well-formed, and no ticket has it
    ids = [found for found in (identifier(value) for value in values) if found is not None]
    denied = OperationError(f"{OP}.AccessDenied", f"{OP}: User does not have access to the ticket!")
    if len(ids) != len(values):
        raise denied
    # as in Znuny, an ArticleLimit that is no number limits nothing
    limit = integer(request.ArticleLimit) or 0
    options = views.GetOptions(
        dynamic_fields=_flag(request.DynamicFields),
        all_articles=_flag(request.AllArticles),
        sender_types=tuple(request.ArticleSenderType or ()),
        descending=(request.ArticleOrder or "ASC").strip().upper() == "DESC",
        limit=limit,
        attachments=_flag(request.Attachments),
        attachment_contents=_flag(request.GetAttachmentContents, True),
        html_body_as_attachment=_flag(request.HTMLBodyAsAttachment),
        customer_view=not access.principal.is_agent,
    )
    rows = {row["id"]: row for row in ticket_rows.tickets(tx, ids)}
    ordered = [row for row in (rows.get(i) for i in ids) if row is not None and access.allows(row)]
    if len(ordered) != len(ids):
        raise denied
    return views.ticket_data(tx, ordered, options)
