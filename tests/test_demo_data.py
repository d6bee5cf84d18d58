"""`gateway demo-data`: bulk demo tickets that the API serves and that TicketCreate never collides with."""

from __future__ import annotations

import collections
import datetime as dt
import os
import subprocess

from gateway import demo
from gateway.store.database import Database, as_datetime, utcnow
from gateway.tickets.numbers import check_digit
from tests.conftest import REST, run_console

DEMO = "t.customer_id LIKE 'demo-%'"
NEW_TICKET = {
    "UserLogin": "root@localhost",
    "Password": "root",
    "Ticket": {"Title": "t", "Queue": "Raw", "State": "open", "Priority": "3 normal", "CustomerUser": "customer1"},
    "Article": {"Subject": "s", "Body": "b", "ContentType": "text/plain; charset=utf8"},
}


def demo_tickets(db: Database) -> list[dict]:
    with db.transaction(write=False) as tx:
        return tx.all(
            "SELECT t.id, t.tn, t.create_time, t.until_time, s.name AS state, q.name AS queue,"
            " (SELECT COUNT(*) FROM article a WHERE a.ticket_id = t.id) AS articles,"
            " (SELECT COUNT(*) FROM article a JOIN article_data_mime m ON m.article_id = a.id"
            "  WHERE a.ticket_id = t.id) AS mime,"
            " (SELECT COUNT(*) FROM ticket_history h JOIN ticket_history_type ht ON ht.id = h.history_type_id"
            "  WHERE h.ticket_id = t.id AND ht.name = 'NewTicket') AS new_ticket_history"
            f" FROM ticket t JOIN ticket_state s ON s.id = t.ticket_state_id JOIN queue q ON q.id = t.queue_id"
            f" WHERE {DEMO} ORDER BY t.id"
        )


def counters(db: Database) -> dict[str, int]:
    with db.transaction(write=False) as tx:
        return {
            row["counter_date"]: row["counter"]
            for row in tx.all("SELECT counter_date, counter FROM ticket_number_counter")
        }


def assert_date_checksum(number: str, created: object, system_id: str) -> None:
    assert number[:8] == as_datetime(created).strftime("%Y%m%d")
    assert number[8 : 8 + len(system_id)] == system_id
    assert number[-1] == str(check_digit(number[:-1]))


def test_demo_tickets_are_served_and_ticket_create_continues_their_numbering(db, client, settings):
    """All created today: the block taken from today's counter is what TicketCreate must continue after."""
    now = utcnow()
    summary = demo.load(
        db, 50, 3, settings=settings, now=now, span=now - now.replace(hour=0, minute=0, second=0), seed=1
    )
    assert (summary.tickets, summary.articles, summary.customer_users) == (50, 150, 20)

    rows = demo_tickets(db)
    assert len(rows) == 50
    assert all(row["articles"] == row["mime"] == 3 and row["new_ticket_history"] == 1 for row in rows)
    numbers = [row["tn"] for row in rows]
    for row in rows:
        assert_date_checksum(row["tn"], row["create_time"], settings.system_id)
    today = now.strftime("%Y%m%d")
    assert sorted(int(number[10:-1]) for number in numbers) == list(range(1, 51))
    assert counters(db)[today] == 50

    sample = rows[len(rows) // 2]
    response = client.get(f"{REST}/Ticket/{sample['id']}?UserLogin=root@localhost&Password=root&AllArticles=1")
    assert response.status_code == 200, response.text
    ticket = response.json["Ticket"][0]
    assert ticket["TicketNumber"] == sample["tn"] and ticket["Title"]
    assert ticket["State"] == sample["state"] and ticket["Queue"] == sample["queue"]
    assert ticket["CustomerUserID"].endswith(".example") and ticket["CustomerID"].startswith("demo-")
    assert [a["ArticleNumber"] for a in ticket["Article"]] == [1, 2, 3]
    assert [a["SenderType"] for a in ticket["Article"]] == ["customer", "agent", "customer"]
    assert all(a["Subject"] and a["Body"] for a in ticket["Article"])

    response = client.post(f"{REST}/Ticket", json=NEW_TICKET)
    assert response.status_code == 200 and "Error" not in response.json, response.text
    number = response.json["TicketNumber"]
    assert number not in numbers
    assert number[-1] == str(check_digit(number[:-1]))


def test_demo_tickets_look_like_a_helpdesk_year_and_repeated_loads_never_collide(db, settings):
    first = demo.load(db, 200, settings=settings, seed=2)
    second = demo.load(db, 100, 1, settings=settings, seed=3)
    assert (first.articles, second.articles, second.customer_users) == (400, 100, 20)

    rows = demo_tickets(db)
    assert len(rows) == 300 and sum(row["articles"] for row in rows) == 500
    assert len({row["tn"] for row in rows}) == 300
    assert {row["queue"] for row in rows} == set(demo.QUEUES)
    assert {row["state"] for row in rows} == set(demo.STATES)
    assert all((row["until_time"] > 0) == (row["state"] == "pending reminder") for row in rows)
    oldest = min(as_datetime(row["create_time"]) for row in rows)
    assert utcnow() - oldest > dt.timedelta(days=200)
    for row in rows:
        assert_date_checksum(row["tn"], row["create_time"], settings.system_id)
    # every day's counter stands at that day's highest number: later numbers start above it
    highest = collections.Counter()
    for row in rows:
        day, counter = row["tn"][:8], int(row["tn"][10:-1])
        highest[day] = max(highest[day], counter)
    stored = counters(db)
    assert all(stored[day] == counter for day, counter in highest.items())
    with db.transaction(write=False) as tx:
        accounted = tx.all(
            f"SELECT s.name FROM time_accounting ta JOIN article a ON a.id = ta.article_id"
            f" JOIN article_sender_type s ON s.id = a.article_sender_type_id"
            f" JOIN ticket t ON t.id = ta.ticket_id WHERE {DEMO}"
        )
    assert accounted and {row["name"] for row in accounted} == {"agent"}
    assert first.time_accounted + second.time_accounted == len(accounted)


def test_the_console_command(database_url, db):
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}

    def gateway(*args: str) -> subprocess.CompletedProcess:
        return run_console("demo-data", *args, env=env)

    done = gateway("--tickets", "7", "--articles-per-ticket", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added 7 demo tickets with 7 articles (") and done.stdout.count("\n") == 1
    rows = demo_tickets(db)
    assert len(rows) == 7 and all(row["articles"] == 1 for row in rows)

    refused = gateway("--tickets", "0")
    assert refused.returncode == 2 and "--tickets" in refused.stderr
    refused = gateway("--tickets", "1", "--articles-per-ticket", "51")
    assert refused.returncode == 1
    assert refused.stderr == "Error: the number of articles per ticket must be between 1 and 50\n"
    assert len(demo_tickets(db)) == 7
