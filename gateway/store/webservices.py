"""Web services, stored as Znuny's YAML, and the revision counter that tells processes to reload."""

from __future__ import annotations

from gateway.store.database import Row, Transaction, utcnow


def all_valid(tx: Transaction) -> list[Row]:
    return tx.all("SELECT id, name, config FROM webservice WHERE valid_id = 1 ORDER BY id")


def listing(tx: Transaction) -> list[Row]:
    return tx.all("SELECT id, name, valid_id, create_time, change_time FROM webservice ORDER BY id")


def by_name(tx: Transaction, name: str) -> Row | None:
    return tx.one("SELECT id, name, config, valid_id FROM webservice WHERE name = ?", [name])


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
