"""Queues and dynamic-field definitions: the things an admin configures once."""

from __future__ import annotations

import json
from collections.abc import Mapping

from gateway.store.database import Row, Transaction, utcnow


def queue_by_name(tx: Transaction, name: str) -> Row | None:
    return tx.one("SELECT id, name, group_id, valid_id FROM queue WHERE name = ?", [name])


def add_queue(tx: Transaction, name: str, group_id: int, comments: str = "") -> int:
    now = utcnow()
    return tx.insert(
        "INSERT INTO queue (name, group_id, system_address_id, signature_id, comments, valid_id,"
        " create_time, change_time) VALUES (?, ?, 1, 1, ?, 1, ?, ?)",
        [name, group_id, comments, now, now],
    )


def dynamic_field_by_name(tx: Transaction, name: str) -> Row | None:
    return tx.one(
        "SELECT id, name, label, field_type, object_type, config, valid_id FROM dynamic_field WHERE name = ?",
        [name],
    )


def add_dynamic_field(
    tx: Transaction, name: str, label: str, field_type: str, object_type: str, config: Mapping[str, object]
) -> int:
    now = utcnow()
    order = (tx.value("SELECT MAX(field_order) FROM dynamic_field") or 0) + 1
    return tx.insert(
        "INSERT INTO dynamic_field (name, label, field_order, field_type, object_type, config, valid_id,"
        " create_time, change_time) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
        [name, label, order, field_type, object_type, json.dumps(config, sort_keys=True), now, now],
    )


# the name-keyed tables of Znuny's catalogue (a table name is never taken from input)
NAMED_TABLES = (
    "queue",
    "ticket_priority",
    "ticket_state",
    "article_sender_type",
    "communication_channel",
    "ticket_type",
    "ticket_history_type",
)


def ids_by_name(tx: Transaction, table: str) -> dict[str, int]:
    if table not in NAMED_TABLES:
        raise ValueError(f"{table} is not a name-keyed catalogue table")
    return {row["name"]: row["id"] for row in tx.all(f"SELECT id, name FROM {table}")}
