"""A realistic request per operation type, for the API page an administrator hands to integrators.

Written by hand rather than generated from the models: a generated request fills every field
and reads like noise, a hand-written one shows the fields a client really sends. The values
exist in a fresh installation where that helps (ticket 1, queue Raw, the initial states and
priorities); credentials and session IDs are placeholders a reader cannot mistake for real ones.
tests/test_apidoc.py sends every example to the server, so none of them can drift from what
the operations accept.
"""

from __future__ import annotations

from typing import Any

LOGIN = "agent"
PASSWORD = "secret"
SESSION_ID = "SESSION_ID_FROM_SESSIONCREATE"
# the request fields holding the placeholders above: what a reader (or a test) fills in
CREDENTIALS = {"UserLogin": LOGIN, "Password": PASSWORD}

_TEXT = "text/plain; charset=utf8"

EXAMPLES: dict[str, dict[str, Any]] = {
    "Session::SessionCreate": {**CREDENTIALS},
    "Session::SessionGet": {"SessionID": SESSION_ID},
    "Session::SessionRemove": {"SessionID": SESSION_ID, **CREDENTIALS},
    "Ticket::TicketCreate": {
        **CREDENTIALS,
        "Ticket": {
            "Title": "Printer on 3rd floor jams",
            "Queue": "Raw",
            "State": "new",
            "Priority": "3 normal",
            "CustomerUser": "jane.doe@example.com",
        },
        "Article": {
            "CommunicationChannel": "Email",
            "SenderType": "customer",
            "From": "Jane Doe <jane.doe@example.com>",
            "Subject": "Printer jams",
            "Body": "The printer next to room 301 jams on every second page.",
            "ContentType": _TEXT,
        },
    },
    "Ticket::TicketGet": {**CREDENTIALS, "TicketID": 1, "AllArticles": 1, "DynamicFields": 1},
    "Ticket::TicketSearch": {
        **CREDENTIALS,
        "Queues": ["Raw"],
        "States": ["new", "open"],
        "SortBy": "Age",
        "OrderBy": "Down",
        "Limit": 50,
    },
    "Ticket::TicketUpdate": {
        **CREDENTIALS,
        "TicketID": 1,
        "Ticket": {"State": "open", "Priority": "4 high"},
        "Article": {
            "CommunicationChannel": "Internal",
            "IsVisibleForCustomer": 0,
            "Subject": "Called the customer",
            "Body": "Replacement toner is on its way.",
            "ContentType": _TEXT,
            "TimeUnit": 15,
        },
    },
    "Ticket::TicketHistoryGet": {**CREDENTIALS, "TicketID": 1},
    "Ticket::TimeAccountingGet": {
        **CREDENTIALS,
        "TimeAccountingUserLogin": LOGIN,
        "TimeAccountingStart": "2026-11-01 00:00:00",
        "TimeAccountingEnd": "2026-11-30 23:59:59",
    },
    "User::OutOfOffice": {
        **CREDENTIALS,
        "OutOfOfficeEntriesCSVString": (
            "UserLogin,StartDate,EndDate,OutOfOffice\nroot@localhost,2030-07-01,2030-07-14,1\n"
        ),
    },
}
