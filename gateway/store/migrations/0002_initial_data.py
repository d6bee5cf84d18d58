"""The rows a fresh Znuny installs, with Znuny's ids: clients and saved requests refer to them."""

from yoyo import step

from gateway.store import ddl
from gateway.store.database import utcnow

__depends__ = {"0001_schema"}

HISTORY_TYPES = [
    "NewTicket",
    "FollowUp",
    "SendAutoReject",
    "SendAutoReply",
    "SendAutoFollowUp",
    "Forward",
    "Bounce",
    "SendAnswer",
    "SendAgentNotification",
    "SendCustomerNotification",
    "EmailAgent",
    "EmailCustomer",
    "PhoneCallAgent",
    "PhoneCallCustomer",
    "AddNote",
    "Move",
    "Lock",
    "Unlock",
    "Remove",
    "TimeAccounting",
    "CustomerUpdate",
    "PriorityUpdate",
    "OwnerUpdate",
    "LoopProtection",
    "Misc",
    "SetPendingTime",
    "StateUpdate",
    "TicketDynamicFieldUpdate",
    "WebRequestCustomer",
    "TicketLinkAdd",
    "TicketLinkDelete",
    "SystemRequest",
    "Merged",
    "ResponsibleUpdate",
    "Subscribe",
    "Unsubscribe",
    "TypeUpdate",
    "ServiceUpdate",
    "SLAUpdate",
    "ArchiveFlagUpdate",
    "EscalationSolutionTimeStop",
    "EscalationResponseTimeStart",
    "EscalationUpdateTimeStart",
    "EscalationSolutionTimeStart",
    "EscalationResponseTimeNotifyBefore",
    "EscalationUpdateTimeNotifyBefore",
    "EscalationSolutionTimeNotifyBefore",
    "EscalationResponseTimeStop",
    "EscalationUpdateTimeStop",
    "TitleUpdate",
]

SIGNATURE = """
Your Ticket-Team

 <OTRS_Agent_UserFirstname> <OTRS_Agent_UserLastname>

--
 Super Support - Waterford Business Park
 5201 Blue Lagoon Drive - 8th Floor & 9th Floor - Miami, 33126 USA
 Email: hot@example.com - Web: http://www.example.com/
--"""

WELCOME_BODY = """Welcome to Znuny!

Thank you for installing Znuny, the open source ticket system.

This ticket was created when the database was set up: it lets you try TicketGet,
TicketSearch and TicketUpdate right away.

Your Znuny Team
"""

