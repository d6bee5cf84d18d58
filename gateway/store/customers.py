"""Customer companies and customer users."""

from __future__ import annotations

from gateway.store.database import Row, Transaction, utcnow

_COLUMNS = (
    "id, login, email, customer_id, pw, title, first_name, last_name, phone, mobile, valid_id, create_time, change_time"
)


def by_login(tx: Transaction, login: str) -> Row | None:
    return tx.one(f"SELECT {_COLUMNS} FROM customer_user WHERE login = ?", [login])


def prefetch_by_login(tx: Transaction, login: str) -> None:
    """Send the query of a by_login() to come (Transaction.prefetch)."""
    tx.prefetch(f"SELECT {_COLUMNS} FROM customer_user WHERE login = ?", [login])


def company_data(tx: Transaction, customer_id: str) -> Row | None:
    return tx.one(
        "SELECT customer_id, name, street, zip, city, country, url, comments, valid_id FROM customer_company"
        " WHERE customer_id = ?",
        [customer_id],
    )


def company(tx: Transaction, customer_id: str) -> Row | None:
    return tx.one("SELECT customer_id, name, valid_id FROM customer_company WHERE customer_id = ?", [customer_id])


def add_company(tx: Transaction, customer_id: str, name: str) -> None:
    now = utcnow()
    tx.execute(
        "INSERT INTO customer_company (customer_id, name, valid_id, create_time, change_time) VALUES (?, ?, 1, ?, ?)",
        [customer_id, name, now, now],
    )


def add_user(
    tx: Transaction, login: str, first_name: str, last_name: str, email: str, customer_id: str, pw_hash: str
) -> int:
    now = utcnow()
    return tx.insert(
        "INSERT INTO customer_user (login, email, customer_id, pw, first_name, last_name, valid_id,"
        " create_time, change_time) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
        [login, email, customer_id, pw_hash, first_name, last_name, now, now],
    )


def set_password(tx: Transaction, login: str, pw_hash: str) -> bool:
    tx.execute("UPDATE customer_user SET pw = ?, change_time = ? WHERE login = ?", [pw_hash, utcnow(), login])
    return tx.rowcount == 1


def replace_password(tx: Transaction, login: str, old_hash: str, pw_hash: str) -> bool:
    """The same password hashed anew, unless the hash changed since it was read."""
    tx.execute("UPDATE customer_user SET pw = ? WHERE login = ? AND pw = ?", [pw_hash, login, old_hash])
    return tx.rowcount == 1


def group_permissions(tx: Transaction, login: str, customer_id: str) -> list[Row]:
    """Every group with its validity and the keys the customer user or their company holds on it
    (permission_key NULL where neither holds one): one query, whichever way the rule reads it."""
    return tx.all(
        "SELECT g.id AS group_id, g.name, g.valid_id, p.permission_key FROM permission_groups g LEFT JOIN"
        " (SELECT group_id, permission_key FROM group_customer_user WHERE user_id = ?"
        " UNION SELECT group_id, permission_key FROM group_customer WHERE customer_id = ?) p ON p.group_id = g.id",
        [login, customer_id],
    )
