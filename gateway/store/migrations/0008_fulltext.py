"""Indexes for TicketSearch's article criteria (From, To, Cc, Subject, Body).

Znuny matches them as a case-insensitive substring with `*` wildcards (LIKE '%...%'), which no
B-tree serves: every such search read every article. Each backend gets an index of trigrams,
which serves exactly that match:

- PostgreSQL: pg_trgm (a trusted extension: a role that may create objects in the database may
  create it; otherwise its owner does, once, and the upgrade is run again) and a GIN index on
  LOWER() of each column, the form gateway.store.search compares. The indexes are built inside
  the upgrade's transaction, which keeps new articles waiting meanwhile: on a large database,
  upgrade while no server runs;
- SQLite: an FTS5 table with the trigram tokenizer over the same columns, kept by triggers, which
  gateway.store.search asks for candidate articles before it applies the exact match.
"""

from yoyo import step

from gateway.errors import SettingsError
from gateway.store import ddl

__depends__ = {"0007_admin_pages"}

COLUMNS = ("a_from", "a_to", "a_cc", "a_subject", "a_body")
_LIST = ", ".join(COLUMNS)
_NEW = ", ".join(f"new.{column}" for column in COLUMNS)
_OLD = ", ".join(f"old.{column}" for column in COLUMNS)

# one statement each: a trigger's body holds semicolons
SQLITE = [
    f"CREATE VIRTUAL TABLE article_search USING fts5({_LIST}, content='article_data_mime',"
    " content_rowid='article_id', tokenize='trigram')",
    "INSERT INTO article_search (article_search) VALUES ('rebuild')",
    f"CREATE TRIGGER article_search_insert AFTER INSERT ON article_data_mime BEGIN"
    f" INSERT INTO article_search (rowid, {_LIST}) VALUES (new.article_id, {_NEW}); END",
    f"CREATE TRIGGER article_search_delete AFTER DELETE ON article_data_mime BEGIN"
    f" INSERT INTO article_search (article_search, rowid, {_LIST}) VALUES ('delete', old.article_id, {_OLD}); END",
    f"CREATE TRIGGER article_search_update AFTER UPDATE ON article_data_mime BEGIN"
    f" INSERT INTO article_search (article_search, rowid, {_LIST}) VALUES ('delete', old.article_id, {_OLD});"
    f" INSERT INTO article_search (rowid, {_LIST}) VALUES (new.article_id, {_NEW}); END",
]


def apply(conn: ddl.Connection) -> None:
    cursor = conn.cursor()
    if ddl.dialect_of(conn) == "postgresql":
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as error:  # psycopg's: not permitted, or not installed with the server
            raise SettingsError(
                "migration 0008 needs PostgreSQL's extension pg_trgm for TicketSearch's article indexes, which"
                f" this role cannot create ({' '.join(str(error).split())}): run CREATE EXTENSION pg_trgm; in"
                " this database as its owner or a superuser (the extension ships with Debian's postgresql"
                " package), then `gateway db upgrade` again"
            ) from None
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX ix_article_data_mime_{column}_trgm ON article_data_mime"
                f" USING gin (LOWER({column}) gin_trgm_ops)"
            )
    else:
        for statement in SQLITE:
            cursor.execute(statement)


def rollback(conn: ddl.Connection) -> None:
    cursor = conn.cursor()
    if ddl.dialect_of(conn) == "postgresql":
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX ix_article_data_mime_{column}_trgm")
    else:
        for trigger in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER article_search_{trigger}")
        cursor.execute("DROP TABLE article_search")


steps = [step(apply, rollback)]
