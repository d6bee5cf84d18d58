"""Ticket::TicketCreate: Znuny's checks in Znuny's order, then one transaction that writes it all."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from gateway.auth import Credentials
from gateway.mail.address import display_address
from gateway.operations.common import Call, OperationError
from gateway.operations.ticket.checks import PENDING_STATE_TYPES, Checks, given, has_data
from gateway.operations.ticket.models import TicketCreateRequest, TicketCreateResponse, TicketCreateTicket
from gateway.operations.ticket.views import GetOptions, ticket_data
from gateway.principal import Principal
from gateway.store import customers, ticket_rows
from gateway.store.database import Row, Transaction, utcnow
from gateway.tickets import writes
from gateway.tickets.access import CUSTOMER_PANEL_USER_ID, Access, acting_user_id

OP = "TicketCreate"
DEFAULTS = {
    "IsVisibleForCustomer": "1",
    "HistoryType": "NewTicket",
    "HistoryComment": "%%GenericInterface Create",
    "AutoResponseType": "auto reply",
}
check = Checks(OP)


def authenticate(call: Call, creds: Credentials, operation: str, tx: Transaction) -> Principal:
    """Znuny's credential checks of TicketCreate/TicketUpdate, then Auth()."""
    if not (creds.UserLogin or creds.CustomerUserLogin or creds.SessionID):
        raise OperationError(
            f"{operation}.MissingParameter", f"{operation}: UserLogin, CustomerUserLogin or SessionID is required!"
        )
    if not creds.SessionID and not creds.Password:
        raise OperationError(f"{operation}.MissingParameter", f"{operation}: Password or SessionID is required!")
    principal = call.authenticate(creds, tx)
    if principal is None:
        raise OperationError(f"{operation}.AuthFail", f"{operation}: User could not be authenticated!")
    return principal


def run(call: Call, request: TicketCreateRequest) -> TicketCreateResponse:
    settings = call.runtime.settings
    with call.runtime.db.transaction() as tx:
        principal = authenticate(call, call.credentials(request), OP, tx)
        if not request.Article or not all(has_data(article) for article in request.Article):
            raise check.missing("Article parameter is missing or not valid!")
        ticket = request.Ticket
        if not has_data(ticket):
            raise check.missing("Ticket parameter is missing or not valid!")
        check.parts(request)
        checked = _ticket_values(tx, ticket, principal, settings.customer_group_support)
        values, names = checked.columns, checked.names
        customer_from = _customer_address(values["customer_user_id"], checked.customer)
        articles = [
            check.article(tx, principal, article, DEFAULTS, customer_from, names[0], call.runtime.crypto)
            for article in request.Article
        ]
        fields = [check.dynamic_field(tx, item) for item in request.DynamicField or []]
        attachments = [check.attachment(item) for item in request.Attachment or []]
        owner, lock_given = checked.owner, checked.lock_given
        ticket_id, number = writes.create_ticket(call.runtime.db, tx, principal, settings.system_id, values, names)
        by = acting_user_id(principal)
        writes.set_fields(
            tx, ticket_id, [(f["id"], f["name"], v) for f, v in fields if f["object_type"] == "Ticket"], by, ticket_id
        )
        article_ids = []
        for article in articles:
            article.attachments += attachments
            article.fields += [(f["id"], v) for f, v in fields if f["object_type"] == "Article"]
            if article.send is not None:
                check.send(tx, call.runtime, by, ticket_id, number, values["queue_id"], article)
            # the unlock time was set with the ticket a moment ago
            article_ids.append(
                writes.add_article(
                    tx,
                    principal,
                    ticket_id,
                    article,
                    reset_unlock_time=False,
                    unlocked=values["ticket_lock_id"] == writes.LOCK_UNLOCK,
                )
            )
        if owner is not None and owner["id"] != CUSTOMER_PANEL_USER_ID:
            writes.set_owner(tx, principal, ticket_id, owner, lock=not lock_given)
        elif owner is None and principal.is_agent and principal.user_id != CUSTOMER_PANEL_USER_ID:
            writes.set_owner(tx, principal, ticket_id, {"id": principal.user_id, "login": principal.login}, lock=False)
        writes.record_impersonation(tx, principal, ticket_id)
        # Znuny answers a customer user's ArticleID as a string, an agent's as a number
        response = TicketCreateResponse(
            TicketID=str(ticket_id),
            TicketNumber=number,
            ArticleID=article_ids if principal.is_agent else list(map(str, article_ids)),
        )
        if str(call.options.get("IncludeTicketData", "0")) == "1":
            response.Ticket = _ticket_data(tx, ticket_id, with_attachments=bool(attachments))
    return response


@dataclasses.dataclass(frozen=True)
class _Checked:
    """The Ticket part, validated: the new row's columns and what the rest of the creation needs."""

    columns: dict[str, Any]  # ticket columns, as ticket_rows.insert_ticket takes them
    names: tuple[str, str, str]  # queue, priority, state
    customer: Row | None
    owner: Row | None
    lock_given: bool


