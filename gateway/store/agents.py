"""Agents, groups, agent-group permissions and agent preferences."""

from __future__ import annotations

from gateway.store.database import Row, Transaction, utcnow

PERMISSION_KEYS = ("ro", "move_into", "create", "note", "owner", "priority", "rw")

_USER_COLUMNS = "id, login, pw, title, first_name, last_name, email, valid_id, last_login, create_time, change_time"


def by_login(tx: Transaction, login: str) -> Row | None:
    return tx.one(f"SELECT {_USER_COLUMNS} FROM users WHERE login = ?", [login])


def by_id(tx: Transaction, user_id: int) -> Row | None:
    return tx.one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", [user_id])


def prefetch_by_id(tx: Transaction, user_id: int) -> None:
    """Send the query of a by_id() to come (Transaction.prefetch)."""
    tx.prefetch(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", [user_id])


def add(tx: Transaction, login: str, first_name: str, last_name: str, email: str, pw_hash: str) -> int:
    now = utcnow()
    return tx.insert(
        "INSERT INTO users (login, pw, first_name, last_name, email, valid_id, create_time, change_time)"
        " VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
        [login, pw_hash, first_name, last_name, email, now, now],
    )


def set_password(tx: Transaction, login: str, pw_hash: str) -> bool:
    tx.execute("UPDATE users SET pw = ?, change_time = ? WHERE login = ?", [pw_hash, utcnow(), login])
    return tx.rowcount == 1


def replace_password(tx: Transaction, login: str, old_hash: str, pw_hash: str) -> bool:
    """The same password hashed anew, unless the hash changed since it was read."""
    tx.execute("UPDATE users SET pw = ? WHERE login = ? AND pw = ?", [pw_hash, login, old_hash])
    return tx.rowcount == 1


def record_login(tx: Transaction, user_id: int) -> None:
    tx.execute("UPDATE users SET last_login = ? WHERE id = ?", [utcnow(), user_id])


def group_by_name(tx: Transaction, name: str) -> Row | None:
    return tx.one("SELECT id, name, valid_id FROM permission_groups WHERE name = ?", [name])


def add_group(tx: Transaction, name: str, comments: str = "") -> int:
    now = utcnow()
    return tx.insert(
        "INSERT INTO permission_groups (name, comments, valid_id, create_time, change_time) VALUES (?, ?, 1, ?, ?)",
        [name, comments, now, now],
    )


def link_group(tx: Transaction, user_id: int, group_id: int, permission_key: str) -> None:
    """Grant one permission; granting it again changes nothing."""
    exists = tx.value(
        "SELECT 1 FROM group_user WHERE user_id = ? AND group_id = ? AND permission_key = ?",
        [user_id, group_id, permission_key],
    )
    if not exists:
        tx.execute(
            "INSERT INTO group_user (user_id, group_id, permission_key, create_time) VALUES (?, ?, ?, ?)",
            [user_id, group_id, permission_key, utcnow()],
        )


_PERMISSIONS = (
    "SELECT g.id AS group_id, g.name, g.valid_id, gu.permission_key FROM group_user gu"
    " JOIN permission_groups g ON g.id = gu.group_id WHERE gu.user_id = ?"
)


def permissions(tx: Transaction, user_id: int) -> list[Row]:
    """Every permission key an agent holds, with its group's name and validity: one query per request."""
    return tx.all(_PERMISSIONS, [user_id])


def prefetch_permissions(tx: Transaction, user_id: int) -> None:
    """Send the query of a permissions() to come (Transaction.prefetch)."""
    tx.prefetch(_PERMISSIONS, [user_id])


def preferences(tx: Transaction, user_id: int) -> dict[str, str]:
    rows = tx.all("SELECT preferences_key, preferences_value FROM user_preferences WHERE user_id = ?", [user_id])
    return {row["preferences_key"]: row["preferences_value"] for row in rows}


def valid_agents(tx: Transaction) -> list[Row]:
    return tx.all("SELECT id, first_name, last_name, email FROM users WHERE valid_id = 1 ORDER BY id")
