"""4 processes × 200 concurrent TicketCreate against gateway under gunicorn, on PostgreSQL and on SQLite:
every request answered, every ticket number unique, nothing lost.

The clients are separate processes (spawned, not forked from pytest's threads), each with a few
threads, so requests really overlap in gunicorn's workers and on the ticket-number counter.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from gateway.store.database import Database
from gateway.tickets.numbers import check_digit
from tests.conftest import REST

pytestmark = pytest.mark.slow

PROCESSES = 4
REQUESTS_PER_PROCESS = 200
THREADS_PER_PROCESS = 4
TITLE = "concurrency"

Result = tuple[str, int, str, str, str]  # title, HTTP status (0: no answer), TicketID, TicketNumber, error


def create_tickets(url: str, client: int, start: Any, results: Any) -> None:
    """One client process: REQUESTS_PER_PROCESS TicketCreate over THREADS_PER_PROCESS keep-alive sessions."""
    local = threading.local()

    def create(n: int) -> Result:
        title = f"{TITLE} {client}-{n}"
        if not hasattr(local, "session"):
            local.session = requests.Session()
        body = {
            "UserLogin": "root@localhost",
            "Password": "root",
            "Ticket": {
                "Title": title,
                "Queue": "Raw",
                "State": "open",
                "Priority": "3 normal",
                "CustomerUser": "customer1",
            },
            "Article": {"Subject": title, "Body": "b", "ContentType": "text/plain; charset=utf8"},
        }
        try:
            response = local.session.post(f"{url}{REST}/Ticket", json=body, timeout=(5, 30))
            data = response.json()
        except (requests.RequestException, ValueError) as error:
            return title, 0, "", "", repr(error)
        return (
            title,
            response.status_code,
            str(data.get("TicketID", "")),
            data.get("TicketNumber", ""),
            str(data.get("Error", "")),
        )

    start.wait(timeout=60)
    with ThreadPoolExecutor(THREADS_PER_PROCESS) as pool:
        results.put(list(pool.map(create, range(REQUESTS_PER_PROCESS))))


def test_concurrent_ticket_create_from_four_processes(server):
    database = Database(server.database_url)
    with database.transaction(write=False) as tx:
        last_id = tx.value("SELECT MAX(id) FROM ticket")
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(PROCESSES), context.Queue()
    clients = [
        context.Process(target=create_tickets, args=(server.url, i, start, results), daemon=True)
        for i in range(PROCESSES)
    ]
    started = time.monotonic()
    for process in clients:
        process.start()
    answers: list[Result] = []
    try:
        for _ in clients:
            answers += results.get(timeout=120)
    except queue.Empty:
        raise AssertionError(
            f"clients did not finish: {len(answers)} answers in {time.monotonic() - started:.0f} s"
        ) from None
    finally:
        for process in clients:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()

    total = PROCESSES * REQUESTS_PER_PROCESS
    failed = [answer for answer in answers if answer[1] != 200 or answer[4] or not answer[3]]
    assert not failed, f"{len(failed)} of {total} failed, e.g. {failed[:3]}"
    assert len(answers) == total
    by_title = {title: (int(ticket_id), number) for title, _, ticket_id, number, _ in answers}
    assert len(by_title) == total
    assert len({ticket_id for ticket_id, _ in by_title.values()}) == total
    assert len({number for _, number in by_title.values()}) == total
    assert all(number[-1] == str(check_digit(number[:-1])) for _, number in by_title.values())

    with database.transaction(write=False) as tx:
        stored = tx.all(
            "SELECT t.id, t.tn, t.title, (SELECT COUNT(*) FROM article a WHERE a.ticket_id = t.id)"
            " AS articles FROM ticket t WHERE t.id > ?",
            [last_id],
        )
    database.close()
    assert {row["title"]: (row["id"], row["tn"]) for row in stored} == by_title
    assert len(stored) == total and all(row["articles"] == 1 for row in stored)
