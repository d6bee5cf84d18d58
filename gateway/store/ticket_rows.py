"""Tickets, articles, attachments, dynamic-field values, history and time accounting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from gateway.store.database import Row, Transaction, Value, utcnow

# catalogue tables a request may name by id or by name; valid_id where the table has one
_CATALOGUES = {
    "queue": True,
    "ticket_state": True,
    "ticket_priority": True,
    "ticket_type": True,
    "ticket_lock_type": False,
    "service": True,
    "sla": True,
    "communication_channel": False,
    "article_sender_type": False,
    "ticket_history_type": False,
    "ticket_state_type": False,
}


# catalogues that are Znuny's fixed seed data (no admin path changes them): read once per process
_FIXED = {
    "ticket_lock_type",
    "communication_channel",
    "article_sender_type",
    "ticket_history_type",
    "ticket_state_type",
}
_fixed_cache: dict[tuple[str, int | None, str | None], Row] = {}


def lookup(tx: Transaction, table: str, *, id: int | None = None, name: str | None = None) -> Row | None:
    """A catalogue row by id or name (valid rows only where the table has a validity)."""
    if table in _FIXED:
        key = (table, id, name)
        if key not in _fixed_cache:
            row = _lookup(tx, table, id, name)
            if row is None:
                return None  # misses are not kept: a client's made-up names would fill the cache
            _fixed_cache[key] = row
        return _fixed_cache[key]
    return _lookup(tx, table, id, name)


def prefetch_lookup(tx: Transaction, table: str, *, id: int | None = None, name: str | None = None) -> None:
    """Send the query of a lookup() to come (Transaction.prefetch); a fixed catalogue's row known already needs none."""
    if table not in _FIXED or (table, id, name) not in _fixed_cache:
        tx.prefetch(*_lookup_query(table, id, name))


def _lookup(tx: Transaction, table: str, id: int | None, name: str | None) -> Row | None:
    return tx.one(*_lookup_query(table, id, name))


def _lookup_query(table: str, id: int | None, name: str | None) -> tuple[str, list[Value]]:
    valid = " AND valid_id = 1" if _CATALOGUES[table] else ""
    extra = ", group_id" if table == "queue" else ", type_id" if table == "ticket_state" else ""
    if id is not None:
        return f"SELECT id, name{extra} FROM {table} WHERE id = ?{valid}", [id]
    return f"SELECT id, name{extra} FROM {table} WHERE name = ?{valid}", [name]


def service_allowed(tx: Transaction, service_id: int, customer_user: str) -> bool:
    """Znuny's CustomerUserServiceMemberList, including the default services ('<DEFAULT>')."""
    return bool(
        tx.value(
            "SELECT 1 FROM service_customer_user WHERE service_id = ? AND customer_user_login IN (?, ?)",
            [service_id, customer_user, "<DEFAULT>"],
        )
    )


def sla_for_service(tx: Transaction, sla_id: int, service_id: int) -> bool:
    return bool(tx.value("SELECT 1 FROM service_sla WHERE sla_id = ? AND service_id = ?", [sla_id, service_id]))


def next_counter(tx: Transaction, day: str, count: int = 1) -> int:
    """The first of the day's next `count` ticket counters: one atomic upsert, unique across processes
    and machines."""
    last = tx.value(
        "INSERT INTO ticket_number_counter (counter_date, counter) VALUES (?, ?) ON CONFLICT (counter_date)"
        " DO UPDATE SET counter = ticket_number_counter.counter + excluded.counter RETURNING counter",
        [day, count],
    )
    return int(last) - count + 1


def insert_ticket(tx: Transaction, values: Mapping[str, Value]) -> int:
    now = utcnow()
    values = {**values, "create_time": now, "change_time": now, "change_by": values["create_by"]}
    columns = ", ".join(values)
    return tx.insert(f"INSERT INTO ticket ({columns}) VALUES ({', '.join('?' * len(values))})", list(values.values()))


def update_ticket(tx: Transaction, ticket_id: int, changes: Mapping[str, Value], by: int) -> None:
    changes = {**changes, "change_time": utcnow(), "change_by": by}
    assignments = ", ".join(f"{column} = ?" for column in changes)
    tx.execute(f"UPDATE ticket SET {assignments} WHERE id = ?", [*changes.values(), ticket_id])


