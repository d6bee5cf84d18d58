"""The Ticket namespace of Znuny's GenericInterface (Operation/Ticket), as one spyne service."""

from __future__ import annotations

from spyne import ServiceBase, rpc

from gateway.operations import ticket_create, ticket_get, ticket_history, ticket_search, ticket_update
from gateway.operations.common import Call, operation
from gateway.operations.ticket_models import (
    TicketCreateRequest,
    TicketCreateResponse,
    TicketGetRequest,
    TicketGetResponse,
    TicketHistoryGetRequest,
    TicketHistoryGetResponse,
    TicketSearchRequest,
    TicketSearchResponse,
    TicketUpdateRequest,
    TicketUpdateResponse,
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

    @rpc(TicketUpdateRequest, _body_style="bare", _returns=TicketUpdateResponse)
    @operation
    def TicketUpdate(call: Call, request: TicketUpdateRequest) -> TicketUpdateResponse:
        return ticket_update.run(call, request)

    @rpc(TicketHistoryGetRequest, _body_style="bare", _returns=TicketHistoryGetResponse)
    @operation
    def TicketHistoryGet(call: Call, request: TicketHistoryGetRequest) -> TicketHistoryGetResponse:
        return ticket_history.run(call, request)
