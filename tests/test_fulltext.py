"""TicketSearch's article criteria through the trigram indexes (migration 0008) answer as the plain scan does."""

from __future__ import annotations

import random
import re

from gateway import demo
from gateway.store.database import Database
from gateway.store.search import TEXT_COLUMNS, TicketQuery, _like, search
from tests.conftest import REST, ROOT

# article texts the demo corpus lacks: LIKE's own characters, a backslash, letters beyond ASCII
SPECIAL = [
    ("100% sure", "snake_case_name and back\\slash"),
    ("Grüße aus Köln", "STRASSE und Straße, ÜBER alles"),
    ("percent%literal", "under_score 50%_off"),
]


def unindexed(db: Database, query: TicketQuery) -> list[int]:
    """The search as it was before the indexes: an EXISTS with the exact LIKE per article, no index used."""
    conditions, params = [], []
    for key, pattern in query.text.items():
        conditions.append(f"LOWER({TEXT_COLUMNS[key]}) LIKE LOWER(?) ESCAPE '\\'")
        params.append("%" + _like(pattern).strip("%") + "%")
    joiner = " OR " if query.text_or else " AND "
    sql = (
        "SELECT t.id FROM ticket t WHERE EXISTS (SELECT 1 FROM article a JOIN article_data_mime m"
        f" ON m.article_id = a.id WHERE a.ticket_id = t.id AND ({joiner.join(conditions)}))"
        " AND t.archive_flag = 0 ORDER BY t.create_time DESC, t.id DESC LIMIT ?"
    )
    with db.transaction() as tx:
        if tx.dialect == "postgresql":
            for setting in ("enable_bitmapscan", "enable_indexscan", "enable_indexonlyscan"):
                tx.execute(f"SET LOCAL {setting} = off")
        return [row["id"] for row in tx.all(sql, [*params, query.limit])]


def sample_queries(db: Database, rng: random.Random) -> list[TicketQuery]:
    """50 queries: words and word pairs of the stored texts (rare and common), wildcards, short and special
    patterns, texts in no article, and criteria combined with AND and OR."""
    with db.transaction(write=False) as tx:
        rows = tx.all("SELECT a_from, a_to, a_cc, a_subject, a_body FROM article_data_mime ORDER BY article_id")
    words: dict[str, list[str]] = {key: [] for key in TEXT_COLUMNS}
    for row in rows:
        for key, column in zip(TEXT_COLUMNS, ("a_from", "a_to", "a_cc", "a_subject", "a_body"), strict=True):
            words[key] += re.findall(r"[\w@.\-]{3,}", row[column] or "")
    queries = []
    for key in TEXT_COLUMNS:
        pool = words[key] or ["nothing"]
        for _ in range(4):
            queries.append(TicketQuery(text={key: rng.choice(pool)}, limit=100_000))
    body = words["Body"]
    for _ in range(5):
        first, second = rng.sample(body, 2)
        queries.append(TicketQuery(text={"Body": f"{first}*{second}"}, limit=100_000))
    for pattern in ("Ha", "e", "regards", "Printer*", "*queue*", "Grüße", "GRÜSSE", "straße", "über", "100%"):
        queries.append(TicketQuery(text={"Body": pattern}, limit=100_000))
    for pattern in ("snake_case", "back\\slash", "under_score", "50%_off", "xyzzy-nowhere"):
        queries.append(TicketQuery(text={"Body": pattern}, limit=100_000))
    for text_or in (False, True):
        for _ in range(3):
            queries.append(
                TicketQuery(
                    text={"Subject": rng.choice(words["Subject"]), "Body": rng.choice(body)},
                    text_or=text_or,
                    limit=100_000,
                )
            )
    queries.append(TicketQuery(text={"From": rng.choice(words["From"]), "To": rng.choice(words["To"])}, limit=50))
    queries.append(TicketQuery(text={"Cc": "nobody-at-all"}, text_or=True, limit=100_000))
    queries.append(TicketQuery(text={"Subject": "*"}, limit=100_000))
    queries.append(TicketQuery(text={"Body": rng.choice(body)}, limit=3))
    return queries


def test_fifty_searches_answer_as_the_unindexed_search(db, client, settings):
    """Demo tickets (bulk-loaded) and tickets created through the API (each article written as a client writes
    it, with the special texts): 50 searches by article text give the tickets, in the order, of the scan."""
    demo.load(db, 400, 2, settings=settings, seed=13)
    for subject, body in SPECIAL:
        ticket = {
            "Title": subject,
            "Queue": "Raw",
            "State": "open",
            "Priority": "3 normal",
            "CustomerUser": "customer1",
        }
        article = {"Subject": subject, "Body": body, "ContentType": "text/plain; charset=utf8"}
        created = client.post(f"{REST}/Ticket", json={**ROOT, "Ticket": ticket, "Article": article}).json
        assert "TicketID" in created, created
    queries = sample_queries(db, random.Random(5))
    assert len(queries) == 50
    found = []
    for query in queries:
        with db.transaction(write=False) as tx:
            indexed = search(tx, query, ("1 = 1", []))
        assert indexed == unindexed(db, query), query.text
        found.append(len(indexed))
    # the sample holds rare and common texts, and texts in no article
    assert sum(1 for n in found if n == 0) >= 3
    assert sum(1 for n in found if 0 < n < 20) >= 10
    assert max(found) >= 400


def test_article_text_search_through_the_api(client):
    """The REST TicketSearch with Body and ContentSearch, as a client sends it, finds a new ticket's article."""
    ticket = {"Title": "fulltext", "Queue": "Raw", "State": "open", "Priority": "3 normal", "CustomerUser": "customer1"}
    article = {
        "Subject": "Kühlschrank",
        "Body": "the compressor_7 hums at 50% load",
        "ContentType": "text/plain; charset=utf8",
    }
    created = client.post(f"{REST}/Ticket", json={**ROOT, "Ticket": ticket, "Article": article}).json
    ticket_id = str(created["TicketID"])
    for criteria in (
        {"Body": "compressor_7"},
        {"Body": "COMPRESSOR*load"},
        {"Subject": "kühl", "Body": "nowhere-else", "ContentSearch": "OR"},
    ):
        answer = client.post(f"{REST}/Ticket/Search", json={**ROOT, **criteria}).json
        assert answer.get("TicketID") == [ticket_id], (criteria, answer)
    answer = client.post(f"{REST}/Ticket/Search", json={**ROOT, "Body": "compressor-7"}).json
    assert "TicketID" not in answer, answer
