"""Znuny operation types (the web-service YAML's `Type`) and the spyne methods that implement them."""

from __future__ import annotations

from spyne import ServiceBase
from spyne.descriptor import MethodDescriptor

from gateway.operations.session import SessionService
from gateway.operations.ticket.service import TicketService
from gateway.operations.time_accounting import TimeAccountingService
from gateway.operations.user import UserService

# Znuny's "Controller::Operation" type -> (service, method); one service per Znuny namespace
OPERATION_TYPES: dict[str, tuple[type[ServiceBase], str]] = {
    "Session::SessionCreate": (SessionService, "SessionCreate"),
    "Session::SessionGet": (SessionService, "SessionGet"),
    "Session::SessionRemove": (SessionService, "SessionRemove"),
    "Ticket::TicketCreate": (TicketService, "TicketCreate"),
    "Ticket::TicketGet": (TicketService, "TicketGet"),
    "Ticket::TicketSearch": (TicketService, "TicketSearch"),
    "Ticket::TicketUpdate": (TicketService, "TicketUpdate"),
    "Ticket::TicketHistoryGet": (TicketService, "TicketHistoryGet"),
    "Ticket::TimeAccountingGet": (TimeAccountingService, "TimeAccountingGet"),
    "User::OutOfOffice": (UserService, "OutOfOffice"),
}


def descriptor(operation_type: str) -> MethodDescriptor | None:
    entry = OPERATION_TYPES.get(operation_type)
    if entry is None:
        return None
    service, method = entry
    return service.public_methods[method]


def select(name: str, operation_types: set[str]) -> type[ServiceBase]:
    """A service exposing only the given operation types: a web service serves what it configures.

    The methods keep their descriptors (and so their service class, events and types); the
    new class only narrows what the spyne Application, its WSDL and its dispatch can see.
    """
    selected: type[ServiceBase] = type(name, (ServiceBase,), {})
    selected.public_methods = {d.name: d for d in (descriptor(t) for t in sorted(operation_types)) if d is not None}
    return selected
