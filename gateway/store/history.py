"""The change history (who did what, when) and each web service's numbered configurations."""

from __future__ import annotations

from gateway.store.database import Row, Transaction, utcnow

WEBSERVICE, MAIL, LOGIN = "webservice", "mail", "login"


def record(
    tx: Transaction, subject: str, object_id: int | None, object_name: str, actor: str, action: str, detail: str
) -> None:
    """One change, written in the transaction that makes it: it is recorded exactly when it happened."""
    tx.execute(
        "INSERT INTO change_history (subject, object_id, object_name, actor, action, detail, create_time)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [subject, object_id, object_name[:200], actor[:200], action[:50], detail, utcnow()],
    )


def changes(tx: Transaction, subject: str, object_id: int | None = None, limit: int = 100) -> list[Row]:
    """Newest first: one object's changes, or (object_id None) every change of the subject."""
    columns = "SELECT id, object_id, object_name, actor, action, detail, create_time FROM change_history"
    if object_id is None:
        return tx.all(f"{columns} WHERE subject = ? ORDER BY id DESC LIMIT ?", [subject, limit])
    return tx.all(
        f"{columns} WHERE subject = ? AND object_id = ? ORDER BY id DESC LIMIT ?", [subject, object_id, limit]
    )


def add_version(tx: Transaction, webservice_id: int, config: str, actor: str) -> int:
    """Keep a configuration as the web service's next version; its number."""
    version = int(
        tx.value(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM webservice_version WHERE webservice_id = ?", [webservice_id]
        )
    )
    tx.execute(
        "INSERT INTO webservice_version (webservice_id, version, config, create_by, create_time)"
        " VALUES (?, ?, ?, ?, ?)",
        [webservice_id, version, config, actor[:200], utcnow()],
    )
    return version


def versions(tx: Transaction, webservice_id: int) -> list[Row]:
    """Newest first, without the texts."""
    return tx.all(
        "SELECT version, create_by, create_time FROM webservice_version WHERE webservice_id = ? ORDER BY version DESC",
        [webservice_id],
    )


def version(tx: Transaction, webservice_id: int, number: int) -> str | None:
    row = tx.one(
        "SELECT config FROM webservice_version WHERE webservice_id = ? AND version = ?", [webservice_id, number]
    )
    return None if row is None else str(row["config"])


def delete_versions(tx: Transaction, webservice_id: int) -> None:
    tx.execute("DELETE FROM webservice_version WHERE webservice_id = ?", [webservice_id])