# (table, columns, rows); "now" in a row stands for the time of the migration
DATA: list[tuple[str, tuple[str, ...], list[tuple[str | int, ...]]]] = [
    ("valid", ("id", "name"), [(1, "valid"), (2, "invalid"), (3, "invalid-temporarily")]),
    (
        "users",
        ("id", "login", "pw", "first_name", "last_name", "email", "valid_id", "create_time", "change_time"),
        # "!" is no hash any password matches: root gets its password from `gateway user set-password`
        [(1, "root@localhost", "!", "Admin", "OTRS", "root@localhost", 1, "now", "now")],
    ),
    (
        "permission_groups",
        ("id", "name", "comments", "create_time", "change_time"),
        [
            (1, "users", "Group for default access.", "now", "now"),
            (2, "admin", "Group of all administrators.", "now", "now"),
            (3, "stats", "Group for statistics access.", "now", "now"),
            (4, "timeaccounting_webservice", "Group for time accounting web service access.", "now", "now"),
        ],
    ),
    (
        "group_user",
        ("user_id", "group_id", "permission_key", "create_time"),
        [(1, 1, "rw", "now"), (1, 2, "rw", "now"), (1, 3, "rw", "now")],
    ),
    (
        "system_address",
        ("id", "value0", "value1", "queue_id", "create_time", "change_time"),
        [(1, "znuny@localhost", "Znuny System", 1, "now", "now")],
    ),
    (
        "signature",
        ("id", "name", "text", "content_type", "create_time", "change_time"),
        [(1, "system standard signature (en)", SIGNATURE, "text/plain; charset=utf-8", "now", "now")],
    ),
    (
        "queue",
        ("id", "name", "group_id", "system_address_id", "signature_id", "comments", "create_time", "change_time"),
        [
            (1, "Postmaster", 1, 1, 1, "Postmaster queue.", "now", "now"),
            (2, "Raw", 1, 1, 1, "All default incoming tickets.", "now", "now"),
            (3, "Junk", 1, 1, 1, "All junk tickets.", "now", "now"),
            (4, "Misc", 1, 1, 1, "All misc tickets.", "now", "now"),
        ],
    ),
    (
        "ticket_state_type",
        ("id", "name"),
        [
            (1, "new"),
            (2, "open"),
            (3, "closed"),
            (4, "pending reminder"),
            (5, "pending auto"),
            (6, "removed"),
            (7, "merged"),
        ],
    ),
    (
        "ticket_state",
        ("id", "name", "type_id"),
        [
            (1, "new", 1),
            (2, "closed successful", 3),
            (3, "closed unsuccessful", 3),
            (4, "open", 2),
            (5, "removed", 6),
            (6, "pending reminder", 4),
            (7, "pending auto close+", 5),
            (8, "pending auto close-", 5),
            (9, "merged", 7),
        ],
    ),
    (
        "ticket_priority",
        ("id", "name"),
        [(1, "1 very low"), (2, "2 low"), (3, "3 normal"), (4, "4 high"), (5, "5 very high")],
    ),
    ("ticket_type", ("id", "name"), [(1, "Unclassified")]),
    ("ticket_lock_type", ("id", "name"), [(1, "unlock"), (2, "lock"), (3, "tmp_lock")]),
    ("ticket_history_type", ("id", "name"), list(enumerate(HISTORY_TYPES, start=1))),
    ("article_sender_type", ("id", "name"), [(1, "agent"), (2, "system"), (3, "customer")]),
    ("communication_channel", ("id", "name"), [(1, "Email"), (2, "Phone"), (3, "Internal"), (4, "Chat")]),
    (
        "ticket",
        (
            "id",
            "tn",
            "title",
            "queue_id",
            "ticket_lock_id",
            "type_id",
            "user_id",
            "responsible_user_id",
            "ticket_priority_id",
            "ticket_state_id",
            "customer_id",
            "customer_user_id",
            "create_time",
            "create_by",
            "change_time",
            "change_by",
        ),
        [
            (
                1,
                "2021012710123456",
                "Welcome to Znuny!",
                2,
                1,
                1,
                1,
                1,
                3,
                1,
                "Znuny",
                "info@znuny.com",
                "now",
                1,
                "now",
                1,
            )
        ],
    ),
    (
        "article",
        (
            "id",
            "ticket_id",
            "article_sender_type_id",
            "communication_channel_id",
            "is_visible_for_customer",
            "create_time",
            "create_by",
            "change_time",
            "change_by",
        ),
        [(1, 1, 3, 1, 1, "now", 1, "now", 1)],
    ),
    (
        "article_data_mime",
        (
            "id",
            "article_id",
            "a_from",
            "a_to",
            "a_subject",
            "a_message_id",
            "a_content_type",
            "a_body",
            "incoming_time",
        ),
        [
            (
                1,
                1,
                "Znuny Team <info@znuny.com>",
                "Raw",
                "Welcome to Znuny!",
                "<007@localhost>",
                "text/plain; charset=utf-8",
                WELCOME_BODY,
                "epoch",
            )
        ],
    ),
    (
        "ticket_history",
        (
            "id",
            "name",
            "history_type_id",
            "ticket_id",
            "article_id",
            "type_id",
            "queue_id",
            "owner_id",
            "priority_id",
            "state_id",
            "create_time",
            "create_by",
        ),
        [(1, "New Ticket [2021012710123456] created.", 1, 1, 1, 1, 2, 1, 3, 1, "now", 1)],
    ),
]


def apply(conn: ddl.Connection) -> None:
    now = utcnow()
    values = {"now": now if ddl.dialect_of(conn) == "postgresql" else str(now), "epoch": 0}
    marker = "?" if ddl.dialect_of(conn) == "sqlite" else "%s"
    cursor = conn.cursor()
    for table, columns, rows in DATA:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
        for row in rows:
            cursor.execute(sql, [values.get(v, v) if isinstance(v, str) else v for v in row])
    ddl.reset_sequences(conn, [t for t, columns, _ in DATA if columns[0] == "id"])


steps = [step(apply)]
