"""TimeAccountingGet's search: an agent's accounted time with the ticket as it was then."""

from __future__ import annotations

import datetime as dt

from gateway.store.database import Row, Transaction

# Znuny's TimeAccountingSearch limit
_LIMIT = 1_000_000


def search(tx: Transaction, user_id: int, start: dt.datetime, end: dt.datetime) -> list[Row]:
    """Rows accounted by the agent between start and end (UTC, both inclusive), oldest first.

    The queue is the one in effect when the time was accounted: that of the ticket's latest
    history line at or before the row (every change writes one), as Znuny's HistoryTicketGet
    with a stop time; the current queue only when no such line exists.
    """
    return tx.all(
        "SELECT t.tn, t.customer_id, t.title, q.name AS queue, ta.create_time, ta.time_unit"
        " FROM time_accounting ta JOIN ticket t ON t.id = ta.ticket_id"
        " JOIN queue q ON q.id = COALESCE((SELECT h.queue_id FROM ticket_history h"
        " WHERE h.ticket_id = ta.ticket_id AND h.create_time <= ta.create_time"
        " ORDER BY h.create_time DESC, h.id DESC LIMIT 1), t.queue_id)"
        " WHERE ta.create_by = ? AND ta.create_time BETWEEN ? AND ?"
        f" ORDER BY ta.create_time, t.id, ta.id LIMIT {_LIMIT}",
        [user_id, start, end],
    )
