"""Ticket::TimeAccountingGet: an agent's accounted time, for billing and payroll tools.

Its models live in Znuny's TimeAccountingWebservice namespace, so the TimeAccountingSOAP
preset answers in the elements Znuny's clients parse. Times on the wire are wall-clock times
of the configured system time zone (Znuny's OTRSTimeZone); the database holds UTC.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from spyne import ComplexModel, ServiceBase, Unicode, rpc

from gateway.operations.common import Call, OperationError, operation
from gateway.operations.types import error_model
from gateway.store import agents, timeaccounting
from gateway.store.database import Row, as_datetime
from gateway.tickets.access import TIME_ACCOUNTING_GROUP, Access

TIME_ACCOUNTING_NS = "http://www.znuny.org/TimeAccountingWebservice/"
OP = "TimeAccountingGet"
REQUIRED = ("TimeAccountingUserLogin", "TimeAccountingStart", "TimeAccountingEnd")


class TimeAccountingModel(ComplexModel):
    __namespace__ = TIME_ACCOUNTING_NS


class TimeAccountingGetRequest(TimeAccountingModel):
    __type_name__ = "TimeAccountingGet"
    _type_info = [
        ("UserLogin", Unicode),
        ("CustomerUserLogin", Unicode),
        ("SessionID", Unicode),
        ("Password", Unicode),
        *((name, Unicode) for name in REQUIRED),
    ]


class TimeAccountingResult(TimeAccountingModel):
    """One accounted row; TimeUnit is a string with two decimals, as Znuny reads DECIMAL(10,2)."""

    __type_name__ = "OTRS_TimeAccountingResult"
    _type_info = [
        ("Created", Unicode),
        ("Queue", Unicode),
        ("TicketCustomerID", Unicode),
        ("TicketNumber", Unicode),
        ("TicketTitle", Unicode),
        ("TimeUnit", Unicode),
    ]


class TimeAccountingGetResponse(TimeAccountingModel):
    __type_name__ = "TimeAccountingGetResponse"
    _type_info = [
        ("TimeAccountingResult", TimeAccountingResult.customize(max_occurs="unbounded")),
        ("Error", error_model(TIME_ACCOUNTING_NS)),
    ]


class TimeAccountingService(ServiceBase):
    @rpc(TimeAccountingGetRequest, _body_style="bare", _returns=TimeAccountingGetResponse)
    @operation
    def TimeAccountingGet(call: Call, request: TimeAccountingGetRequest) -> TimeAccountingGetResponse:
        zone = ZoneInfo(call.runtime.settings.timezone)
        with call.runtime.db.transaction(write=False) as tx:
            principal = call.authenticate(call.credentials(request), tx)
            if principal is None:
                raise OperationError(f"{OP}.AuthFail", f"{OP}: Authentication failed!")
            if not Access(tx, principal, customer_group_support=False).in_group(TIME_ACCOUNTING_GROUP):
                raise OperationError(f"{OP}.NoPermission", f"{OP}: No permission!")
            for name in REQUIRED:
                if not getattr(request, name):
                    raise OperationError(f"{OP}.MissingParameter", f"{OP}: {name} parameter is missing!")
            start = to_utc(parse(request.TimeAccountingStart, "TimeAccountingStart"), zone)
            end = to_utc(parse(request.TimeAccountingEnd, "TimeAccountingEnd"), zone, latest=True)
            if start > end:
                raise OperationError(f"{OP}.InvalidParameter", f"{OP}: TimeAccountingStart is after TimeAccountingEnd!")
            agent = agents.by_login(tx, request.TimeAccountingUserLogin)
            # an unknown agent has accounted nothing: Znuny answers {} as well
            rows = timeaccounting.search(tx, agent["id"], start, end) if agent else []
        # no rows: {} without the key, as Znuny
        return TimeAccountingGetResponse(TimeAccountingResult=[result(row, zone) for row in rows] or None)


def parse(value: str, name: str) -> dt.datetime:
    """ISO 8601: Znuny's "YYYY-MM-DD HH:MM:SS", without seconds (PowerShell examples), or with an offset.

    Znuny binds the text into its SQL unchecked, where a bad date fails silently; here it is an error.
    """
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise OperationError(f"{OP}.InvalidParameter", f"{OP}: {name} parameter is invalid!") from None


def to_utc(moment: dt.datetime, zone: ZoneInfo, latest: bool = False) -> dt.datetime:
    """A wall-clock time of the system zone as naive UTC, the stored form.

    A time the autumn change repeats is read inclusively (its first occurrence as Start, its
    second as End); one the spring change skips is moved forward by the gap, as java.time does.
    """
    if moment.tzinfo is None:
        readings = [moment.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC) for fold in (0, 1)]
        moment = max(readings) if latest else readings[0]
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def result(row: Row, zone: ZoneInfo) -> dict[str, str]:
    created = as_datetime(row["create_time"]).replace(tzinfo=dt.UTC).astimezone(zone)
    return {
        "Created": created.strftime("%Y-%m-%d %H:%M:%S"),
        "Queue": row["queue"],
        "TicketCustomerID": row["customer_id"] or "",
        "TicketNumber": row["tn"],
        "TicketTitle": row["title"],
        "TimeUnit": f"{Decimal(str(row['time_unit'])):.2f}",
    }
