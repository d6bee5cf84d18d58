"""What SessionGet shows of a session: Znuny's user data, never a password or a backend setting."""

from __future__ import annotations

import datetime as dt

from gateway.auth import AGENT
from gateway.store import agents, customers
from gateway.store.database import Row, Transaction, as_datetime


def _epoch(value: object) -> str:
    moment = as_datetime(value)
    return "" if moment is None else str(int(moment.replace(tzinfo=dt.UTC).timestamp()))


def _time(value: object) -> str:
    moment = as_datetime(value)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def session_data(tx: Transaction, session: Row) -> dict[str, str]:
    """Znuny's session keys for an agent or a customer user, all as strings."""
    data = {
        "SessionSource": "GenericInterface",
        "UserSessionStart": _epoch(session["create_time"]),
        "UserLastRequest": _epoch(session["last_request"]),
        "UserRemoteAddr": session["remote_addr"] or "",
        "UserRemoteUserAgent": session["user_agent"] or "",
        "UserType": session["user_type"],
    }
    if session["user_type"] == AGENT:
        user = agents.by_login(tx, session["user_login"])
        if user is None:
            return data
        data.update(agents.preferences(tx, user["id"]))
        data["UserID"] = str(user["id"])
        if user["last_login"]:
            data["UserLastLogin"] = _epoch(user["last_login"])
    else:
        user = customers.by_login(tx, session["user_login"])
        if user is None:
            return data
        data.update({"UserID": user["login"], "UserCustomerID": user["customer_id"],
                     "UserPhone": user["phone"] or "", "UserMobile": user["mobile"] or ""})
    data.update({
        "UserLogin": user["login"],
        "UserEmail": user["email"],
        "UserTitle": user["title"] or "",
        "UserFirstname": user["first_name"],
        "UserLastname": user["last_name"],
        "UserFullname": f"{user['first_name']} {user['last_name']}",
        "ValidID": str(user["valid_id"]),
        "CreateTime": _time(user["create_time"]),
        "ChangeTime": _time(user["change_time"]),
    })
    return data
