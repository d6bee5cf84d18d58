"""A ticket's accounted time (TicketGet's TimeUnit, the TimeAccounting history lines) is the sum of its
time-accounting rows: kept on the ticket (migration 0009), under concurrent updates and after an upgrade."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests
from yoyo import get_backend, read_migrations

from gateway.store import migrate
from gateway.tickets.writes import number_text
from tests.conftest import REST, ROOT

ARTICLE = {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8"}
TICKET = {"Title": "accounted", "Queue": "Raw", "State": "new", "Priority": "3 normal", "CustomerUser": "customer1"}


def create(client, time_unit: str) -> int:
    answer = client.post(
        f"{REST}/Ticket", json={**ROOT, "Ticket": TICKET, "Article": {**ARTICLE, "TimeUnit": time_unit}}
    )
    return int(answer.json["TicketID"])


def time_unit(client, ticket_id: int) -> object:
    return client.get(f"{REST}/Ticket/{ticket_id}", query_string=ROOT).json["Ticket"][0]["TimeUnit"]


def history_names(db, ticket_id: int) -> list[str]:
    with db.transaction(write=False) as tx:
        return [
            row["name"]
            for row in tx.all(
                "SELECT h.name FROM ticket_history h JOIN ticket_history_type t ON t.id = h.history_type_id"
                " WHERE h.ticket_id = ? AND t.name = 'TimeAccounting' ORDER BY h.id",
                [ticket_id],
            )
        ]


def test_the_total_adds_up_over_create_and_updates(client, db):
    ticket_id = create(client, "1.25")
    other = create(client, "7")
    for units in ("0.5", "2", "0.05"):
        answer = client.patch(f"{REST}/Ticket/{ticket_id}", json={**ROOT, "Article": {**ARTICLE, "TimeUnit": units}})
        assert "Error" not in answer.json
    client.patch(f"{REST}/Ticket/{ticket_id}", json={**ROOT, "Article": ARTICLE})  # no time: no change
    assert time_unit(client, ticket_id) == 3.8
    assert time_unit(client, other) == 7
    assert history_names(db, ticket_id) == ["%%1.25%%1.25", "%%0.5%%1.75", "%%2%%3.75", "%%0.05%%3.8"]


def test_concurrent_updates_of_one_ticket_all_count(server):
    """Sixteen clients account time on one ticket at once through gunicorn: none of the additions is lost."""
    base = server.url + REST
    ticket_id = requests.post(f"{base}/Ticket", json={**ROOT, "Ticket": TICKET, "Article": ARTICLE}, timeout=30).json()[
        "TicketID"
    ]

    def update(n: int) -> dict:
        article = {**ARTICLE, "TimeUnit": "0.25"}
        return requests.patch(f"{base}/Ticket/{ticket_id}", json={**ROOT, "Article": article}, timeout=60).json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(update, range(64)))
    assert [answer for answer in answers if "Error" in answer] == []
    ticket = requests.get(f"{base}/Ticket/{ticket_id}", params=ROOT, timeout=30).json()["Ticket"][0]
    assert ticket["TimeUnit"] == 16


def test_the_upgrade_sums_the_rows_of_before(database_url, db, client):
    """A database accounted before migration 0009 answers the same TimeUnit after the upgrade."""
    first, second, untouched = create(client, "1.5"), create(client, "2"), create(client, "0")
    client.patch(f"{REST}/Ticket/{first}", json={**ROOT, "Article": {**ARTICLE, "TimeUnit": "2.25"}})
    backend = get_backend(migrate._yoyo_url(database_url))
    latest = read_migrations(str(migrate.MIGRATIONS_DIR)).filter(lambda m: m.id == "0009_accounted_time")
    with backend.lock():
        backend.rollback_migrations(latest)
    with db.transaction() as tx:
        tx.execute("INSERT INTO time_accounting (ticket_id, time_unit, create_time, create_by) VALUES (?, 4, ?, 1)",
                   [second, "2026-01-01 00:00:00"])  # fmt: skip
    assert migrate.upgrade(database_url) == ["0009_accounted_time"]
    with db.transaction(write=False) as tx:
        totals = {
            row["id"]: Decimal(str(row["accounted_time"])) for row in tx.all("SELECT id, accounted_time FROM ticket")
        }
    assert (totals[first], totals[second], totals[untouched]) == (Decimal("3.75"), Decimal("6"), Decimal("0"))
    assert time_unit(client, first) == 3.75


def test_the_total_is_the_sum_of_the_rows_as_stored(client, db):
    """Time units with more decimals than the rows keep (DECIMAL(10,2)): the total adds what is stored."""
    ticket_id = create(client, "0.01")
    for units in ("-0.005", "0.004", "1.115"):
        client.patch(f"{REST}/Ticket/{ticket_id}", json={**ROOT, "Article": {**ARTICLE, "TimeUnit": units}})
    with db.transaction(write=False) as tx:
        rows = tx.value("SELECT SUM(time_unit) FROM time_accounting WHERE ticket_id = ?", [ticket_id])
        total = tx.value("SELECT accounted_time FROM ticket WHERE id = ?", [ticket_id])
    assert Decimal(str(total)) == Decimal(str(rows))
    assert str(time_unit(client, ticket_id)) == number_text(rows)  # as TicketGet prints a sum (15 digits)
