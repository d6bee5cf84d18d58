"""The directory an administrator keeps: agents, groups, queues, customers and dynamic fields.

Each action runs in one transaction and checks everything before writing, so a bad
argument leaves nothing half-written. Errors are one line that names the problem.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Sequence

from gateway.errors import AdminError
from gateway.mail.address import is_address
from gateway.passwords import UNUSABLE, hash_password
from gateway.settings import Settings
from gateway.store import admin_sessions, agents, catalog, customers
from gateway.store.database import Database, Row, Transaction

FIELD_TYPES = ("Text", "TextArea", "Dropdown", "Multiselect", "Checkbox", "Date", "DateTime")
OBJECT_TYPES = ("Ticket", "Article")
_NAME = re.compile(r"^[A-Za-z0-9]+$")


def require(value: str, what: str) -> str:
    if not value or not value.strip():
        raise AdminError(f"{what} must not be empty")
    return value.strip()


def _group(tx: Transaction, name: str) -> Row:
    group = agents.group_by_name(tx, name)
    if group is None:
        raise AdminError(f"group {name!r} does not exist")
    return group


def add_user(
    db: Database,
    settings: Settings,
    login: str,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
    groups: Sequence[str] = (),
) -> int:
    login = require(login, "user name")
    if not is_address(email or ""):
        raise AdminError(f"{email!r} is not an e-mail address")
    require(password, "password")
    pw_hash = hash_password(password, settings)
    with db.transaction() as tx:
        if agents.by_login(tx, login):
            raise AdminError(f"an agent {login!r} already exists")
        group_ids = [_group(tx, g)["id"] for g in groups]
        user_id = agents.add(
            tx, login, require(first_name, "first name"), require(last_name, "last name"), email, pw_hash
        )
        for group_id in group_ids:
            agents.link_group(tx, user_id, group_id, "rw")
    return user_id


def set_user_password(db: Database, settings: Settings, login: str, password: str) -> None:
    """A new password also ends the agent's admin-page sessions: one opened with the old password (or by
    whoever knew it) does not outlive it."""
    pw_hash = hash_password(require(password, "password"), settings)
    with db.transaction() as tx:
        if not agents.set_password(tx, login, pw_hash):
            raise AdminError(f"there is no agent {login!r}")
        admin_sessions.delete_user(tx, login)


@dataclasses.dataclass(frozen=True)
class AgentView:
    """What `gateway user show` prints: who the agent is, what it may do, when it is away."""

    login: str
    name: str
    email: str
    valid: bool
    groups: dict[str, list[str]]  # group name -> permission keys
    out_of_office: str | None  # the OutOfOffice preference, "1" or "0"; None when never set
    out_of_office_start: str | None  # YYYY-MM-DD
    out_of_office_end: str | None


def show_user(db: Database, login: str) -> AgentView:
    with db.transaction(write=False) as tx:
        user = agents.by_login(tx, login)
        if user is None:
            raise AdminError(f"there is no agent {login!r}")
        groups: dict[str, list[str]] = {}
        for row in sorted(agents.permissions(tx, user["id"]), key=lambda r: (r["name"], r["permission_key"])):
            groups.setdefault(row["name"], []).append(row["permission_key"])
        prefs = agents.preferences(tx, user["id"])

    def day(part: str) -> str | None:
        values = [prefs.get(f"OutOfOffice{part}{unit}", "") for unit in ("Year", "Month", "Day")]
        return "-".join(values) if all(values) else None

    return AgentView(
        user["login"],
        f"{user['first_name']} {user['last_name']}",
        user["email"],
        user["valid_id"] == 1,
        groups,
        prefs.get("OutOfOffice"),
        day("Start"),
        day("End"),
    )


def add_group(db: Database, name: str, comments: str = "") -> int:
    name = require(name, "group name")
    with db.transaction() as tx:
        if agents.group_by_name(tx, name):
            raise AdminError(f"a group {name!r} already exists")
        return agents.add_group(tx, name, comments)


def link_user_group(db: Database, login: str, group: str, permission_key: str) -> None:
    if permission_key not in agents.PERMISSION_KEYS:
        raise AdminError(f"permission {permission_key!r} is not one of {', '.join(agents.PERMISSION_KEYS)}")
    with db.transaction() as tx:
        user = agents.by_login(tx, login)
        if user is None:
            raise AdminError(f"there is no agent {login!r}")
        agents.link_group(tx, user["id"], _group(tx, group)["id"], permission_key)


def add_queue(db: Database, name: str, group: str) -> int:
    name = require(name, "queue name")
    with db.transaction() as tx:
        if catalog.queue_by_name(tx, name):
            raise AdminError(f"a queue {name!r} already exists")
        return catalog.add_queue(tx, name, _group(tx, group)["id"])


def add_customer_company(db: Database, customer_id: str, name: str) -> None:
    customer_id, name = require(customer_id, "customer id"), require(name, "name")
    with db.transaction() as tx:
        if customers.company(tx, customer_id):
            raise AdminError(f"a customer company {customer_id!r} already exists")
        customers.add_company(tx, customer_id, name)


def add_customer_user(
    db: Database,
    settings: Settings,
    login: str,
    first_name: str,
    last_name: str,
    email: str,
    customer_id: str,
    password: str,
) -> int:
    login = require(login, "user name")
    if not is_address(email or ""):
        raise AdminError(f"{email!r} is not an e-mail address")
    pw_hash = hash_password(require(password, "password"), settings)
    with db.transaction() as tx:
        if customers.by_login(tx, login):
            raise AdminError(f"a customer user {login!r} already exists")
        if customers.company(tx, customer_id) is None:
            raise AdminError(f"customer company {customer_id!r} does not exist")
        return customers.add_user(
            tx, login, require(first_name, "first name"), require(last_name, "last name"), email, customer_id, pw_hash
        )


def set_customer_password(db: Database, settings: Settings, login: str, password: str) -> None:
    pw_hash = hash_password(require(password, "password"), settings)
    with db.transaction() as tx:
        if not customers.set_password(tx, login, pw_hash):
            raise AdminError(f"there is no customer user {login!r}")


def add_dynamic_field(
    db: Database,
    name: str,
    label: str,
    field_type: str,
    object_type: str,
    possible_values: dict[str, str] | None = None,
) -> int:
    if not _NAME.match(name or ""):
        raise AdminError(f"dynamic field name {name!r} must be letters and digits only")
    if field_type not in FIELD_TYPES:
        raise AdminError(f"field type {field_type!r} is not one of {', '.join(FIELD_TYPES)}")
    if object_type not in OBJECT_TYPES:
        raise AdminError(f"object type {object_type!r} is not one of {', '.join(OBJECT_TYPES)}")
    possible_values = possible_values or {}
    if field_type in ("Dropdown", "Multiselect") and not possible_values:
        raise AdminError(f"a {field_type} field needs at least one --possible-value KEY=VALUE")
    if possible_values and field_type not in ("Dropdown", "Multiselect"):
        raise AdminError(f"a {field_type} field takes no possible values")
    config = {"PossibleValues": possible_values} if possible_values else {}
    with db.transaction() as tx:
        if catalog.dynamic_field_by_name(tx, name):
            raise AdminError(f"a dynamic field {name!r} already exists")
        return catalog.add_dynamic_field(tx, name, require(label, "label"), field_type, object_type, config)


def ensure_root_password(db: Database, settings: Settings) -> str | None:
    """Give root@localhost a generated password if it has none yet; return it (shown once)."""
    with db.transaction(write=False) as tx:
        root = agents.by_login(tx, "root@localhost")
    if root is None or root["pw"] != UNUSABLE:
        return None
    password = secrets.token_urlsafe(12)
    set_user_password(db, settings, "root@localhost", password)
    return password
