"""Ticket::TicketUpdate: Znuny's checks, then only the changed values, atomically.

Unlike Znuny, nothing is written before everything is checked: a request that fails (a
pending state without PendingTime, a missing permission) leaves the ticket as it was.
"""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from gateway.mail.address import display_address
from gateway.operations.common import Call, OperationError
from gateway.operations.ticket.checks import PENDING_STATE_TYPES, Checks, given, has_data
from gateway.operations.ticket.create import authenticate
from gateway.operations.ticket.models import TicketUpdateRequest, TicketUpdateResponse, TicketUpdateTicket
from gateway.operations.ticket.views import GetOptions, ticket_data
from gateway.principal import Principal
from gateway.store import agents, customers, ticket_rows
from gateway.store.database import Row, Transaction
from gateway.tickets import writes
from gateway.tickets.access import Access, acting_user_id
from gateway.wirenumbers import identifier

OP = "TicketUpdate"
DEFAULTS = {
    "IsVisibleForCustomer": "1",
    "HistoryType": "AddNote",
    "HistoryComment": "%%GenericInterface Note",
    "AutoResponseType": "auto follow up",
}
check = Checks(OP)


class _Plan(TypedDict, total=False):
    """The changes a TicketUpdate asks for: a key is there only when its value changes."""

    title: str
    queue: Row
    lock: Row
    type: Row
    customer_user_id: str
    customer_id: str
    service: Row
    sla: Row
    until: int
    state: Row
    state_type: str
    priority: Row
    owner: Row
    responsible: Row


def denied(what: str) -> OperationError:
    return OperationError(f"{OP}.AccessDenied", f"{OP}: {what}")


def run(call: Call, request: TicketUpdateRequest) -> TicketUpdateResponse:
    if call.is_empty(request):
        raise OperationError(f"{OP}.EmptyRequest", f"{OP}: The request data is invalid!")
    if not given(request.TicketID) and not given(request.TicketNumber):
        raise check.missing("TicketID or TicketNumber is required!")
    with call.runtime.db.transaction() as tx:
        principal = authenticate(call, call.credentials(request), OP, tx)
        access = Access(tx, principal, customer_group_support=bool(call.runtime.settings.customer_group_support))
        if request.Article and principal.is_agent:  # the agent's name for the article's From, with the ticket
            agents.prefetch_by_id(tx, acting_user_id(principal))
        ticket = _ticket(tx, access, request)
        if request.Ticket is not None and not has_data(request.Ticket):
            raise check.invalid("Ticket parameter is not valid!")
        check.parts(request)
        plan = _plan(tx, principal, ticket, request.Ticket)
        if request.Article is not None and not (request.Article and all(map(has_data, request.Article))):
            raise check.invalid("Article parameter is not valid!")
        named = request.Ticket.CustomerUser.strip() if request.Ticket and given(request.Ticket.CustomerUser) else ""
        articles = [
            check.article(
                tx, principal, article, DEFAULTS, _from(tx, principal, named), article.To or "", call.runtime.crypto
            )
            for article in request.Article or []
        ]
        fields = [check.dynamic_field(tx, item) for item in request.DynamicField or []]
        if not articles and any(f["object_type"] == "Article" for f, _ in fields):
            raise check.missing("To create an article DynamicField an article is required!")
        attachments = [check.attachment(item) for item in request.Attachment or []]
        if attachments and not articles:
            raise check.missing("To create an attachment an article is needed!")
        _authorize(access, ticket, plan, bool(articles))
        _apply(tx, principal, ticket, plan)
        by = acting_user_id(principal)
        article_ids = []
        unlocked = ticket_rows.lock_id(tx, ticket["id"]) == writes.LOCK_UNLOCK
        for index, article in enumerate(articles):
            if index == 0:
                article.attachments += attachments
            if article.send is not None:
                queue_id = plan["queue"]["id"] if "queue" in plan else ticket["queue_id"]
                check.send(tx, call.runtime, by, ticket["id"], ticket["tn"], queue_id, article)
            article_ids.append(writes.add_article(tx, principal, ticket["id"], article, unlocked=unlocked))
        if article_ids:
            for field, values in fields:
                if field["object_type"] == "Article":
                    writes.set_fields(tx, article_ids[0], [(field["id"], field["name"], values)], by)
        ticket_fields = [(f["id"], f["name"], v) for f, v in fields if f["object_type"] == "Ticket"]
        writes.set_fields(tx, ticket["id"], ticket_fields, by, ticket["id"])
        writes.record_impersonation(tx, principal, ticket["id"])
        response = TicketUpdateResponse(TicketID=str(ticket["id"]), TicketNumber=ticket["tn"])
        if len(article_ids) == 1:
            # Znuny answers a customer user's ArticleID as a string, an agent's as a number
            response.ArticleID = article_ids[0] if principal.is_agent else str(article_ids[0])
        elif article_ids:
            response.ArticleIDs = article_ids
        options = call.options
        if str(options.get("IncludeTicketData", "0")) == "1":
            data = ticket_data(
                tx,
                ticket_rows.tickets(tx, [ticket["id"]]),
                GetOptions(dynamic_fields=True, all_articles=True, attachments=True),
            )
            response.Ticket = data[0]
    return response


