"""`make bench`: gateway's throughput next to a bare WSGI app served with the same gunicorn settings.

Absolute req/s depend on the machine; the ratio to the bare app, measured in the same run, is the
number to compare between machines and commits. Each case must answer correctly once before it is
measured, and wrk counts wrong answers under load, so a broken case cannot pass for a fast one.
Each gateway backend holds GATEWAY_BENCH_TICKETS demo tickets (default 100 000) before it is
measured, so that TicketGet and TicketSearch run against tables of a realistic size; root then has
100 000 time-accounting rows within a year for TimeAccountingGet, and 1 000 bench agents are added
for an OutOfOffice CSV of 1 000 rows.
wrk keeps its connections alive, as zeep, pyotrs, SOAP::Lite and .NET clients do; one case opens a new
connection per request instead, and the everyday cases run again on one connection, whose p99 next
to its p50 shows the latency a single client sees. Each gateway case also says what it costs the
database per request (tests/bench/statements.py). A full-text section times 50 TicketSearch Body
searches, one after the other, on the demo tickets.
The ArticleSend cases (plain, PGP- and S/MIME-signed, with key stores made fresh by tests/keys.py)
fill the outbox; then `gateway mail-worker --once` drains it into an SMTP server on loopback, once
alone and once as two workers in parallel, and the mails it delivers per second are reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

import psycopg
from aiosmtpd.controller import Controller

from gateway import gunicorn_config
from gateway.cli.installation import GUNICORN_CONFIG
from gateway.settings import load
from gateway.store.database import Database, Transaction, utcnow

# `python tests/bench/run.py` puts tests/bench first on sys.path, not the project, which tests.keys is in
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.statements import StatementCounter, Tally
from tests.keys import (
    KeyMaterial,
    generate,
    make_stores,
    remove_material,
    remove_stores,
    short_tempdir,
    store_env,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
GATEWAY = str(Path(sys.executable).with_name("gateway"))
BARE_SERVER = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG, "--pythonpath", str(BENCH_DIR), "bare:app"]
POSTGRES_URL = os.environ.get("GATEWAY_BENCH_POSTGRES_URL", "postgresql:///postgres")
THREADS, CONNECTIONS, WARMUP_SECONDS, SECONDS = 2, 4, 1, 5
LONG_SECONDS = 15  # TimeAccountingGet takes seconds per answer
DEFAULT_TICKETS, MAX_TICKETS = 100_000, 1_000_000

REST = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"
SOAP = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"
SOAP_NS = "http://www.otrs.org/TicketConnector/"
TIME_ACCOUNTING = "/otrs/nph-genericinterface.pl/Webservice/TimeAccountingREST/TimeAccountingGet"
OUT_OF_OFFICE = "/otrs/nph-genericinterface.pl/Webservice/OutOfOffice/OutOfOffice"
TIME_ACCOUNTING_ROWS, OUT_OF_OFFICE_AGENTS = 100_000, 1_000
JSON_HEADERS = {"Content-Type": "application/json"}
TICKET = {
    "Title": "bench ticket",
    "Queue": "Raw",
    "State": "open",
    "Priority": "3 normal",
    "CustomerUser": "customer@example.com",
}
ARTICLE = {"Subject": "bench", "Body": "created by make bench", "ContentType": "text/plain; charset=utf8"}
SEND = {**ARTICLE, "ArticleSend": 1, "To": "customer@example.com"}
# what the outbox must hold for the first answer's article: signed as asked, or not signed at all
PGP_SIGNED, SMIME_SIGNED = b'protocol="application/pgp-signature"', b'protocol="application/pkcs7-signature"'
MAIL_WORKER_TIMEOUT = 900  # seconds for one drain of the outbox
WORKER_SUMMARY = re.compile(r"^sent (\d+), failed (\d+), deferred (\d+)$", re.MULTILINE)
# an agent's everyday search: about 0.08 % of the demo tickets match (Raw is 40 % of them, open about 9 %,
# and 3 of gateway/store/demo.py's 17 TITLES start with one of 8 DEVICES, Printer among them), so 100 000
# tickets give about 80 and the limit applies; the ticket that TicketCreate adds does not match
SEARCH = {"Queues": ["Raw"], "States": ["open"], "Title": "Printer*", "Limit": 50}
SEARCH_HINT = "(the search matches about 0.08 % of the demo tickets: is GATEWAY_BENCH_TICKETS too low?)"
# Znuny 7.1.7 on a 2-core machine like the ones `make bench` runs on, and what gateway must reach
REFERENCE = "Znuny 7.1.7 side by side on this machine: `make bench-znuny` (tests/bench/znuny.py)"
TARGETS = {("REST TicketCreate", "postgresql"): 300, ("REST TicketGet", "postgresql"): 800}
# the everyday cases, run again on one connection
ONE_CONNECTION = ("REST SessionCreate", "REST TicketCreate", "REST TicketGet", "SOAP TicketGet", "REST TicketSearch")
FULLTEXT_QUERIES, FULLTEXT_SEED = 50, 7

# wrk counts, per thread, answers that are not 200 with the marker in the body, or that carry a Znuny error,
# and keeps the first of them as a sample; done() adds them up and prints one sample
WRK_SCRIPT = string.Template("""\
wrk.method = $method
wrk.body = $body
$headers
bad = 0
sample = nil
local marker = $marker
local wrong = $wrong
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  body = body or ""
  if status ~= 200 or not body:find(marker, 1, true) or body:find("ErrorCode", 1, true)
      or (wrong ~= "" and body:find(wrong, 1, true)) then
    bad = bad + 1
    sample = sample or (status .. " " .. body:sub(1, 300):gsub("%s+", " "))
  end