def insert_article(
    tx: Transaction,
    ticket_id: int,
    sender_type_id: int,
    channel_id: int,
    visible: int,
    by: int,
    mime: Mapping[str, str],
) -> int:
    now = utcnow()
    article_id = tx.insert(
        "INSERT INTO article (ticket_id, article_sender_type_id, communication_channel_id, is_visible_for_customer,"
        " create_time, create_by, change_time, change_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [ticket_id, sender_type_id, channel_id, visible, now, by, now, by],
    )
    tx.execute(
        "INSERT INTO article_data_mime (article_id, a_from, a_reply_to, a_to, a_cc, a_bcc, a_subject, a_message_id,"
        " a_in_reply_to, a_references, a_content_type, a_body, incoming_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?)",
        [
            article_id,
            mime.get("from", ""),
            mime.get("reply_to", ""),
            mime.get("to", ""),
            mime.get("cc", ""),
            mime.get("bcc", ""),
            mime.get("subject", ""),
            mime.get("message_id", ""),
            mime.get("in_reply_to", ""),
            mime.get("references", ""),
            mime["content_type"],
            mime.get("body", ""),
            int(now.replace(tzinfo=dt.UTC).timestamp()),
        ],
    )
    return article_id


def insert_attachment(
    tx: Transaction, article_id: int, filename: str, content_type: str, content: bytes, disposition: str
) -> None:
    tx.execute(
        "INSERT INTO article_data_mime_attachment (article_id, filename, content_size, content_type, content_id,"
        " content_alternative, disposition, content) VALUES (?, ?, ?, ?, '', '', ?, ?)",
        [article_id, filename, str(len(content)), content_type, disposition, content],
    )


def set_field_values(tx: Transaction, field_id: int, object_id: int, values: Sequence[str]) -> None:
    tx.execute("DELETE FROM dynamic_field_value WHERE field_id = ? AND object_id = ?", [field_id, object_id])
    tx.executemany(
        "INSERT INTO dynamic_field_value (field_id, object_id, value_text) VALUES (?, ?, ?)",
        [(field_id, object_id, value) for value in values],
    )


def add_history(
    tx: Transaction, ticket_id: int, history_type: str, name: str, by: int, article_id: int | None = None
) -> None:
    """A history line with the ticket's state at that moment, as Znuny's HistoryAdd."""
    tx.execute(
        "INSERT INTO ticket_history (name, history_type_id, ticket_id, article_id, type_id, queue_id, owner_id,"
        " priority_id, state_id, create_time, create_by)"
        " SELECT ?, (SELECT id FROM ticket_history_type WHERE name = ?), id, ?, type_id, queue_id, user_id,"
        " ticket_priority_id, ticket_state_id, ?, ? FROM ticket WHERE id = ?",
        [name[:200], history_type, article_id, utcnow(), by, ticket_id],
    )


def add_time_accounting(
    tx: Transaction, ticket_id: int, article_id: int | None, time_unit: float, by: int
) -> Decimal | float:
    """Account time on a ticket; returns the ticket's new total (DECIMAL: PostgreSQL gives a Decimal, SQLite a
    number). The total is kept on the ticket (migration 0009), added to under the ticket row's lock."""
    tx.execute(
        "INSERT INTO time_accounting (ticket_id, article_id, time_unit, create_time, create_by) VALUES (?, ?, ?, ?, ?)",
        [ticket_id, article_id, time_unit, utcnow(), by],
    )
    # added as the row stores it (DECIMAL(10,2) rounds on PostgreSQL), so the total stays the rows' sum
    total: Decimal | float = tx.value(
        "UPDATE ticket SET accounted_time = accounted_time + CAST(? AS NUMERIC(10, 2)) WHERE id = ?"
        " RETURNING accounted_time",
        [time_unit, ticket_id],
    )
    return total


# -- reading ---------------------------------------------------------------------------------------------


def _in(ids: Iterable[int]) -> tuple[str, list[int]]:
    ids = list(ids)
    return ", ".join("?" * len(ids)), ids


def tickets(tx: Transaction, ticket_ids: Sequence[int]) -> list[Row]:
    marks, ids = _in(ticket_ids)
    return tx.all(
        "SELECT t.id, t.tn, t.title, t.queue_id, q.name AS queue, q.group_id, t.ticket_lock_id, l.name AS lock_name,"
        " t.type_id, ty.name AS type_name, t.service_id, sv.name AS service, t.sla_id, sl.name AS sla,"
        " t.user_id, o.login AS owner, t.responsible_user_id, r.login AS responsible, t.ticket_priority_id,"
        " p.name AS priority, t.ticket_state_id, s.name AS state, st.name AS state_type, t.customer_id,"
        " t.customer_user_id, t.timeout, t.until_time, t.archive_flag, t.create_time, t.create_by,"
        " t.change_time, t.change_by, t.accounted_time AS time_unit"
        " FROM ticket t JOIN queue q ON q.id = t.queue_id JOIN ticket_lock_type l ON l.id = t.ticket_lock_id"
        " LEFT JOIN ticket_type ty ON ty.id = t.type_id LEFT JOIN service sv ON sv.id = t.service_id"
        " LEFT JOIN sla sl ON sl.id = t.sla_id JOIN users o ON o.id = t.user_id"
        " JOIN users r ON r.id = t.responsible_user_id JOIN ticket_priority p ON p.id = t.ticket_priority_id"
        " JOIN ticket_state s ON s.id = t.ticket_state_id JOIN ticket_state_type st ON st.id = s.type_id"
        f" WHERE t.id IN ({marks})",
        ids,
    )