def _ticket(tx: Transaction, access: Access, request: TicketUpdateRequest) -> Row:
    """TicketNumber wins over TicketID; an unknown ticket and a forbidden one look the same."""
    if given(request.TicketNumber):
        ticket_id = ticket_rows.ticket_by_number(tx, request.TicketNumber.strip())
    else:
        ticket_id = identifier(request.TicketID)
    rows = ticket_rows.tickets(tx, [ticket_id]) if ticket_id is not None else []
    if not rows or not access.allows(rows[0]):
        raise denied("User does not have access to the ticket!")
    return rows[0]


def _plan(tx: Transaction, principal: Principal, ticket: Row, values: TicketUpdateTicket | None) -> _Plan:
    """The changed columns, checked in Znuny's order (nothing written yet)."""
    if values is None:
        return {}
    plan: _Plan = {}
    if given(values.Title) and values.Title.strip() != ticket["title"]:
        plan["title"] = values.Title.strip()[:255]
    queue = check.catalogue(tx, "queue", "Queue", values.QueueID, values.Queue)
    if queue is not None and queue["id"] != ticket["queue_id"]:
        plan["queue"] = queue
    lock = check.catalogue(tx, "ticket_lock_type", "Lock", values.LockID, values.Lock)
    if lock is not None and lock["id"] != ticket["ticket_lock_id"]:
        plan["lock"] = lock
    type_ = check.catalogue(tx, "ticket_type", "Type", values.TypeID, values.Type)
    if type_ is not None and type_["id"] != ticket["type_id"]:
        plan["type"] = type_
    if given(values.CustomerUser):
        login, customer = check.customer_user(tx, values.CustomerUser)
        plan["customer_user_id"] = login
        plan["customer_id"] = (
            (values.CustomerID or "").strip()
            or (customer["customer_id"] if customer else "")
            or ticket["customer_id"]
            or ""
        )
    elif given(values.CustomerID):
        plan["customer_id"] = values.CustomerID.strip()
    customer_user = plan.get("customer_user_id", ticket["customer_user_id"]) or ""
    service = check.catalogue(tx, "service", "Service", values.ServiceID, values.Service)
    if service is not None and not ticket_rows.service_allowed(tx, service["id"], customer_user):
        raise check.invalid("Ticket->ServiceID or Ticket->Service parameter is invalid!")
    sla = check.catalogue(tx, "sla", "SLA", values.SLAID, values.SLA)
    service_id = service["id"] if service else ticket["service_id"]
    if sla is not None and (service_id is None or not ticket_rows.sla_for_service(tx, sla["id"], service_id)):
        raise check.invalid("Ticket->SLAID or Ticket->SLA parameter is invalid!")
    state = check.catalogue(tx, "ticket_state", "State", values.StateID, values.State)
    priority = check.catalogue(tx, "ticket_priority", "Priority", values.PriorityID, values.Priority)
    owner = check.agent(tx, "Owner", values.OwnerID, values.Owner)
    responsible = check.agent(tx, "Responsible", values.ResponsibleID, values.Responsible)
    until = check.pending_time(values.PendingTime)
    if service is not None and service["id"] != ticket["service_id"]:
        plan["service"] = service
    if sla is not None and sla["id"] != ticket["sla_id"]:
        plan["sla"] = sla
    if state is not None:
        # as Znuny: a pending state needs a PendingTime even when the ticket is in it already, and a
        # PendingTime is only set together with a pending state
        state_type = ticket_rows.state_type_name(tx, state["type_id"])
        if state_type in PENDING_STATE_TYPES:
            if until is None:
                # Znuny's words, without the operation's prefix
                raise OperationError(
                    f"{OP}.MissingParameter", "Can't set a ticket on a pending state without pendig time!"
                )
            plan["until"] = until
        if state["id"] != ticket["ticket_state_id"]:
            plan["state"], plan["state_type"] = state, state_type
    if priority is not None and priority["id"] != ticket["ticket_priority_id"]:
        plan["priority"] = priority
    if owner is not None and owner["id"] != ticket["user_id"]:
        plan["owner"] = owner
    if responsible is not None and responsible["id"] != ticket["responsible_user_id"]:
        plan["responsible"] = responsible
    return plan


def _authorize(access: Access, ticket: Row, plan: _Plan, has_articles: bool) -> None:
    """Each kind of change needs its permission on the ticket's queue (rw grants them all)."""
    if not access.principal.is_agent:
        # customers act on their own tickets as Znuny's CustomerPanelUserID does, and keep them their own
        if ("customer_user_id" in plan or "customer_id" in plan) and not access.may_assign_customer(
            plan.get("customer_user_id", ticket["customer_user_id"]) or "",
            plan.get("customer_id", ticket["customer_id"]) or "",
        ):
            raise denied("Customer users can give a ticket only to themselves and their CustomerID!")
        return
    needs = [
        ("queue", "move_into", "Does not have permissions to update queue!"),
        ("owner", "owner", "Does not have permissions to update owner!"),
        ("responsible", "owner", "Does not have permissions to update responsibe!"),
        ("priority", "priority", "Does not have permissions to update priority!"),
        ("state", "rw", "Does not have permissions to update state!"),
    ]
    for key, permission, message in needs:
        if key in plan and not access.allows(ticket, permission):
            raise denied(message)
    if "queue" in plan and not access.allows(ticket, "move_into", group_id=plan["queue"]["group_id"]):
        raise denied("Does not have permissions to update queue!")
    other = {"title", "lock", "type", "service", "sla", "customer_id", "customer_user_id", "until"} & set(plan)
    if other and not access.allows(ticket, "rw"):
        raise denied("User does not have access to the ticket!")
    if has_articles and not access.allows(ticket, "note"):
        raise denied("User does not have access to the ticket!")


