"""Failed-login counters per login and address, purged when expired.

- login_failure (window_start): each failure written deletes a few counters whose window has
  passed (store.sessions.purge_failures); without the index that delete scanned the table.
  The lookup itself is by failure_key, the primary key.
- The counters of before (per login from anywhere) are deleted: the keys are now per login
  and address, so none of them would ever be read again.
"""

from yoyo import step

from gateway.store import ddl

__depends__ = {"0005_mail_delivery"}

SCHEMA = """
DELETE FROM login_failure;
CREATE INDEX ix_login_failure_window_start ON login_failure (window_start)
"""


def apply(conn: ddl.Connection) -> None:
    ddl.run(conn, SCHEMA)


def rollback(conn: ddl.Connection) -> None:
    ddl.run(conn, "DROP INDEX ix_login_failure_window_start")


steps = [step(apply, rollback)]
