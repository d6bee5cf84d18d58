"""What one request costs the database: its statements and, on PostgreSQL, its round trips.

Counted in the bench's process, through the WSGI application on the database the served gateway uses,
for the thread that answers the request (the communication log's writer works apart, in batches).
Statements are those the database runs, BEGIN and COMMIT of a writing transaction included; a round
trip is a wait for the server's answer: each statement of a reading transaction (autocommit), and in a
writing one (psycopg's pipeline mode) each answer read that is not in yet, and the COMMIT; the
statements whose answers nobody reads, and reads prefetched, ride along.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

from werkzeug.test import Client

from gateway.app import make_app
from gateway.settings import Settings
from gateway.store.database import Database, Transaction

REPEATS = 3  # the last request is counted: the first ones fill the process's caches


@dataclasses.dataclass
class Tally:
    statements: int = 0
    round_trips: int = 0


@contextlib.contextmanager
def counting() -> Iterator[Tally]:
    """Count what this thread sends while the block runs."""
    tally, me = Tally(), threading.get_ident()
    execute, executemany, prefetch, answer = (
        Transaction.execute,
        Transaction.executemany,
        Transaction.prefetch,
        Transaction._answer,
    )
    transaction, rowcount = Database.transaction, Transaction.rowcount

    def mine() -> bool:
        return threading.get_ident() == me

    def counted_execute(self: Transaction, sql: str, params: Any = (), prepare: bool | None = None) -> Any:
        if mine():
            tally.statements += 1
            tally.round_trips += self._pipeline is None and self.dialect == "postgresql"
        return execute(self, sql, params, prepare)

    def counted_prefetch(self: Transaction, sql: str, params: Any = ()) -> None:
        if mine():  # sent now (a PostgreSQL write), its answer read with the next wait; elsewhere run when read
            tally.statements += self._pipeline is not None
        prefetch(self, sql, params)

    def counted_executemany(self: Transaction, sql: str, rows: Any) -> None:
        if mine():
            tally.statements += len(rows)
            tally.round_trips += self.dialect == "postgresql"
        executemany(self, sql, rows)

    def counted_answer(self: Transaction, sql: str, params: Any, prepare: bool | None = None) -> Any:
        cursor = answer(self, sql, params, prepare)
        if mine() and self._pipeline is not None and cursor.pgresult is None:
            tally.round_trips += 1  # its answer is not in yet: reading it waits for everything sent so far
        return cursor

    @contextlib.contextmanager
    def counted_transaction(self: Database, write: bool = True, **options: Any) -> Iterator[Transaction]:
        if mine() and write:
            tally.statements += 2  # BEGIN, COMMIT
            tally.round_trips += self.dialect == "postgresql"  # the COMMIT (BEGIN goes with the first statement)
        with transaction(self, write, **options) as tx:
            yield tx

    def counted_rowcount(self: Transaction) -> int:
        if mine():
            tally.round_trips += self._pipeline is not None
        return int(rowcount.fget(self))  # type: ignore[attr-defined]

    patches = {
        "execute": counted_execute,
        "executemany": counted_executemany,
        "prefetch": counted_prefetch,
        "_answer": counted_answer,
        "rowcount": property(counted_rowcount),
    }
    try:
        for name, patch in patches.items():
            setattr(Transaction, name, patch)
        Database.transaction = counted_transaction  # type: ignore[method-assign,assignment]
        yield tally
    finally:
        originals = {"execute": execute, "executemany": executemany, "prefetch": prefetch, "_answer": answer}
        for name, original in originals.items():
            setattr(Transaction, name, original)
        Transaction.rowcount = rowcount  # type: ignore[method-assign]
        Database.transaction = transaction  # type: ignore[method-assign]


class StatementCounter:
    """The gateway application in this process, on the served gateway's database."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_app(settings)
        self.app.preload()
        self.client = Client(self.app)

    def count(self, path: str, method: str, body: str, headers: dict[str, str]) -> Tally:
        for _ in range(REPEATS - 1):
            self.client.open(path, method=method, data=body.encode() or None, headers=headers)
        with counting() as tally:
            self.client.open(path, method=method, data=body.encode() or None, headers=headers)
        return tally

    def close(self) -> None:
        self.app.close()