def _apply(tx: Transaction, principal: Principal, ticket: Row, plan: _Plan) -> None:
    """Write the planned changes in Znuny's order, each with its history line."""
    tid = ticket["id"]
    if "title" in plan:
        writes.change(
            tx, principal, tid, {"title": plan["title"]}, "TitleUpdate", f"%%{ticket['title']}%%{plan['title']}"
        )
    if "queue" in plan:
        queue = plan["queue"]
        writes.change(
            tx,
            principal,
            tid,
            {"queue_id": queue["id"]},
            "Move",
            f"%%{queue['name']}%%{queue['id']}%%{ticket['queue']}%%{ticket['queue_id']}",
        )
    if "lock" in plan:
        lock = plan["lock"]
        writes.change(
            tx,
            principal,
            tid,
            {"ticket_lock_id": lock["id"]},
            "Lock" if lock["name"] == "lock" else "Unlock",
            f"%%{lock['name']}",
        )
    if "type" in plan:
        type_ = plan["type"]
        writes.change(
            tx,
            principal,
            tid,
            {"type_id": type_["id"]},
            "TypeUpdate",
            f"%%{type_['name']}%%{type_['id']}%%{ticket['type_name']}%%{ticket['type_id']}",
        )
    if "until" in plan:  # Znuny sets the pending time first, then the state
        moment = dt.datetime.fromtimestamp(plan["until"], dt.UTC)
        writes.change(tx, principal, tid, {"until_time": plan["until"]}, "SetPendingTime", f"%%{moment:%Y-%m-%d %H:%M}")
    if "state" in plan:
        state = plan["state"]
        columns = {"ticket_state_id": state["id"]}
        if plan["state_type"] in ("closed", "removed", "merged"):
            columns["ticket_lock_id"] = writes.LOCK_UNLOCK
        writes.change(tx, principal, tid, columns, "StateUpdate", f"%%{ticket['state']}%%{state['name']}%%")
        if plan["state_type"] not in PENDING_STATE_TYPES:
            writes.change(tx, principal, tid, {"until_time": 0}, "SetPendingTime", "%%00-00-00 00:00")
    if "service" in plan:
        writes.change(
            tx,
            principal,
            tid,
            {"service_id": plan["service"]["id"]},
            "ServiceUpdate",
            f"%%{plan['service']['name']}%%{plan['service']['id']}",
        )
    if "sla" in plan:
        writes.change(
            tx,
            principal,
            tid,
            {"sla_id": plan["sla"]["id"]},
            "SLAUpdate",
            f"%%{plan['sla']['name']}%%{plan['sla']['id']}",
        )
    if "customer_id" in plan or "customer_user_id" in plan:
        columns = {k: v for k, v in plan.items() if k in ("customer_id", "customer_user_id")}
        writes.change(
            tx,
            principal,
            tid,
            columns,
            "CustomerUpdate",
            f"%%CustomerID={plan.get('customer_id', ticket['customer_id'])};"
            f"CustomerUser={plan.get('customer_user_id', ticket['customer_user_id'])};",
        )
    if "priority" in plan:
        priority = plan["priority"]
        writes.change(
            tx,
            principal,
            tid,
            {"ticket_priority_id": priority["id"]},
            "PriorityUpdate",
            f"%%{ticket['priority']}%%{ticket['ticket_priority_id']}%%{priority['name']}%%{priority['id']}",
        )
    if "owner" in plan:
        writes.set_owner(tx, principal, tid, plan["owner"], lock=False)
    if "responsible" in plan:
        responsible = plan["responsible"]
        writes.change(
            tx,
            principal,
            tid,
            {"responsible_user_id": responsible["id"]},
            "ResponsibleUpdate",
            f"%%{responsible['login']}%%{responsible['id']}",
        )


def _from(tx: Transaction, principal: Principal, named: str) -> str:
    """A new article's default From, as Znuny's: the agent's name for agents; for customers the customer
    user the request names in Ticket.CustomerUser, and so none when it names nobody (Znuny's quirk)."""
    if principal.is_agent:
        agent = agents.by_id(tx, acting_user_id(principal))
        if agent is None:
            raise LookupError(f"no agent {principal.user_id}")
        return f"{agent['first_name']} {agent['last_name']}"
    row = customers.by_login(tx, named) if named else None
    return display_address(f"{row['first_name']} {row['last_name']}", row["email"]) if row else named
