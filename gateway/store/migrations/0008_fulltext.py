"""Indexes for TicketSearch's article criteria (From, To, Cc, Subject, Body).

Znuny matches them as a case-insensitive substring with `*` wildcards (LIKE '%...%'), which no
B-tree serves: every such search read every article. Each backend gets an index of trigrams,
which serves exactly that match:

- PostgreSQL: pg_trgm (a trusted extension: the database's owner may create it) and a GIN index
  on LOWER() of each column, the form gateway.store.search compares;
- SQLite: an FTS5 table with the trigram tokenizer over the same columns, kept by triggers, which
  gateway.store.search asks for candidate articles before it applies the exact match.
"""

from yoyo import step

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
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX ix_article_data_mime_{column}_trgm ON article_data_mime"
                f" USING gin (LOWER({column}) gin_trgm_ops)"
            )
    else:
        for statement in SQLITE:
            cursor.execute(statement)


steps = [step(apply)]
