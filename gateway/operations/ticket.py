"""The Ticket namespace of Znuny's GenericInterface (Operation/Ticket), as one spyne service."""

from __future__ import annotations

from spyne import ServiceBase, rpc

from gateway.operations import ticket_create, ticket_get, ticket_search
from gateway.operations.common import Call, operation
from gateway.operations.ticket_models import (
    TicketCreateRequest,
    TicketCreateResponse,
    TicketGetRequest,
    TicketGetResponse,
    TicketSearchRequest,
    TicketSearchResponse,
)


class TicketService(ServiceBase):
    @rpc(TicketCreateRequest, _body_style="bare", _returns=TicketCreateResponse)
    @operation
    def TicketCreate(call: Call, request: TicketCreateRequest) -> TicketCreateResponse:
        return ticket_create.run(call, request)

    @rpc(TicketGetRequest, _body_style="bare", _returns=TicketGetResponse)
    @operation
    def TicketGet(call: Call, request: TicketGetRequest) -> TicketGetResponse:
        return ticket_get.run(call, request)

    @rpc(TicketSearchRequest, _body_style="bare", _returns=TicketSearchResponse)
    @operation
    def TicketSearch(call: Call, request: TicketSearchRequest) -> TicketSearchResponse:
        return ticket_search.run(call, request)
