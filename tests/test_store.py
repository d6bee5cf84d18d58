"""Migrations and the data a fresh installation starts with, on both backends."""

from __future__ import annotations

import pytest

from gateway.store import migrate


def rows(db, sql: str) -> list[tuple]:
    with db.transaction(write=False) as tx:
        return [tuple(row.values()) for row in tx.all(sql)]


def test_migrations_are_applied_and_idempotent(database_url):
    assert migrate.pending(database_url) == []
    assert migrate.upgrade(database_url) == []


def test_znunys_ids_for_the_default_rows(db):
    assert rows(db, "SELECT id, name FROM ticket_state WHERE id IN (1, 2, 4, 6) ORDER BY id") == [
        (1, "new"),
        (2, "closed successful"),
        (4, "open"),
        (6, "pending reminder"),
    ]
    assert rows(db, "SELECT id, name FROM ticket_priority ORDER BY id") == [
        (1, "1 very low"),
        (2, "2 low"),
        (3, "3 normal"),
        (4, "4 high"),
        (5, "5 very high"),
    ]
    assert rows(db, "SELECT id, name FROM queue WHERE id <= 4 ORDER BY id") == [
        (1, "Postmaster"),
        (2, "Raw"),
        (3, "Junk"),
        (4, "Misc"),
    ]
    assert rows(db, "SELECT id, name FROM ticket_type") == [(1, "Unclassified")]
    assert rows(db, "SELECT name FROM permission_groups WHERE id <= 4 ORDER BY id") == [
        ("users",),
        ("admin",),
        ("stats",),
        ("timeaccounting_webservice",),
    ]
    assert rows(
        db,
        "SELECT g.name FROM group_user gu JOIN permission_groups g ON g.id = gu.group_id"
        " WHERE gu.user_id = 1 AND gu.permission_key = 'rw' ORDER BY g.id",
    ) == [("users",), ("admin",), ("stats",)]
    assert rows(db, "SELECT id, login FROM users WHERE id = 1") == [(1, "root@localhost")]
    assert rows(db, "SELECT id, name FROM communication_channel WHERE id = 3") == [(3, "Internal")]
    assert rows(db, "SELECT id, name FROM ticket_history_type WHERE id IN (1, 15, 20, 27)") == [
        (1, "NewTicket"),
        (15, "AddNote"),
        (20, "TimeAccounting"),
        (27, "StateUpdate"),
    ]


def test_the_welcome_ticket_exists(db):
    welcome = rows(
        db,
        "SELECT t.id, t.title, q.name AS queue, s.name AS state FROM ticket t"
        " JOIN queue q ON q.id = t.queue_id JOIN ticket_state s ON s.id = t.ticket_state_id",
    )
    assert welcome == [(1, "Welcome to Znuny!", "Raw", "new")]
    assert rows(db, "SELECT COUNT(*) FROM article WHERE ticket_id = 1") == [(1,)]


def test_new_rows_do_not_collide_with_seeded_ids(db):
    """PostgreSQL's identity sequences were moved past the ids the seed wrote explicitly."""
    with db.transaction() as tx:
        new_id = tx.insert("INSERT INTO ticket_type (name) VALUES (?)", ["Incident"])
    assert new_id > 1


def test_a_failed_transaction_leaves_nothing(db):
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("INSERT INTO ticket_type (name) VALUES (?)", ["Problem"])
        raise RuntimeError("abort")
    assert rows(db, "SELECT COUNT(*) FROM ticket_type WHERE name = 'Problem'") == [(0,)]


def test_placeholders_and_percent_signs_mean_the_same_on_both_backends(db):
    with db.transaction(write=False) as tx:
        assert (
            tx.value("SELECT COUNT(*) FROM queue WHERE name LIKE '%a%' AND id > ?", [0])
            == tx.value("SELECT COUNT(*) FROM queue WHERE name LIKE ? AND id > ?", ["%a%", 0])
            > 0
        )
        assert tx.value("SELECT 'it''s 100%' || ?", ["!"]) == "it's 100%!"


@pytest.mark.parametrize("sql", ["SELECT '?' || ?", 'SELECT 1 AS "why?"', "SELECT 1 -- what?\n", "SELECT 'open"])
def test_a_question_mark_that_is_no_placeholder_is_refused_on_both_backends(db, sql):
    """SQLite leaves such a '?' alone, the rewrite for PostgreSQL would not: the statement is a bug everywhere."""
    with pytest.raises(ValueError, match="inside quotes"), db.transaction(write=False) as tx:
        tx.value(sql, ["x"])


def test_a_writing_transaction_reads_what_it_wrote_and_counts_rows(db):
    """PostgreSQL runs writes in pipeline mode: an answer read, a row count, a prefetched query that a write
    came after, each sees every statement sent before it."""
    with db.transaction() as tx:
        tx.execute("INSERT INTO ticket_type (name, valid_id) VALUES ('pipelined', 1)")
        tx.prefetch("SELECT COUNT(*) AS n FROM ticket_type WHERE name LIKE ?", ["pipe%"])
        tx.execute("UPDATE ticket_type SET name = 'pipeline' WHERE name = 'pipelined'")
        assert tx.rowcount == 1
        assert tx.value("SELECT COUNT(*) AS n FROM ticket_type WHERE name LIKE ?", ["pipe%"]) == 1
        tx.prefetch("SELECT name FROM ticket_type WHERE name = ?", ["pipeline"])
        tx.prefetch("SELECT name FROM ticket_type WHERE name = ?", ["nothing"])
        assert tx.one("SELECT name FROM ticket_type WHERE name = ?", ["nothing"]) is None
        assert tx.one("SELECT name FROM ticket_type WHERE name = ?", ["pipeline"]) == {"name": "pipeline"}
        tx.execute("DELETE FROM ticket_type WHERE name = 'pipeline'")
        assert tx.rowcount == 1
    assert rows(db, "SELECT name FROM ticket_type WHERE name LIKE 'pipe%'") == []


def test_a_statement_that_fails_unread_fails_its_transaction(db):
    """A pipelined INSERT whose answer nobody reads and that breaks a constraint still rolls everything back."""
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.transaction() as tx:
        tx.execute("INSERT INTO ticket_type (name, valid_id) VALUES ('twice', 1)")
        tx.execute("INSERT INTO ticket_type (name, valid_id) VALUES ('twice', 1)")
    assert rows(db, "SELECT name FROM ticket_type WHERE name = 'twice'") == []
