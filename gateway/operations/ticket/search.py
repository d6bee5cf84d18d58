"""Ticket::TicketSearch: Znuny's criteria into one query; `{}` when nothing matches."""

from __future__ import annotations

import datetime as dt

from gateway.operations.common import Call, OperationError
from gateway.operations.ticket.models import TicketSearchRequest, TicketSearchResponse
from gateway.store import catalog
from gateway.store.database import Transaction, utcnow
from gateway.store.search import FIELD_OPERATORS, SORT_COLUMNS, TEXT_COLUMNS, FieldCondition, TicketQuery, search
from gateway.tickets.access import Access
from gateway.wirenumbers import MAX_BIGINT, identifier, integer, timestamp

OP = "TicketSearch"
MAX_LIMIT = 10_000
ID_CRITERIA = {
    "TicketID": "id",
    "QueueIDs": "queue_id",
    "TypeIDs": "type_id",
    "StateIDs": "ticket_state_id",
    "PriorityIDs": "ticket_priority_id",
    "ServiceIDs": "service_id",
    "SLAIDs": "sla_id",
    "LockIDs": "ticket_lock_id",
    "OwnerIDs": "user_id",
    "ResponsibleIDs": "responsible_user_id",
    "CreatedUserIDs": "create_by",
}
NAME_CRITERIA = {
    "Queues": "queue",
    "Types": "ticket_type",
    "States": "ticket_state",
    "Priorities": "ticket_priority",
    "Services": "service",
    "SLAs": "sla",
    "Locks": "ticket_lock_type",
    "StateType": "ticket_state_type",
}
TIME_CRITERIA = {
    "TicketCreateTime": "create",
    "TicketChangeTime": "change",
    "TicketLastChangeTime": "change",
    "TicketCloseTime": "close",
    "TicketPendingTime": "pending",
    "ArticleCreateTime": "article",
}


def invalid(what: str) -> OperationError:
    return OperationError(f"{OP}.InvalidParameter", f"{OP}: {what}")


def _values(items: list[str] | None) -> list[str]:
    return [str(v).strip() for v in items or [] if str(v).strip()]


def _ids(request: TicketSearchRequest, key: str) -> list[int]:
    values = _values(getattr(request, key))
    ids = [found for found in (identifier(v) for v in values) if found is not None]
    if len(ids) != len(values):
        raise invalid(f"{key} must be a list of numeric IDs!")
    return ids


def build_query(tx: Transaction, request: TicketSearchRequest, agent: bool) -> TicketQuery:
    query = TicketQuery(
        numbers=_values(request.TicketNumber),
        titles=_values(request.Title),
        customer_ids=_values(request.CustomerID) + _values(request.CustomerIDRaw),
        sub_queues=(request.UseSubQueues or "0").strip() not in ("0", ""),
    )
    if agent and _given_text(request.CustomerUserLogin):
        query.customer_logins = [request.CustomerUserLogin.strip()]
    for key, column in ID_CRITERIA.items():
        ids = _ids(request, key)
        if ids:
            query.ids[column] = ids
    for key, table in NAME_CRITERIA.items():
        if _values(getattr(request, key)):
            query.names[table] = _values(getattr(request, key))
    query.state_type_ids = _ids(request, "StateTypeIDs")
    _ids(request, "WatchUserIDs")  # checked like the others; there are no watchers to search for
    now = utcnow()
    for prefix, what in TIME_CRITERIA.items():
        for suffix, op in (("NewerDate", ">="), ("OlderDate", "<=")):
            value = getattr(request, prefix + suffix)
            if value:
                moment = timestamp(value)
                if moment is None:
                    raise invalid(f"{prefix}{suffix} must be a date 'YYYY-MM-DD HH:MM:SS'!")
                query.times.append((what, op, moment))
        for suffix, op in (("NewerMinutes", ">="), ("OlderMinutes", "<=")):
            value = getattr(request, prefix + suffix)
            if value:
                minutes = integer(value, low=-MAX_BIGINT)
                try:
                    moment = now - dt.timedelta(minutes=minutes) if minutes is not None else None
                except OverflowError:  # a moment before year 1 or after 9999
                    moment = None
                if moment is None:
                    raise invalid(f"{prefix}{suffix} must be a number of minutes!")
                query.times.append((what, op, moment))
    if request.Fulltext and request.Fulltext.strip():
        query.text = {key: request.Fulltext.strip() for key in TEXT_COLUMNS}
        query.text_or = True
    else:
        for key in TEXT_COLUMNS:
            value = getattr(request, key) or getattr(request, f"MIMEBase_{key}")
            if value and value.strip():
                query.text[key] = value.strip()
        query.text_or = (request.ContentSearch or "AND").strip().upper() == "OR"
    for item in request.DynamicField or []:
        field = catalog.dynamic_field_by_name(tx, item.Name or "")
        if field is None or field["valid_id"] != 1 or field["object_type"] != "Ticket":
            continue  # as in Znuny: only valid ticket fields count
        if item.Empty not in (None, ""):
            query.fields.append(FieldCondition(field["id"], "Empty", [item.Empty]))
        for operator in FIELD_OPERATORS:
            values = [str(v) for v in getattr(item, operator) or []]
            if values:
                query.fields.append(FieldCondition(field["id"], operator, values))
    archive = (request.SearchInArchive or "").strip()
    query.archive = {"AllTickets": "all", "ArchivedTickets": "only"}.get(archive, "no")
    query.sort = _sort(_values(request.SortBy) or ["Age"], _values(request.OrderBy) or ["Down"])
    limit = integer(request.Limit or "500", low=1)
    if limit is None:
        raise invalid("Limit must be a positive number!")
    query.limit = min(limit, MAX_LIMIT)
    return query


def _given_text(value: str | None) -> bool:
    return bool(value and value.strip())


def _sort(keys: list[str], orders: list[str]) -> list[tuple[str, bool]]:
    for key in keys:
        if key not in SORT_COLUMNS:
            raise invalid(f"SortBy {key!r} is not one of {', '.join(sorted(SORT_COLUMNS))}!")
    for order in orders:
        if order not in ("Up", "Down"):
            raise invalid("OrderBy must be Up or Down!")
    # Znuny: one OrderBy applies to every SortBy; several pair up
    return [(key, (orders[i] if i < len(orders) else orders[-1]) == "Down") for i, key in enumerate(keys)]


def run(call: Call, request: TicketSearchRequest) -> TicketSearchResponse:
    with call.runtime.db.transaction(write=False) as tx:
        principal = call.authenticate(call.credentials(request), tx)
        if principal is None:
            raise OperationError(f"{OP}.AuthFail", f"{OP}: Authorization failing!")
        query = build_query(tx, request, principal.is_agent)
        access = Access(tx, principal, customer_group_support=bool(call.runtime.settings.customer_group_support))
        ids = search(tx, query, access.search_predicate())
    return TicketSearchResponse(TicketID=[str(i) for i in ids] or None)
