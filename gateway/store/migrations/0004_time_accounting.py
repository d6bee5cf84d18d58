"""ticket_history (ticket_id, create_time, id): TimeAccountingGet reads, per accounted row, the
ticket's latest history line at or before it; this index finds that line without reading
the ticket's whole history.
"""

from yoyo import step

__depends__ = {"0003_search_indexes"}

steps = [
    step(
        "CREATE INDEX ix_ticket_history_ticket_time ON ticket_history (ticket_id, create_time, id)",
        "DROP INDEX ix_ticket_history_ticket_time",
    )
]