def ticket_by_number(tx: Transaction, number: str) -> int | None:
    ticket_id: int | None = tx.value("SELECT id FROM ticket WHERE tn = ?", [number])
    return ticket_id


def articles(tx: Transaction, ticket_ids: Sequence[int]) -> list[Row]:
    marks, ids = _in(ticket_ids)
    return tx.all(
        "SELECT a.id, a.ticket_id, a.article_sender_type_id, st.name AS sender_type, a.communication_channel_id,"
        " c.name AS channel, a.is_visible_for_customer, a.create_time, a.create_by, a.change_time, a.change_by,"
        " m.a_from, m.a_reply_to, m.a_to, m.a_cc, m.a_bcc, m.a_subject, m.a_message_id, m.a_in_reply_to,"
        " m.a_references, m.a_content_type, m.a_body, m.incoming_time,"
        " (SELECT COALESCE(SUM(ta.time_unit), 0) FROM time_accounting ta WHERE ta.article_id = a.id) AS time_unit"
        " FROM article a JOIN article_data_mime m ON m.article_id = a.id"
        " JOIN article_sender_type st ON st.id = a.article_sender_type_id"
        " JOIN communication_channel c ON c.id = a.communication_channel_id"
        f" WHERE a.ticket_id IN ({marks}) ORDER BY a.ticket_id, a.id",
        ids,
    )


def attachments(tx: Transaction, article_ids: Sequence[int], with_content: bool) -> list[Row]:
    if not article_ids:
        return []
    marks, ids = _in(article_ids)
    content = "content" if with_content else "NULL AS content"
    return tx.all(
        f"SELECT id, article_id, filename, content_size, content_type, content_id, content_alternative, disposition,"
        f" {content} FROM article_data_mime_attachment WHERE article_id IN ({marks}) ORDER BY article_id, id",
        ids,
    )


def field_values(tx: Transaction, object_type: str, object_ids: Sequence[int]) -> list[Row]:
    if not object_ids:
        return []
    marks, ids = _in(object_ids)
    return tx.all(
        "SELECT v.object_id, f.name, f.field_type, v.value_text FROM dynamic_field_value v"
        " JOIN dynamic_field f ON f.id = v.field_id"
        f" WHERE f.object_type = ? AND f.valid_id = 1 AND v.object_id IN ({marks}) ORDER BY f.name, v.id",
        [object_type, *ids],
    )


def history(tx: Transaction, ticket_ids: Sequence[int]) -> list[Row]:
    marks, ids = _in(ticket_ids)
    return tx.all(
        "SELECT h.ticket_id, h.article_id, h.create_by, h.create_time, ht.name AS history_type, h.history_type_id,"
        " h.name, h.owner_id, h.priority_id, h.queue_id, h.state_id, h.type_id FROM ticket_history h"
        f" JOIN ticket_history_type ht ON ht.id = h.history_type_id WHERE h.ticket_id IN ({marks})"
        " ORDER BY h.ticket_id, h.id",
        ids,
    )


# -- small lookups the domain needs -----------------------------------------------------------------------


def state_type_name(tx: Transaction, state_type_id: int) -> str:
    """The name of a state's type; the id comes from a state row, whose foreign key guarantees the type."""
    row = lookup(tx, "ticket_state_type", id=state_type_id)
    if row is None:
        raise LookupError(f"no ticket state type {state_type_id}")
    name: str = row["name"]
    return name


def lock_id(tx: Transaction, ticket_id: int) -> int:
    return int(tx.value("SELECT ticket_lock_id FROM ticket WHERE id = ?", [ticket_id]))


def queue_mail_identity(tx: Transaction, queue_id: int) -> Row:
    """The address and signature a queue's outgoing mail carries (the queue's foreign keys guarantee both)."""
    row = tx.one(
        "SELECT sa.value0 AS email, sa.value1 AS realname, s.text AS signature, s.content_type AS signature_type"
        " FROM queue q JOIN system_address sa ON sa.id = q.system_address_id"
        " JOIN signature s ON s.id = q.signature_id WHERE q.id = ?",
        [queue_id],
    )
    if row is None:
        raise LookupError(f"no queue {queue_id}")
    return row


def last_message(tx: Transaction, ticket_id: int) -> Row | None:
    """The ticket's latest article with a Message-ID: what a follow-up answers."""
    return tx.one(
        "SELECT m.a_message_id, m.a_references FROM article a JOIN article_data_mime m ON m.article_id = a.id"
        " WHERE a.ticket_id = ? AND m.a_message_id <> '' ORDER BY a.id DESC LIMIT 1",
        [ticket_id],
    )