end

function done(summary, latency, requests)
  local total, first = 0, nil
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    first = first or thread:get("sample")
  end
  if first then
    io.write("BENCH_SAMPLE " .. first .. "\\n")
  end
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "bad": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration, total,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
""")


class BenchError(Exception):
    """A server that does not start or a case that answers wrongly: the run must not report it as measured."""


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    path: str
    marker: str  # a correct answer is 200 with this in its body
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    hint: str = ""  # added to the message when the case answers wrongly
    wrong: str = ""  # an answer with this in its body is wrong too
    rows: tuple[str, int] | None = None  # the first answer must hold this key this many times
    connections: int = CONNECTIONS  # fewer for answers so large that 4 connections would only queue
    warmup_seconds: int = WARMUP_SECONDS
    seconds: int = SECONDS  # more for answers that take seconds, so that several complete
    check: Callable[[str], None] | None = None  # checks the first answer further; raises BenchError


@dataclasses.dataclass(frozen=True)
class MailResult:
    backend: str
    workers: int
    mails: int  # received by the SMTP server, and what the workers reported as sent
    seconds: float  # wall time from starting the workers until the last one exited

    @property
    def rate(self) -> float:
        return self.mails / self.seconds


@dataclasses.dataclass(frozen=True)
class Result:
    case: str
    backend: str
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int
    socket_errors: int
    bad_sample: str  # the first wrong answer under load, "" if none
    connections: int
    tally: Tally | None = None  # statements and round trips of one request


@dataclasses.dataclass(frozen=True)
class FulltextResult:
    backend: str
    latencies_ms: list[float]
    hits: list[int]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def soap_elements(children: dict[str, Any]) -> str:
    """The operation's children in its namespace: a list repeats its element (Queues), a dict nests (Ticket)."""
    elements = []
    for name, value in children.items():
        for item in value if isinstance(value, list) else [value]:
            inner = soap_elements(item) if isinstance(item, dict) else escape(str(item))
            elements.append(f"<tic:{name}>{inner}</tic:{name}>")
    return "".join(elements)


