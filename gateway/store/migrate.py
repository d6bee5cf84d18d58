"""Versioned schema migrations (yoyo): `gateway db upgrade` and `make run` apply what is missing."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

# yoyo reads migrations from a directory, not through importlib.resources: this package's own, installed as package data
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _yoyo_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        # the embedded database's folder (var/ by default) is made on first use
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return url


def upgrade(url: str) -> list[str]:
    """Apply every pending migration under yoyo's lock; return the ids applied."""
    backend = get_backend(_yoyo_url(url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def known() -> list[str]:
    """The ids of the migrations this version of gateway has."""
    return [m.id for m in read_migrations(str(MIGRATIONS_DIR))]


def pending(url: str) -> list[str]:
    backend = get_backend(_yoyo_url(url))
    return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]
