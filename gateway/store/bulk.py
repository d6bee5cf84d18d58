"""Bulk writes for loading many rows at once (demo data): ids reserved in blocks, one statement per batch."""

from __future__ import annotations

import json
from collections.abc import Sequence

from gateway.store.database import Transaction, Value

# rows per INSERT ... SELECT FROM json_to_recordset() on PostgreSQL
PG_BATCH = 20_000


def new_ids(tx: Transaction, table: str, count: int) -> Sequence[int]:
    """Ids for rows that others reference: from the identity sequence on PostgreSQL (safe beside a live
    server, and no sequence to move afterwards); on SQLite the write lock is ours, so the next free ones."""
    if tx.dialect == "postgresql":
        sequence = tx.value("SELECT pg_get_serial_sequence(?, 'id')", [table])
        rows = tx.execute("SELECT nextval(?::regclass) AS id FROM generate_series(1, ?)", [sequence, count])
        return [row["id"] for row in rows.fetchall()]
    last = tx.value(
        f"SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0),"
        " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))",
        [table],
    )
    return range(int(last) + 1, int(last) + 1 + count)


def insert(tx: Transaction, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[tuple[Value, ...]]) -> None:
    """executemany on SQLite (in-process: batching costs nothing there); on PostgreSQL one
    INSERT ... SELECT FROM json_to_recordset() per batch: one statement, one round trip and one
    parameter (serialised by the json module's C encoder) for thousands of rows, through the
    Transaction (COPY would need the raw cursor)."""
    names = [name for name, _ in columns]
    if tx.dialect == "sqlite":
        tx.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
        return
    record = ", ".join(f"{name} {kind}" for name, kind in columns)
    for start in range(0, len(rows), PG_BATCH):
        batch = json.dumps([dict(zip(names, row, strict=True)) for row in rows[start : start + PG_BATCH]], default=str)
        tx.execute(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM json_to_recordset(?::json) AS r({record})", [batch]
        )


def analyze(tx: Transaction, tables: Sequence[str]) -> None:
    """Let the planner know the new table sizes at once (benchmarks usually start right after a load)."""
    if tx.dialect == "postgresql":
        tx.execute(f"ANALYZE {', '.join(tables)}")
    else:
        tx.execute("ANALYZE")
