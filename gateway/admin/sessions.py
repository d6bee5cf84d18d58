"""Logging in to the admin pages: the API's password checks and failed-login limits, then rw on `admin`.

The password is checked by the same Authenticator as UserLogin/Password in a GI request, so a
login refused there is refused here, and failures here count against the same limits. The
session is apart from GI sessions (admin_session) but expires by the same settings. Whether the
agent may administer is asked again on every page: an agent who loses rw on `admin`, or is made
invalid, is out at the next click.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

from gateway.auth import Authenticator, Credentials, session_key, touch_interval
from gateway.errors import AdminError
from gateway.principal import AGENT, Principal
from gateway.settings import Settings
from gateway.store import admin_sessions
from gateway.store.database import Database, Transaction, as_datetime, utcnow
from gateway.tickets.access import Access

ADMIN_GROUP = "admin"
# one answer whatever was wrong (the password, a lockout, no rw on admin): the page does not tell which
LOGIN_FAILED = (
    "Login failed! Your user name or password was entered incorrectly, or the agent may not administer"
    f" (rw on the group {ADMIN_GROUP!r})."
)


@dataclasses.dataclass(frozen=True)
class Administrator:
    """The agent a page is for."""

    login: str
    user_id: int


def login(
    db: Database, auth: Authenticator, login_name: str, password: str, remote_addr: str, user_agent: str
) -> tuple[Administrator, str]:
    """The administrator and a new session id (for the cookie only); AdminError when refused."""
    principal = auth.authenticate(Credentials(UserLogin=login_name.strip(), Password=password), remote_addr)
    if principal is None or principal.user_id is None:
        raise AdminError(LOGIN_FAILED)
    with db.transaction(write=False) as tx:
        allowed = _may_administer(tx, principal)
    if not allowed:
        raise AdminError(LOGIN_FAILED)
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    settings = auth.settings
    with db.transaction() as tx:
        admin_sessions.delete_expired(
            tx,
            now - dt.timedelta(seconds=settings.session_max_idle_time),
            now - dt.timedelta(seconds=settings.session_max_time),
        )
        admin_sessions.add(tx, session_key(session_id), principal.user_id, principal.login, remote_addr, user_agent)
    return Administrator(principal.login, principal.user_id), session_id


def current(db: Database, settings: Settings, session_id: str) -> Administrator | None:
    """The administrator of a session still alive, whose agent is valid and still holds rw on `admin`."""
    key = session_key(session_id)
    with db.transaction(write=False) as tx:
        row = admin_sessions.with_user(tx, key)
        if row is None or row["valid_id"] != 1 or _expired(settings, row["create_time"], row["last_request"]):
            return None
        if not _may_administer(tx, Principal(AGENT, row["login"], user_id=row["user_id"])):
            return None
        stale = utcnow() - as_datetime(row["last_request"]) > touch_interval(settings)
    if stale:  # written once per touch interval at most, so a page view stays a read
        with db.transaction() as tx:
            admin_sessions.touch(tx, key)
    return Administrator(row["login"], row["user_id"])


def logout(db: Database, session_id: str) -> None:
    with db.transaction() as tx:
        admin_sessions.delete(tx, session_key(session_id))


def _may_administer(tx: Transaction, principal: Principal) -> bool:
    return Access(tx, principal, customer_group_support=False).in_group(ADMIN_GROUP)


def _expired(settings: Settings, created: dt.datetime | str, last_request: dt.datetime | str) -> bool:
    now = utcnow()
    idle = (now - as_datetime(last_request)).total_seconds()
    return (
        idle > settings.session_max_idle_time
        or (now - as_datetime(created)).total_seconds() > settings.session_max_time
    )