def _ticket_values(
    tx: Transaction, ticket: TicketCreateTicket, principal: Principal, customer_group_support: int
) -> _Checked:
    """Validate the Ticket part (Znuny's order) into ticket columns."""
    if not given(ticket.Title):
        raise check.missing("Ticket->Title parameter is missing!")
    if not given(ticket.CustomerUser):
        raise check.missing("Ticket->CustomerUser parameter is missing!")
    access = Access(tx, principal, customer_group_support=bool(customer_group_support))
    _prefetch(tx, ticket, access)
    customer_user, customer = check.customer_user(tx, ticket.CustomerUser)
    customer_id = (ticket.CustomerID or "").strip() or (customer["customer_id"] if customer else "")
    if not access.may_assign_customer(customer_user, customer_id):
        raise OperationError(
            f"{OP}.AccessDenied", f"{OP}: Customer users can create tickets only for themselves and their CustomerID!"
        )
    queue = check.required(tx, "queue", "Queue", ticket.QueueID, ticket.Queue)
    lock = check.catalogue(tx, "ticket_lock_type", "Lock", ticket.LockID, ticket.Lock)
    type_ = check.catalogue(tx, "ticket_type", "Type", ticket.TypeID, ticket.Type)
    service = check.catalogue(tx, "service", "Service", ticket.ServiceID, ticket.Service)
    if service is not None and not ticket_rows.service_allowed(tx, service["id"], customer_user):
        raise check.invalid("Ticket->ServiceID or Ticket->Service parameter is invalid!")
    sla = check.catalogue(tx, "sla", "SLA", ticket.SLAID, ticket.SLA)
    if sla is not None and (service is None or not ticket_rows.sla_for_service(tx, sla["id"], service["id"])):
        raise check.invalid("Ticket->SLAID or Ticket->SLA parameter is invalid!")
    state = check.required(tx, "ticket_state", "State", ticket.StateID, ticket.State)
    priority = check.required(tx, "ticket_priority", "Priority", ticket.PriorityID, ticket.Priority)
    owner = check.agent(tx, "Owner", ticket.OwnerID, ticket.Owner)
    responsible = check.agent(tx, "Responsible", ticket.ResponsibleID, ticket.Responsible)
    until = check.pending_time(ticket.PendingTime)
    if not access.may_create_in(queue["group_id"]):
        raise OperationError(f"{OP}.AccessDenied", f"{OP}: Can not create tickets in given Queue or QueueID!")
    state_type = ticket_rows.state_type_name(tx, state["type_id"])
    lock_id = lock["id"] if lock else writes.LOCK_UNLOCK
    if state_type in ("closed", "removed", "merged"):
        lock_id = writes.LOCK_UNLOCK
    return _Checked(
        {
            "title": ticket.Title.strip()[:255],
            "queue_id": queue["id"],
            "ticket_lock_id": lock_id,
            "type_id": type_["id"] if type_ else 1,
            "service_id": service["id"] if service else None,
            "sla_id": sla["id"] if sla else None,
            "user_id": CUSTOMER_PANEL_USER_ID,
            "responsible_user_id": responsible["id"] if responsible else CUSTOMER_PANEL_USER_ID,
            "ticket_priority_id": priority["id"],
            "ticket_state_id": state["id"],
            "customer_id": customer_id,
            "customer_user_id": customer_user,
            "timeout": int(utcnow().replace(tzinfo=dt.UTC).timestamp()),
            "until_time": until if until is not None and state_type in PENDING_STATE_TYPES else 0,
        },
        (queue["name"], priority["name"], state["name"]),
        customer,
        owner,
        lock is not None,
    )


def _prefetch(tx: Transaction, ticket: TicketCreateTicket, access: Access) -> None:
    """The lookups the checks make, sent together: on PostgreSQL they share one round trip."""
    customers.prefetch_by_login(tx, ticket.CustomerUser.strip())
    access.prefetch()
    for table, id_value, name_value in (
        ("queue", ticket.QueueID, ticket.Queue),
        ("ticket_lock_type", ticket.LockID, ticket.Lock),
        ("ticket_type", ticket.TypeID, ticket.Type),
        ("ticket_state", ticket.StateID, ticket.State),
        ("ticket_priority", ticket.PriorityID, ticket.Priority),
    ):
        check.prefetch_catalogue(tx, table, id_value, name_value)


def _customer_address(customer_user: str, row: Row | None) -> str:
    """An article's default From: a known customer as "Full Name" <email>, else the value itself."""
    if row is None:
        return customer_user
    return display_address(f"{row['first_name']} {row['last_name']}", row["email"])


def _ticket_data(tx: Transaction, ticket_id: int, with_attachments: bool) -> dict[str, Any]:
    """IncludeTicketData: the new ticket as TicketGet shows it, attachments when the request had some."""
    data = ticket_data(
        tx,
        ticket_rows.tickets(tx, [ticket_id]),
        GetOptions(dynamic_fields=True, all_articles=True, attachments=with_attachments),
    )
    return data[0]
