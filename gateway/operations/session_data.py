"""What SessionGet shows of a session: Znuny's user data, never a password or a backend setting."""

from __future__ import annotations

import datetime as dt

from gateway.mail.address import display_address
from gateway.operations.common import wire_time
from gateway.principal import AGENT
from gateway.store import agents, customers
from gateway.store.database import Row, Transaction, as_datetime


def _epoch(value: str | dt.datetime | None) -> str:
    moment = as_datetime(value)
    return "" if moment is None else str(int(moment.replace(tzinfo=dt.UTC).timestamp()))


# an agent's preferences as a fresh Znuny has them; stored preferences override them
AGENT_DEFAULTS: dict[str, str | None] = {
    "AdminCommunicationLogPageShown": "25",
    "AdminDynamicFieldsOverviewPageShown": "25",
    "UserActivityLinkTarget": "_self",
    "UserCreateNextMask": "",
    "UserLastViewsLimit": "5",
    "UserLastViewsPosition": "Avatar",
    "UserLoginFailed": "0",
    "UserMarkTicketSeenRedirectURL": "",
    "UserMarkTicketUnseenRedirectURL": "",
    "UserRefreshTime": "0",
    "UserTicketOverviewMediumPageShown": "20",
    "UserTicketOverviewPreviewPageShown": "15",
    "UserTicketOverviewSmallPageShown": "25",
}
CUSTOMER_DEFAULTS: dict[str, str | None] = {
    "UserLastViewsLimit": "5",
    "UserLoginFailed": "0",
    "UserRefreshTime": "0",
    "UserShowTickets": "25",
    "Source": "CustomerUser",
    "UserAuthBackend": "",
    # fields of Znuny's customer_user table that gateway does not keep
    "UserStreet": "",
    "UserZip": "",
    "UserCity": "",
    "UserCountry": "",
    "UserFax": "",
    "UserComment": "",
}


def session_data(tx: Transaction, session: Row) -> dict[str, str | None]:
    """Znuny's session keys for an agent or a customer user: strings, None where Znuny has null.

    Left out on purpose (decisions.md): the password hash (Znuny's UserPassword) and the customer
    backends' configuration (Config, CompanyConfig).
    """
    started = _epoch(session["create_time"])
    data: dict[str, str | None] = {
        "SessionSource": "GenericInterface",
        "UserSessionStart": started,
        # the login that opened this session: Znuny reads the preference as it was set at login
        "UserLastLogin": started,
        "UserLastLoginTimestamp": wire_time(session["create_time"]),
        "UserLastRequest": _epoch(session["last_request"]),
        "UserRemoteAddr": session["remote_addr"] or "",
        "UserRemoteUserAgent": session["user_agent"] or "",
        "UserType": session["user_type"],
    }
    if session["user_type"] == AGENT:
        user = agents.by_login(tx, session["user_login"])
        if user is None:
            return data
        data.update(AGENT_DEFAULTS)
        data.update(agents.preferences(tx, user["id"]))
        data["UserID"] = str(user["id"])
        data["UserTitle"] = user["title"] or None
    else:
        user = customers.by_login(tx, session["user_login"])
        if user is None:
            return data
        data.update(CUSTOMER_DEFAULTS)
        data.update(
            {
                "UserID": user["login"],
                "UserCustomerID": user["customer_id"],
                "CustomerID": user["customer_id"],
                "UserPhone": user["phone"] or "",
                "UserMobile": user["mobile"] or "",
                "UserTitle": user["title"] or "",
                "CreateBy": "1",
                "ChangeBy": "1",
                "UserMailString": display_address(f"{user['first_name']} {user['last_name']}", user["email"]),
            }
        )
        company = customers.company_data(tx, user["customer_id"])
        if company is not None:
            data.update(
                {
                    "CustomerCompanyName": company["name"],
                    "CustomerCompanyStreet": company["street"],
                    "CustomerCompanyZIP": company["zip"],
                    "CustomerCompanyCity": company["city"],
                    "CustomerCompanyCountry": company["country"],
                    "CustomerCompanyURL": company["url"],
                    "CustomerCompanyComment": company["comments"],
                    "CustomerCompanyValidID": str(company["valid_id"]),
                }
            )
    data.update(
        {
            "UserLogin": user["login"],
            "UserEmail": user["email"],
            "UserFirstname": user["first_name"],
            "UserLastname": user["last_name"],
            "UserFullname": f"{user['first_name']} {user['last_name']}",
            "UserLastPwChangeTime": _epoch(user["change_time"]),
            "ValidID": str(user["valid_id"]),
            "CreateTime": wire_time(user["create_time"]),
            "ChangeTime": wire_time(user["change_time"]),
        }
    )
    return data
