"""Web services, stored as Znuny's YAML, and the revision counter that tells processes to reload."""

from __future__ import annotations

from gateway.store.database import Row, Transaction, utcnow


def all_valid(tx: Transaction) -> list[Row]:
    return tx.all("SELECT id, name, config FROM webservice WHERE valid_id = 1 ORDER BY id")


def listing(tx: Transaction) -> list[Row]:
    """Every web service by ID with its last request, in one statement: the list page asks once, not per row.

    Each last entry is one probe of the communication log's (webservice_id, id) index. The range written
    for the equality is on purpose: with `=`, PostgreSQL walks the primary key backwards instead (it
    cannot know that one web service's entries are rare), through the whole log for a web service that
    has none (20 ms on 200 000 entries, against 0.15 ms)."""
    return tx.all(
        "SELECT w.id, w.name, w.config, w.valid_id, w.create_time, w.change_time,"
        " l.create_time AS last_request_time, l.http_status AS last_status, l.error_code AS last_error_code"
        " FROM webservice w LEFT JOIN communication_log l"
        " ON l.id = (SELECT c.id FROM communication_log c WHERE c.webservice_id BETWEEN w.id AND w.id"
        " ORDER BY c.webservice_id DESC, c.id DESC LIMIT 1)"
        " ORDER BY w.id"
    )


def by_name(tx: Transaction, name: str) -> Row | None:
    return tx.one("SELECT id, name, config, valid_id, create_time, change_time FROM webservice WHERE name = ?", [name])


def add(tx: Transaction, name: str, config: str) -> int:
    now = utcnow()
    webservice_id = tx.insert(
        "INSERT INTO webservice (name, config, valid_id, create_time, change_time) VALUES (?, ?, 1, ?, ?)",
        [name, config, now, now],
    )
    _bump(tx)
    return webservice_id


def update(tx: Transaction, name: str, config: str) -> bool:
    tx.execute("UPDATE webservice SET config = ?, change_time = ? WHERE name = ?", [config, utcnow(), name])
    changed = tx.rowcount == 1
    if changed:
        _bump(tx)
    return changed


def set_valid(tx: Transaction, name: str, valid: bool) -> bool:
    """Znuny's valid_id: 1 valid, 2 invalid. The revision moves, so every registry stops (or starts) serving it."""
    tx.execute(
        "UPDATE webservice SET valid_id = ?, change_time = ? WHERE name = ?", [1 if valid else 2, utcnow(), name]
    )
    changed = tx.rowcount == 1
    if changed:
        _bump(tx)
    return changed


def delete(tx: Transaction, name: str) -> bool:
    tx.execute("DELETE FROM webservice WHERE name = ?", [name])
    deleted = tx.rowcount == 1
    if deleted:
        _bump(tx)
    return deleted


def revision(tx: Transaction) -> int:
    return int(tx.value("SELECT revision FROM webservice_revision WHERE id = 1"))


def _bump(tx: Transaction) -> None:
    tx.execute("UPDATE webservice_revision SET revision = revision + 1 WHERE id = 1")
