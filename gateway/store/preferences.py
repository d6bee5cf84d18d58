"""Agent preferences written in bulk (User::OutOfOffice sets thousands of agents in one request)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from gateway.store.database import Row, Transaction


def valid_agents(tx: Transaction) -> list[Row]:
    """Every valid agent, for matching many CSV rows by login, e-mail or name in one query."""
    return tx.all("SELECT id, login, email, first_name, last_name FROM users WHERE valid_id = 1")


def set_many(tx: Transaction, values: Sequence[tuple[int, str, str]]) -> None:
    """(user_id, key, value) rows, each (user_id, key) once, inserted or replaced as Znuny's SetPreferences.

    PostgreSQL gets them as one JSON parameter of one statement: 70 000 single-row upserts, even
    pipelined, take seconds, and so does adapting 210 000 array elements; SQLite's executemany
    runs in-process.
    """
    # an unchanged value is not rewritten (re-sending the same CSV writes nothing)
    upsert = (
        " ON CONFLICT (user_id, preferences_key) DO UPDATE SET preferences_value = excluded.preferences_value"
        " WHERE user_preferences.preferences_value IS DISTINCT FROM excluded.preferences_value"
    )
    if tx.dialect == "postgresql":
        tx.execute(
            "INSERT INTO user_preferences (user_id, preferences_key, preferences_value)"
            " SELECT (row->>0)::integer, row->>1, row->>2 FROM jsonb_array_elements(?::jsonb) AS row" + upsert,
            [json.dumps(values)],
        )
    else:
        tx.executemany(
            "INSERT INTO user_preferences (user_id, preferences_key, preferences_value) VALUES (?, ?, ?)" + upsert,
            values,
        )
