"""Demo data in bulk: realistic tickets for benchmarks and for a first look at the API.

It writes the store's rows directly, thousands per statement, instead of going through
gateway.tickets: the domain code spends a dozen statements on every ticket (lookups,
history, owner), which is right for one request and takes an hour for 100 000 tickets.
The rows are the ones TicketCreate writes (ticket, article, article_data_mime, a NewTicket
history line, time accounting), and the ticket numbers come from the same per-day counter,
so tickets created later through the API never collide with demo ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Iterable, Sequence

from gateway.errors import AdminError
from gateway.mail.address import display_address
from gateway.passwords import hash_password
from gateway.settings import Settings
from gateway.store import agents as agents_store
from gateway.store import bulk, catalog, customers
from gateway.store.database import Database, Transaction, Value, utcnow
from gateway.tickets.access import CUSTOMER_PANEL_USER_ID
from gateway.tickets.numbers import reserve_ticket_numbers
from gateway.tickets.writes import LOCK_LOCK, LOCK_UNLOCK

MAX_TICKETS = 1_000_000
MAX_ARTICLES_PER_TICKET = 50
DEMO_PASSWORD = "demo"
# tickets generated and written per round: bounds memory, whatever the count
CHUNK = 10_000

# (customer id, company name, mail domain); four customer users each
COMPANIES = [
    ("demo-northwind", "Northwind Traders", "northwind.example"),
    ("demo-contoso", "Contoso Ltd.", "contoso.example"),
    ("demo-initech", "Initech", "initech.example"),
    ("demo-globex", "Globex Corporation", "globex.example"),
    ("demo-umbrella", "Umbrella Logistics", "umbrella.example"),
]
PEOPLE = [
    ("Anna", "Schmidt"),
    ("Ben", "Okafor"),
    ("Carla", "Rossi"),
    ("David", "Nguyen"),
    ("Eva", "Lindqvist"),
    ("Farid", "Haddad"),
    ("Grace", "Miller"),
    ("Hiro", "Tanaka"),
    ("Ines", "Moreau"),
    ("Jonas", "Weber"),
    ("Kemal", "Yilmaz"),
    ("Lena", "Kowalski"),
    ("Marco", "Silva"),
    ("Nora", "Berg"),
    ("Oscar", "Fischer"),
    ("Priya", "Sharma"),
    ("Quentin", "Dubois"),
    ("Rosa", "Garcia"),
    ("Sven", "Larsen"),
    ("Tara", "Walsh"),
]

# Znuny's default catalogue rows by name, with how often demo tickets use them
QUEUES = {"Postmaster": 2, "Raw": 4, "Junk": 1, "Misc": 3}
PRIORITIES = {"1 very low": 1, "2 low": 3, "3 normal": 12, "4 high": 3, "5 very high": 1}
STATES = ("new", "open", "pending reminder", "closed successful")
# state weights (in STATES' order) by ticket age: recent tickets are new or open, old ones mostly closed
STATE_WEIGHTS = [(3, (50, 30, 10, 10)), (30, (10, 35, 15, 40)), (None, (3, 7, 5, 85))]
TIME_UNITS = (5, 10, 15, 20, 30, 45, 60, 90)

TITLES = [
    "{device} on floor {floor} not working",
    "{device} in meeting room {room} not working",
    "VPN access for new hire in {team}",
    "Cannot log in to {app}",
    "{app} is very slow since this morning",
    "Request: new {device} for {team}",
    "Password reset for {app}",
    "{app} shows error {code} when saving",
    "Invoice {number} missing in {app}",
    "Access to shared folder {team}-{room} for {team}",
    "Mailbox full: cannot send e-mails",
    "{device} keeps disconnecting from the Wi-Fi",
    "Order {number} not delivered yet",
    "Licence renewal for {app}",
    "{app} crashes after the latest update",
    "Move {device} to floor {floor}",
    "Two-factor authentication for {app} lost",
]
DEVICES = ["Printer", "Laptop", "Monitor", "Docking station", "Scanner", "Desk phone", "Projector", "Headset"]
APPS = ["the VPN", "ERP", "CRM", "Outlook", "Teams", "SharePoint", "the HR portal", "the timesheet app", "the wiki"]
TEAMS = ["Sales", "Finance", "Marketing", "Engineering", "Support", "HR", "Logistics", "Legal"]
PROBLEMS = [
    "since yesterday this does not work any more, although nothing was changed on our side.",
    "this has happened three times this week; restarting helps only for an hour or so.",
    "several colleagues in our team see the same problem.",
    "we need this before Monday, as a customer presentation depends on it.",
    "the error appeared right after the maintenance window last night.",
]
REPLIES = [
    "thank you for your message. We have found the cause and fixed it; please try again.",
    "we are looking into this and will get back to you today.",
    "could you please send us a screenshot of the error message and the time it occurred?",
    "the replacement has been ordered and should arrive within two working days.",
    "we have reset the access; you will receive a separate e-mail with the details.",
]
NOTES = [
    "Checked the logs: same error on two other machines in this department.",
    "Called the customer, waiting for the screenshot.",
    "Escalated to second level, vendor ticket opened.",
    "Workaround applied; permanent fix planned for the next maintenance window.",
]
FOLLOW_UPS = [
    "thanks, it works again.",
    "the problem is back since this morning.",
    "attached you find the screenshot you asked for.",
    "any news on this? It is getting urgent.",
]


@dataclasses.dataclass(frozen=True)
class Summary:
    tickets: int
    articles: int
    time_accounted: int
    customer_users: int
    seconds: float

    def line(self) -> str:
        return (
            f"Added {self.tickets} demo tickets with {self.articles} articles ({self.time_accounted} with time"
            f" accounted) for {self.customer_users} demo customer users in {self.seconds:.1f} s."
        )


@dataclasses.dataclass(frozen=True)
class _Customer:
    login: str
    customer_id: str
    company: str
    address: str
    first_name: str
    last_name: str


@dataclasses.dataclass(frozen=True)
class _Agent:
    id: int
    address: str


@dataclasses.dataclass(frozen=True)
class _Catalogue:
    queues: dict[str, int]
    priorities: dict[str, int]
    states: dict[str, int]
    sender_types: dict[str, int]
    channels: dict[str, int]
    ticket_type: int
    new_ticket_history: int


class _Rows:
    """The rows of one chunk, per table in the order they are inserted (references first), each row in
    the column order of _COLUMNS."""

    def __init__(self) -> None:
        self.ticket: list[tuple[Value, ...]] = []
        self.article: list[tuple[Value, ...]] = []
        self.article_data_mime: list[tuple[Value, ...]] = []
        self.ticket_history: list[tuple[Value, ...]] = []
        self.time_accounting: list[tuple[Value, ...]] = []


# per table: (column, PostgreSQL type) in the order _Rows holds them
_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "ticket": [
        ("id", "bigint"),
        ("tn", "text"),
        ("title", "text"),
        ("queue_id", "int"),
        ("ticket_lock_id", "int"),
        ("type_id", "int"),
        ("user_id", "int"),
        ("responsible_user_id", "int"),
        ("ticket_priority_id", "int"),
        ("ticket_state_id", "int"),
        ("customer_id", "text"),
        ("customer_user_id", "text"),
        ("timeout", "bigint"),
        ("until_time", "bigint"),
        ("create_time", "timestamp"),
        ("create_by", "int"),
        ("change_time", "timestamp"),
        ("change_by", "int"),
        ("accounted_time", "numeric"),
    ],
    "article": [
        ("id", "bigint"),
        ("ticket_id", "bigint"),
        ("article_sender_type_id", "int"),
        ("communication_channel_id", "int"),
        ("is_visible_for_customer", "smallint"),
        ("create_time", "timestamp"),
        ("create_by", "int"),
        ("change_time", "timestamp"),
        ("change_by", "int"),
    ],
    "article_data_mime": [
        ("article_id", "bigint"),
        ("a_from", "text"),
        ("a_reply_to", "text"),
        ("a_to", "text"),
        ("a_cc", "text"),
        ("a_bcc", "text"),
        ("a_subject", "text"),
        ("a_message_id", "text"),
        ("a_in_reply_to", "text"),
        ("a_references", "text"),
        ("a_content_type", "text"),
        ("a_body", "text"),
        ("incoming_time", "int"),
    ],
    "ticket_history": [
        ("name", "text"),
        ("history_type_id", "int"),
        ("ticket_id", "bigint"),
        ("type_id", "int"),
        ("queue_id", "int"),
        ("owner_id", "int"),
        ("priority_id", "int"),
        ("state_id", "int"),
        ("create_time", "timestamp"),
        ("create_by", "int"),
    ],
    "time_accounting": [
        ("ticket_id", "bigint"),
        ("article_id", "bigint"),
        ("time_unit", "numeric"),
        ("create_time", "timestamp"),
        ("create_by", "int"),
    ],
}


def load(
    db: Database,
    tickets: int,
    articles_per_ticket: int = 2,
    *,
    settings: Settings,
    span: dt.timedelta = dt.timedelta(days=365),
    now: dt.datetime | None = None,
    seed: int | None = None,
) -> Summary:
    """Add `tickets` demo tickets created within `span` before `now` (naive UTC, as the store keeps time),
    each with `articles_per_ticket` articles.

    Ticket numbers are reserved (the day counters advanced) in a transaction of their own, so
    a live server is never kept waiting on the counter; the rows follow in one transaction, so a
    failure leaves nothing but a gap in the numbering.
    """
    if not 1 <= tickets <= MAX_TICKETS:
        raise AdminError(f"the number of tickets must be between 1 and {MAX_TICKETS}")
    if not 1 <= articles_per_ticket <= MAX_ARTICLES_PER_TICKET:
        raise AdminError(f"the number of articles per ticket must be between 1 and {MAX_ARTICLES_PER_TICKET}")
    started = time.monotonic()
    rng = random.Random(seed)
    now = (now or utcnow()).replace(microsecond=0)
    demo_customers = _ensure_customers(db, settings)
    with db.transaction(write=False) as tx:
        catalogue = _catalogue(tx)
        agents = [
            _Agent(row["id"], display_address(f"{row['first_name']} {row['last_name']}", row["email"]))
            for row in agents_store.valid_agents(tx)
        ]
    if not agents:
        raise AdminError("demo data needs at least one valid agent to own the tickets")
    seconds = int(span.total_seconds())
    created = sorted(now - dt.timedelta(seconds=rng.randint(0, seconds)) for _ in range(tickets))
    with db.transaction() as tx:
        numbers = reserve_ticket_numbers(tx, settings.system_id, created)
    time_accounted = 0
    with db.transaction() as tx:
        for start in range(0, tickets, CHUNK):
            chunk = created[start : start + CHUNK]
            ticket_ids = bulk.new_ids(tx, "ticket", len(chunk))
            article_ids = bulk.new_ids(tx, "article", len(chunk) * articles_per_ticket)
            rows = _Rows()
            for i, (ticket_id, create_time) in enumerate(zip(ticket_ids, chunk, strict=True)):
                _ticket(
                    rows,
                    rng,
                    catalogue,
                    demo_customers,
                    agents,
                    now,
                    ticket_id,
                    numbers[start + i],
                    create_time,
                    article_ids[i * articles_per_ticket : (i + 1) * articles_per_ticket],
                )
            for table, table_rows in vars(rows).items():
                bulk.insert(tx, table, _COLUMNS[table], table_rows)
            time_accounted += len(rows.time_accounting)
    # the planners should know the new sizes at once: benchmarks usually start right after
    with db.transaction() as tx:
        bulk.analyze(tx, list(_COLUMNS))
    return Summary(
        tickets, tickets * articles_per_ticket, time_accounted, len(demo_customers), time.monotonic() - started
    )


# -- set-up --------------------------------------------------------------------------------------------------


def _ensure_customers(db: Database, settings: Settings) -> list[_Customer]:
    """The demo companies and customer users, added where missing; the password is hashed once (Argon2 is slow)."""
    wanted = [
        (customer_id, name, domain, first, last)
        for index, (customer_id, name, domain) in enumerate(COMPANIES)
        for first, last in PEOPLE[index * 4 : (index + 1) * 4]
    ]
    logins = {_login(first, last, domain) for _, _, domain, first, last in wanted}
    with db.transaction(write=False) as tx:
        missing = logins - {login for login in logins if customers.by_login(tx, login)}
    if missing:
        pw_hash = hash_password(DEMO_PASSWORD, settings)
        with db.transaction() as tx:
            for customer_id, name, domain, first, last in wanted:
                if customers.company(tx, customer_id) is None:
                    customers.add_company(tx, customer_id, name)
                login = _login(first, last, domain)
                if login in missing and customers.by_login(tx, login) is None:
                    customers.add_user(tx, login, first, last, login, customer_id, pw_hash)
    with db.transaction(write=False) as tx:
        found = [row for row in (customers.by_login(tx, login) for login in sorted(logins)) if row is not None]
        companies = {row["customer_id"]: customers.company(tx, row["customer_id"]) for row in found}
        names = {customer_id: company["name"] for customer_id, company in companies.items() if company is not None}
    return [
        _Customer(
            row["login"],
            row["customer_id"],
            names[row["customer_id"]],
            display_address(f"{row['first_name']} {row['last_name']}", row["email"]),
            row["first_name"],
            row["last_name"],
        )
        for row in found
    ]


def _login(first: str, last: str, domain: str) -> str:
    return f"{first.lower()}.{last.lower()}@{domain}"


def _catalogue(tx: Transaction) -> _Catalogue:
    """Znuny's default rows by name: a renamed or missing one is refused with its name."""

    def ids(table: str, names: Iterable[str]) -> dict[str, int]:
        found = catalog.ids_by_name(tx, table)
        for name in names:
            if name not in found:
                raise AdminError(f"demo data needs the {table.replace('_', ' ')} {name!r}, which does not exist")
        return {name: found[name] for name in names}

    return _Catalogue(
        queues=ids("queue", QUEUES),
        priorities=ids("ticket_priority", PRIORITIES),
        states=ids("ticket_state", STATES),
        sender_types=ids("article_sender_type", ("agent", "customer")),
        channels=ids("communication_channel", ("Email", "Phone", "Internal")),
        ticket_type=ids("ticket_type", ("Unclassified",))["Unclassified"],
        new_ticket_history=ids("ticket_history_type", ("NewTicket",))["NewTicket"],
    )


