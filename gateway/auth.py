"""Who is calling: credentials, password and session checks, impersonation.

Znuny's order is kept (Operation/Common.pm Auth()): a SessionID, when given, decides
alone; otherwise UserLogin (agent), otherwise CustomerUserLogin (customer). Header
credentials (X-OTRS-Header-*) are merged over body values before any check, for SOAP
as for REST, so they are verified exactly like body credentials.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import ipaddress
import logging
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from gateway import metrics
from gateway.passwords import PasswordChecker, hash_password, needs_rehash
from gateway.principal import AGENT, CUSTOMER, Principal
from gateway.settings import Settings
from gateway.store import agents, customers, sessions
from gateway.store.database import Database, Row, Transaction, as_datetime, utcnow
from gateway.tickets.access import Access

CREDENTIAL_KEYS = ("UserLogin", "CustomerUserLogin", "Password", "SessionID", "TwoFactorToken", "ImpersonateAsUser")
log = logging.getLogger(__name__)
_SESSION_ALPHABET = string.ascii_letters + string.digits
_UNBIASED = 256 - 256 % len(_SESSION_ALPHABET)  # bytes from here up would favour the first letters


def new_session_id() -> str:
    """32 characters of [A-Za-z0-9], as Znuny's, uniformly from the OS's random bytes (one read, usually)."""
    chars: list[str] = []
    while len(chars) < 32:
        chars += [_SESSION_ALPHABET[b % len(_SESSION_ALPHABET)] for b in secrets.token_bytes(48) if b < _UNBIASED]
    return "".join(chars[:32])


# a session's last-request time is written at most this often, so reads stay reads
_TOUCH_INTERVAL = dt.timedelta(seconds=60)
# seconds between two sweeps of expired sessions by one process (SessionCreate runs them)
SWEEP_INTERVAL = 60.0


def touch_interval(settings: Settings) -> dt.timedelta:
    """How often a session's last-request time is written: once a minute, or twice within a shorter idle
    time, so that a session in use never expires as idle."""
    return min(_TOUCH_INTERVAL, dt.timedelta(seconds=settings.session_max_idle_time / 2))


# expired failure counters deleted with each failure written (which adds at most two): they never pile up
_PURGE_BATCH = 100
_LOGIN_KEY = re.compile(rf"^login:(?P<address>.*?):(?P<user_type>{AGENT}|{CUSTOMER}):(?P<login>.*)$", re.S)


@dataclasses.dataclass(frozen=True)
class Lockout:
    """A failed-login counter that refuses logins now: one login from one address, or (login "") an address."""

    key: str
    address: str
    user_type: str
    login: str
    failures: int
    until: dt.datetime


@dataclasses.dataclass(frozen=True)
class Credentials:
    UserLogin: str = ""
    CustomerUserLogin: str = ""
    Password: str = ""
    SessionID: str = ""
    TwoFactorToken: str = ""
    ImpersonateAsUser: str = ""

    @classmethod
    def of(cls, request: Any, headers: Mapping[str, str] | None = None) -> Credentials:
        """Body values, overridden by non-empty header values (Znuny's precedence)."""
        values = {}
        for key in CREDENTIAL_KEYS:
            value = (headers or {}).get(key) or getattr(request, key, None) or ""
            values[key] = value if isinstance(value, str) else str(value)
        return cls(**values)


def session_key(session_id: str) -> str:
    """Sessions are stored by hash: a leaked table holds no usable session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class Authenticator:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.passwords = PasswordChecker(settings.auth_cache_ttl, settings)
        self._sweep_lock = threading.Lock()
        self._next_sweep = 0.0

    # -- the Auth() of every operation ---------------------------------------------------------------

    def authenticate(
        self,
        creds: Credentials,
        remote_addr: str = "",
        tx: Transaction | None = None,
        deferred: list[Callable[[], None]] | None = None,
    ) -> Principal | None:
        """Znuny's Auth(); None when the caller is not authenticated.

        With `tx`, it reads in the operation's own transaction (no second round of BEGIN and
        COMMIT); the few writes it needs (failed-login counts, a session's last-request time)
        then go to `deferred`, for the caller to run once that transaction has ended, whether
        the operation succeeded or not.
        """
        if tx is None:
            with self.db.transaction(write=False) as own:
                principal, needs_write = self._authenticate(own, creds, remote_addr)
        else:
            principal, needs_write = self._authenticate(tx, creds, remote_addr)
        if needs_write:
            record = functools.partial(self._record, creds, principal, remote_addr)
            if deferred is None:
                record()
            else:
                deferred.append(record)
        return principal

    def _authenticate(self, tx: Transaction, creds: Credentials, remote_addr: str) -> tuple[Principal | None, bool]:
        if creds.SessionID:
            principal, needs_write = self._session_principal(tx, creds.SessionID)
        elif creds.UserLogin:
            principal, needs_write = self._check(tx, AGENT, creds.UserLogin, creds.Password, remote_addr)
        elif creds.CustomerUserLogin:
            principal, needs_write = self._check(tx, CUSTOMER, creds.CustomerUserLogin, creds.Password, remote_addr)
        else:
            return None, False
        if principal is not None and creds.ImpersonateAsUser:
            principal = self._impersonate(tx, principal, creds.ImpersonateAsUser)
        return principal, needs_write

    # -- sessions ------------------------------------------------------------------------------------

    def create_session(self, principal: Principal, remote_addr: str = "", user_agent: str = "") -> str:
        session_id = new_session_id()
        now = utcnow()
        with self.db.transaction() as tx:
            sessions.add(
                tx,
                session_key(session_id),
                principal.user_type,
                principal.login,
                principal.user_id,
                remote_addr,
                user_agent,
            )
            if principal.is_agent and principal.user_id is not None:
                agents.record_login(tx, principal.user_id)
            if self._sweep_due():
                sessions.delete_expired(
                    tx,
                    now - dt.timedelta(seconds=self.settings.session_max_idle_time),
                    now - dt.timedelta(seconds=self.settings.session_max_time),
                )
        return session_id

    def _sweep_due(self) -> bool:
        """Whether this process removes expired sessions now: at most once per SWEEP_INTERVAL, as an expired
        session is refused when read anyway (each node sweeps; one sweep more or less changes nothing)."""
        now = time.monotonic()
        with self._sweep_lock:
            if now < self._next_sweep:
                return False
            self._next_sweep = now + SWEEP_INTERVAL
            return True

    def session(self, tx: Transaction, session_id: str) -> Row | None:
        """The session row, or None when it does not exist or has expired."""
        row = sessions.get(tx, session_key(session_id))
        return None if row is None or self._expired(row) else row

    def _expired(self, row: Row) -> bool:
        now = utcnow()
        return (now - as_datetime(row["last_request"])).total_seconds() > self.settings.session_max_idle_time or (
            now - as_datetime(row["create_time"])
        ).total_seconds() > self.settings.session_max_time

    def remove_session(self, tx: Transaction, session_id: str) -> bool:
        return sessions.delete(tx, session_key(session_id))

    # -- internals -----------------------------------------------------------------------------------

    def _session_principal(self, tx: Transaction, session_id: str) -> tuple[Principal | None, bool]:
        """The session's principal, and whether its last-request time is due for a write."""
        row = sessions.with_user(tx, session_key(session_id))
        if row is None or self._expired(row):
            return None, False
        stale = utcnow() - as_datetime(row["last_request"]) > touch_interval(self.settings)
        if row["user_type"] == AGENT:
            if row["agent_valid"] != 1:
                return None, False
            return Principal(AGENT, row["user_login"], user_id=row["agent_id"]), stale
        if row["customer_valid"] != 1:
            return None, False
        return Principal(CUSTOMER, row["user_login"], customer_id=row["customer_id"]), stale

    def _failure_keys(self, user_type: str, login: str, remote_addr: str) -> list[tuple[str, int]]:
        """The counters a login attempt is refused by, each with its limit: the login from this
        address first (the one a good login clears), then the address across logins."""
        address = _counted_address(remote_addr)
        keys = [(f"login:{address}:{user_type}:{login.lower()}"[:300], self.settings.login_failure_limit)]
        if address:
            keys.append((f"addr:{address}", self.settings.login_failure_address_limit))
        return keys

    def _check(
        self, tx: Transaction, user_type: str, login: str, password: str, remote_addr: str
    ) -> tuple[Principal | None, bool]:
        """Password check; returns the principal and whether failure counters need a write.

        A refused address costs a counter read and no password check, known login or not, right
        password or not: it learns "refused" and nothing else. Otherwise an unknown or invalid login
        is checked against the dummy hash (PasswordChecker), as costly as a real check.
        """
        window_start = utcnow() - dt.timedelta(seconds=self.settings.login_failure_window)
        keys = self._failure_keys(user_type, login, remote_addr)
        counts = sessions.failures(tx, [key for key, _ in keys], window_start)
        if any(counts.get(key, 0) >= limit for key, limit in keys):
            return None, False
        if user_type == AGENT:
            row = agents.by_login(tx, login)
            principal = Principal(AGENT, row["login"], user_id=row["id"]) if row else None
        else:
            row = customers.by_login(tx, login)
            principal = Principal(CUSTOMER, row["login"], customer_id=row["customer_id"]) if row else None
        stored = row["pw"] if row is not None and row["valid_id"] == 1 else None
        if not self.passwords.verify(stored, password):
            return None, True
        return principal, keys[0][0] in counts or needs_rehash(stored or "", self.settings)

    def _record(self, creds: Credentials, principal: Principal | None, remote_addr: str) -> None:
        """Count a failed password check, clear the login's count at this address after a good one,
        touch a session."""
        with self.db.transaction() as tx:
            if creds.SessionID:
                sessions.touch(tx, session_key(creds.SessionID))
                return
            user_type, login = (AGENT, creds.UserLogin) if creds.UserLogin else (CUSTOMER, creds.CustomerUserLogin)
            keys = self._failure_keys(user_type, login, remote_addr)
            if principal is None:
                metrics.LOGIN_FAILURES.labels(user_type).inc()
                since = utcnow() - dt.timedelta(seconds=self.settings.login_failure_window)
                address = remote_addr or "an unknown address"
                refused = [f"{user_type} login {login!r} from {address}", f"address {address} for every login"]
                for (key, limit), who in zip(keys, refused, strict=False):
                    if sessions.add_failure(tx, key, since) == limit:  # once per lockout, for the operator
                        log.warning(
                            "failed logins: %s refused for up to %d s after %d failures",
                            who,
                            self.settings.login_failure_window,
                            limit,
                        )
                # the table holds only what still counts: a few expired rows go with each new failure
                sessions.purge_failures(tx, since, _PURGE_BATCH)
            else:
                sessions.clear_failures(tx, keys[0][0])
                self._rehash(tx, user_type, login, creds.Password)

    def _rehash(self, tx: Transaction, user_type: str, login: str, password: str) -> None:
        """A hash made at another cost is made again at the configured one (the password just matched)."""
        store = agents if user_type == AGENT else customers
        row = store.by_login(tx, login)
        if row is not None and needs_rehash(row["pw"], self.settings):
            # only over the hash that matched: a password changed meanwhile stays changed
            store.replace_password(tx, row["login"], row["pw"], hash_password(password, self.settings))

    def _impersonate(self, tx: Transaction, principal: Principal, target_login: str) -> Principal | None:
        """An agent with rw on the impersonation group may act as another valid agent."""
        if not Access(tx, principal, customer_group_support=False).in_group(self.settings.impersonation_group):
            return None
        target = agents.by_login(tx, target_login)
        if target is None or target["valid_id"] != 1:
            return None
        return Principal(AGENT, target["login"], user_id=target["id"], impersonated_by=principal.login)


def _counted_address(remote_addr: str) -> str:
    """The address failures are counted under: an IPv6 client by its /64, since one host is given a
    whole /64 and could otherwise try from 2**64 addresses, each with a fresh count."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr
    return str(ipaddress.ip_network(f"{address}/64", strict=False)) if address.version == 6 else remote_addr


def lockouts(tx: Transaction, settings: Settings) -> list[Lockout]:
    """The failure counters that have reached their limit in the current window, newest first."""
    window = dt.timedelta(seconds=settings.login_failure_window)
    login_limit, address_limit = settings.login_failure_limit, settings.login_failure_address_limit
    found = []
    for row in sessions.failures_from(tx, utcnow() - window, min(login_limit, address_limit)):
        key, failures = row["failure_key"], int(row["failures"])
        until = as_datetime(row["window_start"]) + window
        if key.startswith("addr:") and failures >= address_limit:
            found.append(Lockout(key, key[len("addr:") :], "", "", failures, until))
        elif (parts := _LOGIN_KEY.match(key)) and failures >= login_limit:
            found.append(Lockout(key, parts["address"], parts["user_type"], parts["login"], failures, until))
    return found
