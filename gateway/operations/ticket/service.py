"""The Ticket namespace of Znuny's GenericInterface (Operation/Ticket), as one spyne service."""

from __future__ import annotations

from spyne import ServiceBase, rpc

from gateway.operations.common import Call, operation
from gateway.operations.ticket import create, get, history, search, update
from gateway.operations.ticket.models import (
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
        return create.run(call, request)

    @rpc(TicketGetRequest, _body_style="bare", _returns=TicketGetResponse)
    @operation
    def TicketGet(call: Call, request: TicketGetRequest) -> TicketGetResponse:
        return get.run(call, request)

    @rpc(TicketSearchRequest, _body_style="bare", _returns=TicketSearchResponse)
    @operation
    def TicketSearch(call: Call, request: TicketSearchRequest) -> TicketSearchResponse:
        return search.run(call, request)

    @rpc(TicketUpdateRequest, _body_style="bare", _returns=TicketUpdateResponse)
    @operation
    def TicketUpdate(call: Call, request: TicketUpdateRequest) -> TicketUpdateResponse:
        return update.run(call, request)

    @rpc(TicketHistoryGetRequest, _body_style="bare", _returns=TicketHistoryGetResponse)
    @operation
    def TicketHistoryGet(call: Call, request: TicketHistoryGetRequest) -> TicketHistoryGetResponse:
        return history.run(call, request)