def soap_case(name: str, operation: str, children: dict[str, Any], marker: str, hint: str = "") -> Case:
    """A SOAP 1.1 request as Znuny's own clients send it: document/literal, SOAPAction namespace + operation."""
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soapenv:Body><tic:{operation} xmlns:tic="{SOAP_NS}">{soap_elements(children)}'
        f"</tic:{operation}></soapenv:Body></soapenv:Envelope>"
    )
    return Case(
        name,
        SOAP,
        marker,
        "POST",
        envelope,
        {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": f'"{SOAP_NS}{operation}"'},
        hint,
    )


BARE = Case("bare WSGI app", "/", '"Status"')
REST_CREATE = Case(
    "REST SessionCreate",
    f"{REST}/Session",
    '"SessionID"',
    "POST",
    json.dumps({"UserLogin": "root@localhost", "Password": "root"}),
    JSON_HEADERS,
)
SOAP_CREATE = soap_case(
    "SOAP SessionCreate", "SessionCreate", {"UserLogin": "root@localhost", "Password": "root"}, "SessionID>"
)


def lua_string(text: str) -> str:
    """Quote anything for Lua 5.1 (wrk's LuaJIT), which lacks JSON's \\u escapes."""
    return '"' + "".join(chr(b) if chr(b).isalnum() else f"\\{b:03d}" for b in text.encode()) + '"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, case: Case) -> tuple[int, str]:
    request = urllib.request.Request(
        url + case.path, data=case.body.encode() or None, headers=case.headers, method=case.method
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def verify(url: str, case: Case) -> str:
    """One correct answer before measuring (Znuny answers errors with 200 too, hence "Error"); returns its body."""
    status, body = fetch(url, case)
    if status != 200 or case.marker not in body or "Error" in body or (case.wrong and case.wrong in body):
        raise BenchError(
            f"{case.name}: expected 200 with {case.marker} and no Error"
            + (f" or {case.wrong}" if case.wrong else "")
            + f", got {status}: {body[:300]}"
            + (f" {case.hint}" if case.hint else "")
        )
    if case.rows and body.count(case.rows[0]) != case.rows[1]:
        raise BenchError(f"{case.name}: expected {case.rows[1]} times {case.rows[0]}, got {body.count(case.rows[0])}")
    if case.check:
        case.check(body)
    return body


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (gunicorn stops gracefully), then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def serve(command: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """Run a server in its own process group until /health answers; yield its URL; always stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{log.stem} did not start; its log:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if fetch(url, Case("health", "/health", ""))[0] == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        stop(proc)


def check_output(command: list[str], env: dict[str, str] | None = None, timeout: int = 120) -> str:
    """Run a command; a failure becomes a BenchError that carries its output."""
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise BenchError(f"{' '.join(command[:3])} exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-2000:]}")
    return proc.stdout


def wrk(url: str, case: Case, script: Path, seconds: int) -> tuple[dict[str, int], str]:
    """wrk's summary and its first wrong answer ("" if none)."""
    threads = min(THREADS, case.connections)
    out = check_output(
        [
            "wrk",
            f"-t{threads}",
            f"-c{case.connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url + case.path,
        ]
    )
    lines = out.splitlines()
    sample = next((line.removeprefix("BENCH_SAMPLE ") for line in lines if line.startswith("BENCH_SAMPLE ")), "")
    for line in lines:
        if line.startswith("BENCH "):
            return json.loads(line.removeprefix("BENCH ")), sample
    raise BenchError(f"wrk printed no summary:\n{out}")


def measure(url: str, case: Case, backend: str, workdir: Path) -> Result:
    verify(url, case)
    print(f"  {case.name} on {backend} ...", flush=True)
    script = workdir / "case.lua"
    headers = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in case.headers.items())
    script.write_text(
        WRK_SCRIPT.substitute(
            method=lua_string(case.method),
            body=lua_string(case.body),
            headers=headers,
            marker=lua_string(case.marker),
            wrong=lua_string(case.wrong),
        )
    )
    if case.warmup_seconds:
        wrk(url, case, script, case.warmup_seconds)
    stats, sample = wrk(url, case, script, case.seconds)
    return Result(
        case.name,
        backend,
        stats["requests"] / (stats["duration_us"] / 1e6),
        stats["p50_us"] / 1000,
        stats["p99_us"] / 1000,
        stats["bad"],
        stats["socket_errors"],
        sample,
        case.connections,
    )


@contextlib.contextmanager
def transaction(database_url: str, write: bool = True) -> Iterator[Transaction]:
    """One transaction on a connection of its own, for the bench's checks next to a running server."""
    db = Database(database_url, 1)
    try:
        with db.transaction(write=write) as tx:
            yield tx
    finally:
        db.close()


def add_bench_rows(database_url: str) -> tuple[dt.datetime, dt.datetime]:
    """Top root's time accounting up to TIME_ACCOUNTING_ROWS within the year before now (0.25 on demo tickets
    at their creation, in one INSERT ... SELECT) and add OUT_OF_OFFICE_AGENTS agents; returns the year's range."""
    end = utcnow()
    start = end - dt.timedelta(days=365)
    db = Database(database_url)
    try:
        with db.transaction() as tx:
            root = tx.value("SELECT id FROM users WHERE login = 'root@localhost'")
            have = tx.value(
                "SELECT COUNT(*) FROM time_accounting WHERE create_by = ? AND create_time BETWEEN ? AND ?",
                [root, start, end],
            )
            tickets = tx.value("SELECT COUNT(*) FROM ticket WHERE create_time BETWEEN ? AND ?", [start, end])
            missing = TIME_ACCOUNTING_ROWS - have
            if missing > 0:
                tx.execute(
                    "WITH RECURSIVE copies(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM copies WHERE n < ?)"
                    " INSERT INTO time_accounting (ticket_id, article_id, time_unit, create_time, create_by)"
                    " SELECT t.id, NULL, 0.25, t.create_time, ? FROM ticket t CROSS JOIN copies"
                    " WHERE t.create_time BETWEEN ? AND ? ORDER BY copies.n, t.id LIMIT ?",
                    [-(-missing // tickets), root, start, end, missing],
                )
                tx.execute(  # the totals TicketGet answers (migration 0009)
                    "UPDATE ticket SET accounted_time = (SELECT COALESCE(SUM(ta.time_unit), 0) FROM time_accounting ta"
                    " WHERE ta.ticket_id = ticket.id) WHERE create_time BETWEEN ? AND ?",
                    [start, end],
                )
            tx.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                " INSERT INTO users (login, pw, first_name, last_name, email, valid_id, create_time, change_time)"
                " SELECT 'bench-agent-' || i, '!', 'Bench', 'Agent ' || i, 'bench-agent-' || i || '@example.com',"
                " 1, ?, ? FROM n",
                [OUT_OF_OFFICE_AGENTS, end, end],
            )
        with db.transaction() as tx:
            tx.execute("ANALYZE")
    finally:
        db.close()
    return start, end


def outbox_check(database_url: str, name: str, signature: bytes) -> Callable[[str], None]:
    """The answer's article must have its message in the outbox, signed if signature (the protocol of its
    multipart/signed) is given and unsigned if not: a Sign that went ignored would measure the plain case."""

    def check(body: str) -> None:
        article_id = json.loads(body)["ArticleID"]
        with transaction(database_url, write=False) as tx:
            raw = tx.value("SELECT raw_message FROM mail_queue WHERE article_id = ?", [article_id])
        if raw is None:
            raise BenchError(f"{name}: article {article_id} has no message in the outbox")
        if (signature not in bytes(raw)) if signature else (b"multipart/signed" in bytes(raw)):
            raise BenchError(
                f"{name}: the outbox message of article {article_id} is not "
                + (f"multipart/signed with {signature.decode()}" if signature else "unsigned")
                + f": {bytes(raw)[:300]!r}"
            )

    return check


def article_send_cases(session_id: str, keys: KeyMaterial, database_url: str) -> list[Case]:
    """TicketCreate with ArticleSend: the article is also composed as an e-mail, signed if asked, and stored
    in the outbox in the same transaction; these cases fill the outbox the mail worker is timed on."""
    signs = [
        ("REST ArticleSend", {}, b""),
        (
            "REST ArticleSend PGP",
            {"Sign": {"Type": "PGP", "SubType": "Detached", "Key": keys.pgp_signer.keyid}},
            PGP_SIGNED,
        ),
        (
            "REST ArticleSend S/MIME",
            {"Sign": {"Type": "SMIME", "SubType": "Detached", "Key": keys.smime_signer.hash}},
            SMIME_SIGNED,
        ),
    ]
    return [
        Case(
            name,
            f"{REST}/Ticket",
            '"TicketNumber"',
            "POST",
            json.dumps({"SessionID": session_id, "Ticket": TICKET, "Article": {**SEND, **sign}}),
            JSON_HEADERS,
            check=outbox_check(database_url, name, signature),
        )
        for name, sign, signature in signs
    ]


def session_cases(
    url: str, tickets: int, accounting: tuple[dt.datetime, dt.datetime], keys: KeyMaterial, database_url: str
) -> list[Case]:
    """SessionGet needs a live session to get; the ticket cases use it too, to measure the operation and not
    the password check (Argon2 is slow on purpose)."""
    try:
        session_id = json.loads(verify(url, REST_CREATE))["SessionID"]
    except BenchError as error:
        raise BenchError(f"SessionGet and Ticket cases: no session: {error}") from None
    create = {"SessionID": session_id, "Ticket": TICKET, "Article": ARTICLE}
    ticket_id = tickets // 2 + 1  # a demo ticket, with 2 articles
    search = {"SessionID": session_id, **SEARCH}
    start, end = (moment.strftime("%Y-%m-%d %H:%M:%S") for moment in accounting)
    time_accounting = {
        "SessionID": session_id,
        "TimeAccountingUserLogin": "root@localhost",
        "TimeAccountingStart": start,
        "TimeAccountingEnd": end,
    }
    return [
        Case("REST SessionGet", f"{REST}/Session/{session_id}", '"SessionData"'),
        Case("REST TicketCreate", f"{REST}/Ticket", '"TicketNumber"', "POST", json.dumps(create), JSON_HEADERS),
        soap_case("SOAP TicketCreate", "TicketCreate", create, "TicketNumber>"),
        *article_send_cases(session_id, keys, database_url),
        Case(
            "REST TicketGet",
            f"{REST}/Ticket/{ticket_id}?{urlencode({'SessionID': session_id, 'AllArticles': 1})}",
            '"ArticleID"',
        ),
        soap_case(
            "SOAP TicketGet",
            "TicketGet",
            {"SessionID": session_id, "TicketID": ticket_id, "AllArticles": 1},
            "ArticleID>",
        ),
        Case(
            "REST TicketSearch",
            f"{REST}/Ticket/Search",
            '"TicketID"',
            "POST",
            json.dumps(search),
            JSON_HEADERS,
            SEARCH_HINT,
        ),
        soap_case("SOAP TicketSearch", "TicketSearch", search, "TicketID>", SEARCH_HINT),
        Case(
            "REST TimeAccountingGet",
            TIME_ACCOUNTING,
            '"TimeAccountingResult"',
            "POST",
            json.dumps(time_accounting),
            JSON_HEADERS,
            rows=('"TimeUnit"', TIME_ACCOUNTING_ROWS),
            connections=1,
            warmup_seconds=0,
            seconds=LONG_SECONDS,
        ),
    ]


def out_of_office_case() -> Case:
    """One CSV row for each bench agent, all of which must apply (no Skipped)."""
    today = dt.date.today()
    rows = "".join(
        f"bench-agent-{i},1,{today},{today + dt.timedelta(days=14)}\n" for i in range(1, OUT_OF_OFFICE_AGENTS + 1)
    )
    body = {
        "UserLogin": "root@localhost",
        "Password": "root",
        "OutOfOfficeEntriesCSVString": "UserLogin,OutOfOffice,StartDate,EndDate\n" + rows,
    }
    return Case(
        f"REST OutOfOffice {OUT_OF_OFFICE_AGENTS}",
        OUT_OF_OFFICE,
        '"Success"',
        "POST",
        json.dumps(body),
        JSON_HEADERS,
        wrong="Skipped",
    )


class Counter:
    """An SMTP handler that accepts every message and only counts it: the worker is measured, not the server."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received += 1
        return "250 2.0.0 Ok: queued"


def drain(backend: str, env: dict[str, str], counter: Counter, workers: int, queued: int) -> MailResult:
    """Time `workers` parallel `gateway mail-worker --once` until the last one exits; their summaries must
    add up to what the SMTP server received, and that to what was queued, none failed or deferred."""
    counter.received = 0
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [GATEWAY, "mail-worker", "--once"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(workers)
    ]
    try:
        outputs = [proc.communicate(timeout=MAIL_WORKER_TIMEOUT) for proc in procs]
    except subprocess.TimeoutExpired:
        raise BenchError(f"mail-worker --once did not finish within {MAIL_WORKER_TIMEOUT} s") from None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    seconds = time.monotonic() - started
    sent = 0
    for proc, (out, err) in zip(procs, outputs, strict=True):
        summary = WORKER_SUMMARY.search(out)
        if proc.returncode or not summary:
            raise BenchError(f"mail-worker --once exited {proc.returncode} without a summary:\n{(err or out)[-2000:]}")
        if summary[2] != "0" or summary[3] != "0":
            raise BenchError(f"mail-worker --once: {summary[0]} (none may fail or be deferred):\n{err[-2000:]}")
        sent += int(summary[1])
    if not sent == counter.received == queued:
        raise BenchError(
            f"{workers} mail-worker --once: sent {sent} by their summaries, the SMTP server received"
            f" {counter.received}, {queued} were queued"
        )
    return MailResult(backend, workers, sent, seconds)


def bench_mail_worker(backend: str, env: dict[str, str]) -> list[MailResult]:
    """Drain what the ArticleSend cases queued into aiosmtpd on loopback (in this process): one worker, then
    the same messages made due again for two workers in parallel."""
    database_url = env["GATEWAY_DATABASE_URL"]
    with transaction(database_url, write=False) as tx:
        queued = tx.value("SELECT COUNT(*) FROM mail_queue WHERE state = 'queued'")
    if not queued:
        raise BenchError("mail-worker: the outbox is empty (did the ArticleSend cases run?)")
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=free_port())
    controller.start()
    # plain SMTP without login, whatever the environment configures for real use
    env = {
        **env,
        "GATEWAY_SMTP_HOST": "127.0.0.1",
        "GATEWAY_SMTP_PORT": str(controller.port),
        "GATEWAY_SMTP_SECURITY": "none",
        "GATEWAY_SMTP_USER": "",
    }
    results: list[MailResult] = []
    try:
        for workers in (1, 2):
            if results:
                with transaction(database_url) as tx:
                    tx.execute(
                        "UPDATE mail_queue SET state = 'queued', attempts = 0, due_time = create_time,"
                        " sent_time = NULL WHERE state = 'sent'"
                    )
            print(f"  mail-worker --once x{workers} on {backend}: {queued} mails ...", flush=True)
            results.append(drain(backend, env, counter, workers, queued))
    finally:
        controller.stop()
    return results


def fulltext_queries(database_url: str) -> list[str]:
    """FULLTEXT_QUERIES Body texts: words and word pairs of random demo articles (rare and common ones alike),
    and a few in no article."""
    rng = random.Random(FULLTEXT_SEED)
    with transaction(database_url, write=False) as tx:
        top = tx.value("SELECT MAX(article_id) FROM article_data_mime")
        bodies = [
            tx.value("SELECT a_body FROM article_data_mime WHERE article_id >= ? ORDER BY article_id LIMIT 1", [pick])
            for pick in (rng.randint(1, top) for _ in range(FULLTEXT_QUERIES))
        ]
    queries = []
    for n, body in enumerate(bodies):
        words = re.findall(r"[A-Za-z]{4,}", body or "") or ["nothing"]
        if n % 10 == 9:
            queries.append(f"{rng.choice(words)}-absent-{n}")
        elif n % 5 == 4 and len(words) > 1:
            first = rng.randrange(len(words) - 1)
            queries.append(f"{words[first]}*{words[first + 1]}")
        else:
            queries.append(rng.choice(words))
    return queries


def bench_fulltext(url: str, backend: str, get: Case, database_url: str) -> FulltextResult:
    """The Body searches one after the other, twice (the first pass warms the caches); the second is timed."""
    session_id = parse_qs(urlsplit(get.path).query)["SessionID"][0]
    queries = fulltext_queries(database_url)
    print(f"  full-text search on {backend}: {len(queries)} Body searches ...", flush=True)
    latencies, hits = [], []
    for timed in (False, True):
        for text in queries:
            case = Case("TicketSearch Body", f"{REST}/Ticket/Search", "", "POST", json.dumps({"SessionID": session_id,
                        "Body": text}), JSON_HEADERS)  # fmt: skip
            started = time.perf_counter()
            status, body = fetch(url, case)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200 or "Error" in body:
                raise BenchError(f"full-text search for {text!r}: {status} {body[:300]}")
            if timed:
                latencies.append(elapsed)
                hits.append(len(json.loads(body).get("TicketID", [])))
    return FulltextResult(backend, latencies, hits)


def bench_gateway(
    backend: str,
    database_url: str,
    tickets: int,
    keys: KeyMaterial,
    workdir: Path,
    failures: list[str],
    fulltext: list[FulltextResult],
) -> tuple[list[Result], list[MailResult]]:
    """Set up a fresh database as `make run` does, add the demo tickets, serve it with `gateway serve` and key
    stores of its own, measure each case; then time the mail worker on the outbox the cases filled."""
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
    check_output([GATEWAY, "setup"], env)
    check_output([GATEWAY, "user", "set-password", "--user-name", "root@localhost", "--password", "root"], env)
    print(
        f"  {backend}: {check_output([GATEWAY, 'demo-data', '--tickets', str(tickets)], env, 900).strip()}", flush=True
    )
    check_output(
        [
            GATEWAY,
            "group",
            "user-link",
            "--user-name",
            "root@localhost",
            "--group-name",
            "timeaccounting_webservice",
            "--permission-key",
            "rw",
        ],
        env,
    )
    accounting = add_bench_rows(database_url)
    results: list[Result] = []
    stores = make_stores(keys, short_tempdir("gwb"))
    served_env = {**env, **store_env(stores)}
    counter = StatementCounter(load(served_env))
    try:
        with serve([GATEWAY, "serve"], served_env, workdir / f"gateway-{backend}.log") as url:
            cases = [REST_CREATE, SOAP_CREATE]
            try:
                cases += session_cases(url, tickets, accounting, keys, database_url)
            except BenchError as error:
                failures.append(f"{backend}: {error}")
            cases.append(out_of_office_case())
            get = next((case for case in cases if case.name == "REST TicketGet"), None)
            if get is not None:  # what a client that does not keep its connection alive pays
                no_keep_alive = {**get.headers, "Connection": "close"}
                cases.append(dataclasses.replace(get, name="REST TicketGet, no keep-alive", headers=no_keep_alive))
            cases += [dataclasses.replace(case, connections=1) for case in cases if case.name in ONE_CONNECTION]
            for case in cases:
                try:
                    result = measure(url, case, backend, workdir)
                except BenchError as error:
                    failures.append(f"{backend}: {error}")
                    continue
                if case.connections == CONNECTIONS and "keep-alive" not in case.name:
                    result = dataclasses.replace(
                        result, tally=counter.count(case.path, case.method, case.body, case.headers)
                    )
                results.append(result)
            if get is not None:
                fulltext.append(bench_fulltext(url, backend, get, database_url))
    finally:
        counter.close()
        remove_stores(stores)
    try:
        return results, bench_mail_worker(backend, env)
    except BenchError as error:
        failures.append(f"{backend}: {error}")
        return results, []


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway database next to GATEWAY_BENCH_POSTGRES_URL's, dropped even if servers still hold it."""
    name = f"gw_bench_{os.getpid()}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = urlsplit(POSTGRES_URL)  # not urlunsplit: it turns postgresql:///x into postgresql:/x
        yield f"{url.scheme}://{url.netloc}/{name}" + (f"?{url.query}" if url.query else "")
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(results: list[Result]) -> None:
    bare_rps = results[0].rps
    print(
        f"\n{'case':<30} {'backend':<10} {'conns':>5} {'req/s':>8} {'ratio_to_bare':>13} {'p50 ms':>8}"
        f" {'p99 ms':>8} {'p99/p50':>7} {'stmts':>5} {'waits':>5} {'bad':>5} {'sock_err':>8}"
    )
    for r in results:
        stmts = (
            f"{r.tally.statements:>5} {r.tally.round_trips if r.backend == 'postgresql' else '-':>5}"
            if r.tally
            else f"{'':>5} {'':>5}"
        )
        print(
            f"{r.case:<30} {r.backend:<10} {r.connections:>5} {r.rps:>8.1f} {r.rps / bare_rps:>13.3f}"
            f" {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.p99_ms / r.p50_ms if r.p50_ms else 0:>7.1f} {stmts}"
            f" {r.bad:>5} {r.socket_errors:>8}"
        )
    print(
        "bad = answers under load that were not 200 with the expected key, or carried an ErrorCode (OutOfOffice:"
        " or Skipped); sock_err = wrk socket errors; conns = wrk connections (1 for TimeAccountingGet, whose"
        f" {TIME_ACCOUNTING_ROWS} rows a year make one large answer of seconds: measured {LONG_SECONDS} s,"
        " without warm-up beyond the checked first answer); ArticleSend = TicketCreate that also queues the"
        " article as an e-mail to send, plain or with a detached PGP or S/MIME signature; stmts = SQL statements"
        " one request has the database run (BEGIN and COMMIT included), waits = its round trips to PostgreSQL"
        " (tests/bench/statements.py); wrk keeps connections alive but in the no keep-alive case"
    )
    for r in results:
        if r.bad_sample:
            print(f"first bad answer of {r.case} on {r.backend}: {r.bad_sample}")


def print_fulltext_table(fulltext: list[FulltextResult]) -> None:
    print(
        f"\nfull-text search: {FULLTEXT_QUERIES} REST TicketSearch with Body (words and word pairs of random demo"
        " articles, some in no article), one after the other, timed on the second pass"
    )
    print(f"{'backend':<10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'no hit':>6} {'<500':>6} {'500':>6}")
    for f in fulltext:
        counts = (sum(h == 0 for h in f.hits), sum(0 < h < 500 for h in f.hits), sum(h >= 500 for h in f.hits))
        print(
            f"{f.backend:<10} {f.percentile(0.5):>8.1f} {f.percentile(0.95):>8.1f} {max(f.latencies_ms):>8.1f}"
            f" {counts[0]:>6} {counts[1]:>6} {counts[2]:>6}"
        )


def print_mail_table(mails: list[MailResult]) -> None:
    print(
        f"\nmail worker: `gateway mail-worker --once` draining the outbox the ArticleSend cases filled, into"
        f" aiosmtpd on 127.0.0.1 (in the bench process); batch size {load().mail_batch_size}"
    )
    print(f"{'backend':<10} {'workers':>7} {'mails':>7} {'seconds':>8} {'mails/s':>8}")
    for m in mails:
        print(f"{m.backend:<10} {m.workers:>7} {m.mails:>7} {m.seconds:>8.1f} {m.rate:>8.1f}")


def print_targets(results: list[Result]) -> None:
    """The issue's reference and targets, and whether this run met them (cleanly: no wrong answers)."""
    print(f"\nreference: {REFERENCE}")
    measured = {(r.case, r.backend): r for r in results if r.connections == CONNECTIONS}
    for (case, backend), target in TARGETS.items():
        r = measured.get((case, backend))
        if r is None:
            print(f"{case} {backend}: not measured (target {target}/s)")
            continue
        verdict = "met" if r.rps >= target else "NOT met"
        if r.bad or r.socket_errors:
            verdict = f"NOT met ({r.bad} bad answers, {r.socket_errors} socket errors)"
        print(f"{case} {backend}: {r.rps:.0f}/s (target {target}) {verdict}")


def bench_tickets() -> int:
    """GATEWAY_BENCH_TICKETS: fewer demo tickets make a quick run (and a smaller, less realistic database)."""
    value = os.environ.get("GATEWAY_BENCH_TICKETS", str(DEFAULT_TICKETS))
    if not value.isdigit() or not 1 <= int(value) <= MAX_TICKETS:
        raise BenchError(f"GATEWAY_BENCH_TICKETS must be a number of tickets from 1 to {MAX_TICKETS}, not {value!r}")
    return int(value)


def run() -> int:
    if not shutil.which("wrk"):
        print("wrk not found; install it (Debian: apt-get install wrk) or run `make bench`", file=sys.stderr)
        return 1
    started = time.monotonic()
    tickets = bench_tickets()
    print(
        f"cores: {os.cpu_count()}; each server: gunicorn {GUNICORN_CONFIG}, {gunicorn_config.workers} workers of"
        f" {gunicorn_config.threads} threads (gateway.gunicorn_worker, keep-alive);"
        f" wrk: {THREADS} threads, {CONNECTIONS} connections, 30 s timeout, {SECONDS} s per case"
        f" after {WARMUP_SECONDS} s warm-up;"
        f" demo data: {tickets} tickets per backend (GATEWAY_BENCH_TICKETS)"
    )
    failures: list[str] = []
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gw-bench-")))
        keys_dir = short_tempdir("gwk")
        stack.callback(shutil.rmtree, keys_dir, ignore_errors=True)  # in case generate() fails half-way
        try:
            keys = generate(keys_dir)
        except RuntimeError as error:
            raise BenchError(f"key material for the signed ArticleSend cases: {error}") from None
        stack.callback(remove_material, keys)
        backends = [("sqlite", f"sqlite:///{workdir}/gateway.db")]
        try:
            backends.append(("postgresql", stack.enter_context(postgres_database())))
        except psycopg.Error as error:
            reason = " ".join(str(error).split())
            print(f"PostgreSQL part skipped: cannot create a database via {POSTGRES_URL}: {reason}")
        with serve(BARE_SERVER, dict(os.environ), workdir / "bare.log") as url:
            results = [measure(url, BARE, "bare", workdir)]
        mails: list[MailResult] = []
        fulltext: list[FulltextResult] = []
        for backend, database_url in backends:
            try:
                backend_results, backend_mails = bench_gateway(
                    backend, database_url, tickets, keys, workdir, failures, fulltext
                )
            except BenchError as error:
                failures.append(f"{backend}: {error}")
                continue
            results += backend_results
            mails += backend_mails
    print_table(results)
    if mails:
        print_mail_table(mails)
    if fulltext:
        print_fulltext_table(fulltext)
    print_targets(results)
    print(f"\nwhole run: {time.monotonic() - started:.0f} s", flush=True)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so every server is stopped
    try:
        sys.exit(run())
    except BenchError as error:
        print(f"FAILED {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
