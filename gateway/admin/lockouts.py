"""Failed-login lockouts as an administrator sees them: who is refused, from where, until when; and lifting one.

A lockout ends by itself when its window has passed (login_failure_window). Lifting it earlier is for
the case an operator knows: a colleague who mistyped, a proxy whose clients share one address. It is
recorded in the change history like every other administrator's change.
"""

from __future__ import annotations

from gateway.auth import Lockout, lockouts
from gateway.errors import AdminError
from gateway.principal import AGENT
from gateway.settings import Settings
from gateway.store import history, sessions
from gateway.store.database import Database, Row


def list_lockouts(db: Database, settings: Settings) -> list[Lockout]:
    with db.transaction(write=False) as tx:
        return lockouts(tx, settings)


def describe(lockout: Lockout) -> str:
    kind = "agent" if lockout.user_type == AGENT else "customer user"
    who = f"{kind} login {lockout.login!r}" if lockout.login else "every login"
    return f"{who} from {lockout.address or 'an unknown address'}"


def lift(db: Database, settings: Settings, key: str, *, actor: str) -> Lockout:
    """Clear one lockout's counter; AdminError when it is not a lockout (any more)."""
    with db.transaction() as tx:
        lockout = next((found for found in lockouts(tx, settings) if found.key == key), None)
        if lockout is None:
            raise AdminError("there is no such lockout (it may have ended already)")
        sessions.clear_failures(tx, key)
        history.record(
            tx,
            history.LOGIN,
            None,
            lockout.address,
            actor,
            "unlock",
            f"{describe(lockout)} after {lockout.failures} failures",
        )
    return lockout


def lockout_changes(db: Database, limit: int = 20) -> list[Row]:
    with db.transaction(write=False) as tx:
        return history.changes(tx, history.LOGIN, limit=limit)
