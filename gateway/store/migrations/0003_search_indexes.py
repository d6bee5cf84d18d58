"""Indexes found missing by `make bench` on 100 000 tickets.

- time_accounting (article_id): TicketGet sums each article's time; without it every article
  read scanned the whole table.
- the ticket title, case-insensitively: TicketSearch's Title criterion ("Printer*") is a
  case-insensitive prefix match; each backend needs its own form of index for that.
"""

from yoyo import step

from gateway.store import ddl

__depends__ = {"0002_initial_data"}


def apply(conn: ddl.Connection) -> None:
    cursor = conn.cursor()
    cursor.execute("CREATE INDEX ix_time_accounting_article ON time_accounting (article_id)")
    if ddl.dialect_of(conn) == "postgresql":
        cursor.execute("CREATE INDEX ix_ticket_title_lower ON ticket (LOWER(title) text_pattern_ops)")
    else:
        cursor.execute("CREATE INDEX ix_ticket_title_nocase ON ticket (title COLLATE NOCASE)")


steps = [step(apply)]
