"""The outbox as an administrator sees it (`gateway mail-queue`): list, retry, purge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from gateway.errors import AdminError
from gateway.store import mailqueue
from gateway.store.database import Database, Row, utcnow


def list_messages(db: Database, state: str | None = None, article_id: int | None = None) -> list[Row]:
    with db.transaction(write=False) as tx:
        return mailqueue.listing(tx, state, article_id)


def retry(db: Database, mail_ids: Sequence[int] = ()) -> int:
    """Failed or deferred messages become due now with a fresh attempt count; none given: every failed one."""
    with db.transaction() as tx:
        if not mail_ids:
            return mailqueue.retry(tx, None, utcnow())
        found = mailqueue.states(tx, mail_ids)
        for mail_id in mail_ids:
            if mail_id not in found:
                raise AdminError(f"there is no message {mail_id} in the outbox")
            if found[mail_id] == mailqueue.SENT:
                raise AdminError(f"message {mail_id} was sent already")
        return mailqueue.retry(tx, list(dict.fromkeys(mail_ids)), utcnow())


def purge(db: Database, state: str = mailqueue.SENT, older_than_days: int = 0) -> int:
    """Delete finished messages (never queued ones) with their attempts."""
    if state not in (mailqueue.SENT, mailqueue.FAILED):
        raise AdminError(f"only sent or failed messages can be purged, not {state!r}")
    if older_than_days < 0:
        raise AdminError("--older-than-days must not be negative")
    with db.transaction() as tx:
        return mailqueue.purge(tx, state, utcnow() - dt.timedelta(days=older_than_days))
