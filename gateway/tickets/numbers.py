"""Znuny's DateChecksum ticket numbers: date, SystemID, the day's counter, a check digit.

The counter is one row per day, advanced by an atomic upsert: numbers are unique across
processes and machines sharing one database. On PostgreSQL the upsert commits on its own, on
a second connection, before the ticket's transaction goes on: a counter row locked until the
creating transaction commits would make every TicketCreate of every node wait for the one
before it. A TicketCreate that fails afterwards leaves a gap, as a sequence does. The upsert's
commit need not wait for the disk: a ticket that uses the number commits durably after it,
which puts the counter's earlier WAL on disk too. SQLite has one writer at a time anyway: there
the upsert is part of the creating transaction.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Sequence

from gateway.store import ticket_rows
from gateway.store.database import Database, Transaction


def check_digit(digits: str) -> int:
    """Znuny's checksum: weights 1, 2, 1, 2, ... summed modulo 10, subtracted from 10 (10 counts as 1)."""
    total = sum(int(digit) * (1 if i % 2 == 0 else 2) for i, digit in enumerate(digits)) % 10
    return 1 if total == 0 else 10 - total


def ticket_number(day: str, system_id: str, counter: int) -> str:
    base = f"{day}{system_id}{counter:05d}"
    return base + str(check_digit(base))


def next_ticket_number(db: Database, tx: Transaction, system_id: str, now: dt.datetime) -> str:
    """The number for a ticket `tx` creates (the transaction of `db` it runs in)."""
    day = now.strftime("%Y%m%d")
    if tx.dialect == "sqlite":
        return ticket_number(day, system_id, ticket_rows.next_counter(tx, day))
    with db.transaction(durable=False) as own:
        return ticket_number(day, system_id, ticket_rows.next_counter(own, day))


def reserve_ticket_numbers(tx: Transaction, system_id: str, created: Sequence[dt.datetime]) -> list[str]:
    """Numbers for tickets created at the moments `created` (bulk loads): one counter upsert per day."""
    per_day = collections.Counter(moment.strftime("%Y%m%d") for moment in created)
    following = {day: ticket_rows.next_counter(tx, day, count) for day, count in sorted(per_day.items())}
    numbers = []
    for moment in created:
        day = moment.strftime("%Y%m%d")
        numbers.append(ticket_number(day, system_id, following[day]))
        following[day] += 1
    return numbers
