"""A ticket's accounted time kept with the ticket (ticket.accounted_time).

TicketGet answers a ticket's TimeUnit, and every TimeAccounting history line carries the new
total: both summed the ticket's time_accounting rows, a cost that grew with every article
accounted on the ticket (a ticket updated 10 000 times took milliseconds of the database per
TicketGet). The total is now added to in the transaction that adds a row
(gateway.store.ticket_rows.add_time_accounting), under the ticket row's lock, so concurrent
updates of one ticket add up. The rows stay: TimeAccountingGet lists them.
"""

from yoyo import step

from gateway.store import ddl

__depends__ = {"0008_fulltext"}

SCHEMA = """
ALTER TABLE ticket ADD COLUMN accounted_time NUMERIC(20, 2) NOT NULL DEFAULT 0;
UPDATE ticket SET accounted_time = (SELECT SUM(ta.time_unit) FROM time_accounting ta WHERE ta.ticket_id = ticket.id)
 WHERE id IN (SELECT ticket_id FROM time_accounting)
"""


def apply(conn: ddl.Connection) -> None:
    ddl.run(conn, SCHEMA)


def rollback(conn: ddl.Connection) -> None:
    ddl.run(conn, "ALTER TABLE ticket DROP COLUMN accounted_time")


steps = [step(apply, rollback)]
