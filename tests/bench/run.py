"""`make bench`: gateway's throughput next to a bare WSGI app served with the same gunicorn settings.

Absolute req/s depend on the machine; the ratio to the bare app, measured in the same run, is the
number to compare between machines and commits. Each case must answer correctly once before it is
measured, and wrk counts wrong answers under load, so a broken case cannot pass for a fast one.
Each gateway backend holds GATEWAY_BENCH_TICKETS demo tickets (default 100 000) before it is
measured, so that TicketGet and TicketSearch run against tables of a realistic size; root then has
100 000 time-accounting rows within a year for TimeAccountingGet, and 1 000 bench agents are added
for an OutOfOffice CSV of 1 000 rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import runpy
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

import psycopg

from gateway.store.database import Database, utcnow

PROJECT_DIR = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
GUNICORN_CONF = PROJECT_DIR / "conf" / "gunicorn.conf.py"
GATEWAY = str(Path(sys.executable).with_name("gateway"))
BARE_SERVER = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--pythonpath", str(BENCH_DIR), "bare:app"]
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
TICKET = {"Title": "bench ticket", "Queue": "Raw", "State": "open", "Priority": "3 normal",
          "CustomerUser": "customer@example.com"}
ARTICLE = {"Subject": "bench", "Body": "created by make bench", "ContentType": "text/plain; charset=utf8"}
# an agent's everyday search: about 0.08 % of the demo tickets match (Raw is 40 % of them, open about 9 %,
# and 3 of gateway/store/demodata.py's 17 TITLES start with one of 8 DEVICES, Printer among them), so 100 000
# tickets give about 80 and the limit applies; the ticket that TicketCreate adds does not match
SEARCH = {"Queues": ["Raw"], "States": ["open"], "Title": "Printer*", "Limit": 50}
SEARCH_HINT = "(the search matches about 0.08 % of the demo tickets: is GATEWAY_BENCH_TICKETS too low?)"
# Znuny 7.1.7 on a 2-core machine like the ones `make bench` runs on, and what gateway must reach
REFERENCE = "Znuny 7.1.7 on this 2-core machine kind: TicketCreate 23/s and TicketGet 154/s over REST (81 over SOAP)"
TARGETS = {("REST TicketCreate", "postgresql"): 300, ("REST TicketGet", "postgresql"): 800}

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
    return Case(name, SOAP, marker, "POST", envelope,
                {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": f'"{SOAP_NS}{operation}"'}, hint)


BARE = Case("bare WSGI app", "/", '"Status"')
REST_CREATE = Case("REST SessionCreate", f"{REST}/Session", '"SessionID"', "POST",
                   json.dumps({"UserLogin": "root@localhost", "Password": "root"}), JSON_HEADERS)
SOAP_CREATE = soap_case("SOAP SessionCreate", "SessionCreate", {"UserLogin": "root@localhost", "Password": "root"},
                        "SessionID>")


def lua_string(text: str) -> str:
    """Quote anything for Lua 5.1 (wrk's LuaJIT), which lacks JSON's \\u escapes."""
    return '"' + "".join(chr(b) if chr(b).isalnum() else f"\\{b:03d}" for b in text.encode()) + '"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, case: Case) -> tuple[int, str]:
    request = urllib.request.Request(url + case.path, data=case.body.encode() or None, headers=case.headers,
                                     method=case.method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def verify(url: str, case: Case) -> str:
    """One correct answer before measuring (Znuny answers errors with 200 too, hence "Error"); returns its body."""
    status, body = fetch(url, case)
    if status != 200 or case.marker not in body or "Error" in body or (case.wrong and case.wrong in body):
        raise BenchError(f"{case.name}: expected 200 with {case.marker} and no Error"
                         + (f" or {case.wrong}" if case.wrong else "") + f", got {status}: {body[:300]}"
                         + (f" {case.hint}" if case.hint else ""))
    if case.rows and body.count(case.rows[0]) != case.rows[1]:
        raise BenchError(f"{case.name}: expected {case.rows[1]} times {case.rows[0]}, got {body.count(case.rows[0])}")
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
        proc = subprocess.Popen([*command, "--bind", f"127.0.0.1:{port}"], cwd=PROJECT_DIR, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
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
    out = check_output(["wrk", f"-t{threads}", f"-c{case.connections}", f"-d{seconds}s", "--timeout", "30s",
                        "-s", str(script), url + case.path])
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
    script.write_text(WRK_SCRIPT.substitute(method=lua_string(case.method), body=lua_string(case.body),
                                            headers=headers, marker=lua_string(case.marker),
                                            wrong=lua_string(case.wrong)))
    if case.warmup_seconds:
        wrk(url, case, script, case.warmup_seconds)
    stats, sample = wrk(url, case, script, case.seconds)
    return Result(case.name, backend, stats["requests"] / (stats["duration_us"] / 1e6), stats["p50_us"] / 1000,
                  stats["p99_us"] / 1000, stats["bad"], stats["socket_errors"], sample, case.connections)


def add_bench_rows(database_url: str) -> tuple[dt.datetime, dt.datetime]:
    """Top root's time accounting up to TIME_ACCOUNTING_ROWS within the year before now (0.25 on demo tickets
    at their creation, in one INSERT ... SELECT) and add OUT_OF_OFFICE_AGENTS agents; returns the year's range."""
    end = utcnow()
    start = end - dt.timedelta(days=365)
    db = Database(database_url)
    try:
        with db.transaction() as tx:
            root = tx.value("SELECT id FROM users WHERE login = 'root@localhost'")
            have = tx.value("SELECT COUNT(*) FROM time_accounting WHERE create_by = ? AND create_time BETWEEN ? AND ?",
                            [root, start, end])
            tickets = tx.value("SELECT COUNT(*) FROM ticket WHERE create_time BETWEEN ? AND ?", [start, end])
            missing = TIME_ACCOUNTING_ROWS - have
            if missing > 0:
                tx.execute(
                    "WITH RECURSIVE copies(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM copies WHERE n < ?)"
                    " INSERT INTO time_accounting (ticket_id, article_id, time_unit, create_time, create_by)"
                    " SELECT t.id, NULL, 0.25, t.create_time, ? FROM ticket t CROSS JOIN copies"
                    " WHERE t.create_time BETWEEN ? AND ? ORDER BY copies.n, t.id LIMIT ?",
                    [-(-missing // tickets), root, start, end, missing])
            tx.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                " INSERT INTO users (login, pw, first_name, last_name, email, valid_id, create_time, change_time)"
                " SELECT 'bench-agent-' || i, '!', 'Bench', 'Agent ' || i, 'bench-agent-' || i || '@example.com',"
                " 1, ?, ? FROM n", [OUT_OF_OFFICE_AGENTS, end, end])
        with db.transaction() as tx:
            tx.execute("ANALYZE")
    finally:
        db.close()
    return start, end


def session_cases(url: str, tickets: int, accounting: tuple[dt.datetime, dt.datetime]) -> list[Case]:
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
    time_accounting = {"SessionID": session_id, "TimeAccountingUserLogin": "root@localhost",
                       "TimeAccountingStart": start, "TimeAccountingEnd": end}
    return [
        Case("REST SessionGet", f"{REST}/Session/{session_id}", '"SessionData"'),
        Case("REST TicketCreate", f"{REST}/Ticket", '"TicketNumber"', "POST", json.dumps(create), JSON_HEADERS),
        soap_case("SOAP TicketCreate", "TicketCreate", create, "TicketNumber>"),
        Case("REST TicketGet", f"{REST}/Ticket/{ticket_id}?{urlencode({'SessionID': session_id, 'AllArticles': 1})}",
             '"ArticleID"'),
        soap_case("SOAP TicketGet", "TicketGet", {"SessionID": session_id, "TicketID": ticket_id, "AllArticles": 1},
                  "ArticleID>"),
        Case("REST TicketSearch", f"{REST}/Ticket/Search", '"TicketID"', "POST", json.dumps(search), JSON_HEADERS,
             SEARCH_HINT),
        soap_case("SOAP TicketSearch", "TicketSearch", search, "TicketID>", SEARCH_HINT),
        Case("REST TimeAccountingGet", TIME_ACCOUNTING, '"TimeAccountingResult"', "POST", json.dumps(time_accounting),
             JSON_HEADERS, rows=('"TimeUnit"', TIME_ACCOUNTING_ROWS), connections=1, warmup_seconds=0,
             seconds=LONG_SECONDS),
    ]


def out_of_office_case() -> Case:
    """One CSV row for each bench agent, all of which must apply (no Skipped)."""
    today = dt.date.today()
    rows = "".join(f"bench-agent-{i},1,{today},{today + dt.timedelta(days=14)}\n"
                   for i in range(1, OUT_OF_OFFICE_AGENTS + 1))
    body = {"UserLogin": "root@localhost", "Password": "root",
            "OutOfOfficeEntriesCSVString": "UserLogin,OutOfOffice,StartDate,EndDate\n" + rows}
    return Case(f"REST OutOfOffice {OUT_OF_OFFICE_AGENTS}", OUT_OF_OFFICE, '"Success"', "POST", json.dumps(body),
                JSON_HEADERS, wrong="Skipped")


def bench_gateway(backend: str, database_url: str, tickets: int, workdir: Path, failures: list[str]) -> list[Result]:
    """Set up a fresh database as `make run` does, add the demo tickets, serve it with `gateway serve`,
    measure each case."""
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
    check_output([GATEWAY, "setup"], env)
    check_output([GATEWAY, "user", "set-password", "--user-name", "root@localhost", "--password", "root"], env)
    print(f"  {backend}: {check_output([GATEWAY, 'demo-data', '--tickets', str(tickets)], env, 900).strip()}",
          flush=True)
    check_output([GATEWAY, "group", "user-link", "--user-name", "root@localhost", "--group-name",
                  "timeaccounting_webservice", "--permission-key", "rw"], env)
    accounting = add_bench_rows(database_url)
    results = []
    with serve([GATEWAY, "serve"], env, workdir / f"gateway-{backend}.log") as url:
        cases = [REST_CREATE, SOAP_CREATE]
        try:
            cases += session_cases(url, tickets, accounting)
        except BenchError as error:
            failures.append(f"{backend}: {error}")
        cases.append(out_of_office_case())
        for case in cases:
            try:
                results.append(measure(url, case, backend, workdir))
            except BenchError as error:
                failures.append(f"{backend}: {error}")
    return results


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
    print(f"\n{'case':<24} {'backend':<10} {'conns':>5} {'req/s':>8} {'ratio_to_bare':>13} {'p50 ms':>8}"
          f" {'p99 ms':>8} {'bad':>5} {'sock_err':>8}")
    for r in results:
        print(f"{r.case:<24} {r.backend:<10} {r.connections:>5} {r.rps:>8.1f} {r.rps / bare_rps:>13.3f}"
              f" {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.bad:>5} {r.socket_errors:>8}")
    print("bad = answers under load that were not 200 with the expected key, or carried an ErrorCode (OutOfOffice:"
          " or Skipped); sock_err = wrk socket errors; conns = wrk connections (1 for TimeAccountingGet, whose"
          f" {TIME_ACCOUNTING_ROWS} rows a year make one large answer of seconds: measured {LONG_SECONDS} s,"
          " without warm-up beyond the checked first answer)")
    for r in results:
        if r.bad_sample:
            print(f"first bad answer of {r.case} on {r.backend}: {r.bad_sample}")


def print_targets(results: list[Result]) -> None:
    """The issue's reference and targets, and whether this run met them (cleanly: no wrong answers)."""
    print(f"\nreference: {REFERENCE}")
    measured = {(r.case, r.backend): r for r in results}
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
    workers = runpy.run_path(str(GUNICORN_CONF))["workers"]
    print(f"cores: {os.cpu_count()}; each server: gunicorn {GUNICORN_CONF.name}, {workers} sync workers;"
          f" wrk: {THREADS} threads, {CONNECTIONS} connections, 30 s timeout, {SECONDS} s per case"
          f" after {WARMUP_SECONDS} s warm-up;"
          f" demo data: {tickets} tickets per backend (GATEWAY_BENCH_TICKETS)")
    failures: list[str] = []
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gw-bench-")))
        backends = [("sqlite", f"sqlite:///{workdir}/gateway.db")]
        try:
            backends.append(("postgresql", stack.enter_context(postgres_database())))
        except psycopg.Error as error:
            reason = " ".join(str(error).split())
            print(f"PostgreSQL part skipped: cannot create a database via {POSTGRES_URL}: {reason}")
        with serve(BARE_SERVER, dict(os.environ), workdir / "bare.log") as url:
            results = [measure(url, BARE, "bare", workdir)]
        for backend, database_url in backends:
            try:
                results += bench_gateway(backend, database_url, tickets, workdir, failures)
            except BenchError as error:
                failures.append(f"{backend}: {error}")
    print_table(results)
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
