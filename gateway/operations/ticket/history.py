"""Ticket::TicketHistoryGet: the history lines of tickets, agents only."""

from __future__ import annotations

from gateway.operations.common import Call, OperationError
from gateway.operations.ticket.get import ticket_ids
from gateway.operations.ticket.models import (
    HistoryLine,
    TicketHistory,
    TicketHistoryGetRequest,
    TicketHistoryGetResponse,
)
from gateway.store import ticket_rows
from gateway.store.database import as_datetime
from gateway.tickets.access import Access
from gateway.wirenumbers import identifier

OP = "TicketHistoryGet"


def run(call: Call, request: TicketHistoryGetRequest) -> TicketHistoryGetResponse:
    with call.runtime.db.transaction(write=False) as tx:
        principal = call.authenticate(call.credentials(request), tx)
        if principal is None:
            raise OperationError(f"{OP}.AuthFail", f"{OP}: Authorization failing!")
        if not principal.is_agent:
            raise OperationError(f"{OP}.AuthFail", f"{OP}: User needs to an Agent!")
        ids = ticket_ids(request.TicketID, OP)
        access = Access(tx, principal, customer_group_support=False)
        keys = {value: identifier(value) for value in ids}
        valid = [key for key in keys.values() if key is not None]
        rows = {row["id"]: row for row in ticket_rows.tickets(tx, valid)} if valid else {}
        ticket_of: dict[str, int] = {}
        for value in ids:
            row = rows.get(keys[value])
            if row is None or not access.allows(row):
                raise OperationError(f"{OP}.AccessDenied", f"{OP}: User does not have access to the ticket {value}!")
            ticket_of[value] = row["id"]
        lines: dict[int, list[HistoryLine]] = {}
        for line in ticket_rows.history(tx, valid):
            lines.setdefault(line["ticket_id"], []).append(
                HistoryLine(
                    ArticleID=line["article_id"] or 0,
                    CreateBy=line["create_by"],
                    CreateTime=as_datetime(line["create_time"]).strftime("%Y-%m-%d %H:%M:%S"),
                    HistoryType=line["history_type"],
                    HistoryTypeID=line["history_type_id"],
                    Name=line["name"],
                    OwnerID=line["owner_id"],
                    PriorityID=line["priority_id"],
                    QueueID=line["queue_id"],
                    StateID=line["state_id"],
                    TicketID=str(line["ticket_id"]),
                    TypeID=line["type_id"] or 0,
                )
            )
    if not lines:
        raise OperationError(
            f"{OP}.NotTicketData",
            f"{OP}: Could not get Ticket history data"
            " in Kernel::GenericInterface::Operation::Ticket::TicketHistoryGet::Run()",
        )
    return TicketHistoryGetResponse(
        TicketHistory=[TicketHistory(TicketID=value, History=lines.get(ticket_of[value], [])) for value in ids]
    )