# -- one ticket ----------------------------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _title(rng: random.Random) -> str:
    return rng.choice(TITLES).format(
        device=rng.choice(DEVICES),
        app=rng.choice(APPS),
        team=rng.choice(TEAMS),
        floor=rng.randint(1, 9),
        room=rng.choice("ABCDEF") + str(rng.randint(1, 20)),
        code=rng.randint(100, 999),
        number=rng.randint(100000, 999999),
    )


def _epoch(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


def _ticket(
    rows: _Rows,
    rng: random.Random,
    catalogue: _Catalogue,
    demo_customers: Sequence[_Customer],
    agents: Sequence[_Agent],
    now: dt.datetime,
    ticket_id: int,
    number: str,
    created: dt.datetime,
    article_ids: Sequence[int],
) -> None:
    """Append one ticket's rows: the ticket, its articles (customer first, then agent and customer
    alternating, some internal notes), a NewTicket history line and time accounted on agent articles."""
    customer, agent = rng.choice(demo_customers), rng.choice(agents)
    age_days = (now - created).days
    state = rng.choices(STATES, next(w for limit, w in STATE_WEIGHTS if limit is None or age_days < limit))[0]
    queue, priority, title = _weighted(rng, QUEUES), _weighted(rng, PRIORITIES), _title(rng)
    until = _epoch(now) + rng.randint(-3 * 86400, 14 * 86400) if state == "pending reminder" else 0
    locked = state in ("open", "pending reminder") and rng.random() < 0.4
    moment, message_ids, accounted = created, [], 0.0
    for n, article_id in enumerate(article_ids):
        if n:
            moment = min(now, moment + dt.timedelta(minutes=rng.randint(10, 3 * 24 * 60)))
        if n % 2 == 0:
            channel = "Phone" if n == 0 and rng.random() < 0.3 else "Email"
            sender, by = "customer", CUSTOMER_PANEL_USER_ID
            visible, from_, to = 1, customer.address, queue
            body = (
                f"Hello,\n\n{title}: {rng.choice(PROBLEMS if n == 0 else FOLLOW_UPS)}\n\nBest regards,\n"
                f"{customer.first_name} {customer.last_name}\n{customer.company}\n"
            )
        else:
            sender, by, channel = "agent", agent.id, rng.choice(("Internal", "Internal", "Email", "Email", "Phone"))
            visible, from_, to = int(channel != "Internal"), agent.address, customer.address
            body = (
                rng.choice(NOTES)
                if channel == "Internal"
                else f"Hello {customer.first_name},\n\n{rng.choice(REPLIES)}\n\nYour Ticket-Team\n"
            )
        subject = title if n == 0 else f"RE: [Ticket#{number}] {title}"
        message_ids.append(f"<{number}.{n + 1}@demo.gateway.example>")
        rows.article.append(
            (
                article_id,
                ticket_id,
                catalogue.sender_types[sender],
                catalogue.channels[channel],
                visible,
                moment,
                by,
                moment,
                by,
            )
        )
        rows.article_data_mime.append(
            (
                article_id,
                from_,
                "",
                to,
                "",
                "",
                subject,
                message_ids[-1],
                message_ids[-2] if n else "",
                " ".join(message_ids[:-1]),
                "text/plain; charset=utf-8",
                body,
                _epoch(moment),
            )
        )
        if sender == "agent" and rng.random() < 0.6:
            time_unit = rng.choice(TIME_UNITS)
            accounted += time_unit
            rows.time_accounting.append((ticket_id, article_id, time_unit, moment, by))
    queue_id, priority_id, state_id = (catalogue.queues[queue], catalogue.priorities[priority], catalogue.states[state])
    rows.ticket.append(
        (
            ticket_id,
            number,
            title,
            queue_id,
            LOCK_LOCK if locked else LOCK_UNLOCK,
            catalogue.ticket_type,
            agent.id,
            agent.id,
            priority_id,
            state_id,
            customer.customer_id,
            customer.login,
            _epoch(created),
            until,
            created,
            CUSTOMER_PANEL_USER_ID,
            moment,
            agent.id,
            accounted,
        )
    )
    rows.ticket_history.append(
        (
            f"%%{number}%%{queue}%%{priority}%%{state}%%{ticket_id}",
            catalogue.new_ticket_history,
            ticket_id,
            catalogue.ticket_type,
            queue_id,
            agent.id,
            priority_id,
            state_id,
            created,
            CUSTOMER_PANEL_USER_ID,
        )
    )
