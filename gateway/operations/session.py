"""Session::SessionCreate, Session::SessionGet, Session::SessionRemove (Znuny's Operation/Session)."""

from __future__ import annotations

from spyne import Integer, ServiceBase, Unicode, rpc

from gateway.auth import Credentials
from gateway.jsonquirks import NULLABLE
from gateway.operations.common import Call, OperationError, operation
from gateway.operations.session_data import session_data
from gateway.operations.types import Error, TicketConnectorModel
from gateway.principal import AGENT, CUSTOMER
from gateway.tickets.access import ADMIN_GROUP, Access


class SessionCreateRequest(TicketConnectorModel):
    __type_name__ = "SessionCreate"
    _type_info = [
        ("UserLogin", Unicode),
        ("CustomerUserLogin", Unicode),
        ("Password", Unicode),
        ("TwoFactorToken", Unicode),
    ]


class SessionCreateResponse(TicketConnectorModel):
    __type_name__ = "SessionCreateResponse"
    _type_info = [("SessionID", Unicode), ("Error", Error)]


class SessionGetRequest(TicketConnectorModel):
    __type_name__ = "SessionGet"
    _type_info = [("SessionID", Unicode)]


class SessionDataItem(TicketConnectorModel):
    __type_name__ = "OTRS_SessionGetResponse_SessionData"
    __json__ = {"Value": NULLABLE}
    # every item has its Value, null (xsi:nil) where Znuny's is undefined
    _type_info = [("Key", Unicode), ("Value", Unicode(min_occurs=1, nillable=True)), ("Serialized", Integer)]


class SessionGetResponse(TicketConnectorModel):
    __type_name__ = "SessionGetResponse"
    _type_info = [("SessionData", SessionDataItem.customize(max_occurs="unbounded")), ("Error", Error)]


class SessionRemoveRequest(TicketConnectorModel):
    __type_name__ = "SessionRemove"
    _type_info = [
        ("SessionID", Unicode),
        ("UserLogin", Unicode),
        ("CustomerUserLogin", Unicode),
        ("Password", Unicode),
        ("TwoFactorToken", Unicode),
    ]


class SessionRemoveResponse(TicketConnectorModel):
    __type_name__ = "SessionRemoveResponse"
    _type_info = [("Success", Integer), ("Error", Error)]


class SessionService(ServiceBase):
    @rpc(SessionCreateRequest, _body_style="bare", _returns=SessionCreateResponse)
    @operation
    def SessionCreate(call: Call, request: SessionCreateRequest) -> SessionCreateResponse:
        if call.is_empty(request):
            raise OperationError("SessionCreate.MissingParameter", "SessionCreate: The request is empty!")
        creds = call.credentials(request)
        if not creds.Password:
            raise OperationError("SessionCreate.MissingParameter", "SessionCreate: Password parameter is missing!")
        # a session is created from a login, never from another session
        principal = call.authenticate(
            Credentials(
                UserLogin=creds.UserLogin,
                CustomerUserLogin=creds.CustomerUserLogin,
                Password=creds.Password,
                TwoFactorToken=creds.TwoFactorToken,
                ImpersonateAsUser=creds.ImpersonateAsUser,
            )
        )
        if principal is None:
            raise OperationError("SessionCreate.AuthFail", "SessionCreate: Authorization failing!")
        session_id = call.runtime.auth.create_session(principal, call.remote_addr, call.user_agent)
        return SessionCreateResponse(SessionID=session_id)

    @rpc(SessionGetRequest, _body_style="bare", _returns=SessionGetResponse)
    @operation
    def SessionGet(call: Call, request: SessionGetRequest) -> SessionGetResponse:
        if call.is_empty(request):
            raise OperationError("SessionGet.MissingParameter", "SessionGet: The request is empty!")
        session_id = call.credentials(request).SessionID
        if not session_id:
            raise OperationError("SessionGet.MissingParameter", "SessionGet: SessionID is missing!")
        with call.runtime.db.transaction(write=False) as tx:
            session = call.runtime.auth.session(tx, session_id)
            if session is None:
                raise OperationError("SessionGet.SessionInvalid", "SessionGet: SessionID is Invalid!")
            data = session_data(tx, session)
        return SessionGetResponse(SessionData=[{"Key": key, "Value": value} for key, value in sorted(data.items())])

    @rpc(SessionRemoveRequest, _body_style="bare", _returns=SessionRemoveResponse)
    @operation
    def SessionRemove(call: Call, request: SessionRemoveRequest) -> SessionRemoveResponse:
        if call.is_empty(request):
            raise OperationError("SessionRemove.MissingParameter", "SessionRemove: The request is empty!")
        target = request.SessionID
        if not target:
            raise OperationError("SessionRemove.MissingParameter", "SessionRemove: SessionID parameter is missing!")
        # the SessionID in the data names the session to remove; the caller authenticates otherwise
        # (login + password, or a session of its own in X-OTRS-Header-SessionID)
        request.SessionID = None
        principal = call.authenticate(call.credentials(request))
        if principal is None:
            raise OperationError("SessionRemove.AuthFail", "SessionRemove: Authorization failed!")
        auth = call.runtime.auth
        with call.runtime.db.transaction() as tx:
            session = auth.session(tx, target)
            if session is None:
                return SessionRemoveResponse(Success=1)
            own = session["user_type"] == principal.user_type and session["user_login"] == principal.login
            if not own and principal.user_type == CUSTOMER:
                raise OperationError("SessionRemove.AuthFail", "SessionRemove: Authorization failing!")
            if (
                not own
                and principal.user_type == AGENT
                and not Access(tx, principal, customer_group_support=False).in_group(ADMIN_GROUP)
            ):
                raise OperationError(
                    "SessionRemove.AuthFail", "SessionRemove: Authorization failed! User needs to be in group admin."
                )
            if not auth.remove_session(tx, target):
                raise OperationError("SessionRemove.Fail", "SessionRemove: Could not remove SessionID!")
        return SessionRemoveResponse(Success=1)
