"""`make bench`: gateway's throughput next to a bare WSGI app served with the same gunicorn settings.

Absolute req/s depend on the machine; the ratio to the bare app, measured in the same run, is the
number to compare between machines and commits. Each case must answer correctly once before it is
measured, and wrk counts wrong answers under load, so a broken case cannot pass for a fast one.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from urllib.parse import urlsplit

import psycopg

PROJECT_DIR = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
GUNICORN_CONF = PROJECT_DIR / "conf" / "gunicorn.conf.py"
GATEWAY = str(Path(sys.executable).with_name("gateway"))
BARE_SERVER = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--pythonpath", str(BENCH_DIR), "bare:app"]
POSTGRES_URL = os.environ.get("GATEWAY_BENCH_POSTGRES_URL", "postgresql:///postgres")
THREADS, CONNECTIONS, WARMUP_SECONDS, SECONDS = 2, 4, 1, 5

REST = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"
SOAP = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"
JSON_HEADERS = {"Content-Type": "application/json"}
SOAP_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soapenv:Body><tic:SessionCreate xmlns:tic="http://www.otrs.org/TicketConnector/">'
    "<tic:UserLogin>root@localhost</tic:UserLogin><tic:Password>root</tic:Password>"
    "</tic:SessionCreate></soapenv:Body></soapenv:Envelope>"
)

# wrk counts, per thread, answers that are not 200 with the marker in the body; done() adds them up
WRK_SCRIPT = string.Template("""\
wrk.method = $method
wrk.body = $body
$headers
bad = 0
local marker = $marker
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 or not (body and body:find(marker, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
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


@dataclasses.dataclass(frozen=True)
class Result:
    case: str
    backend: str
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int
    socket_errors: int


BARE = Case("bare WSGI app", "/", '"Status"')
REST_CREATE = Case("REST SessionCreate", f"{REST}/Session", '"SessionID"', "POST",
                   json.dumps({"UserLogin": "root@localhost", "Password": "root"}), JSON_HEADERS)
SOAP_CREATE = Case("SOAP SessionCreate", SOAP, "SessionID>", "POST", SOAP_ENVELOPE,
                   {"Content-Type": "text/xml; charset=UTF-8",
                    "SOAPAction": '"http://www.otrs.org/TicketConnector/SessionCreate"'})


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
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def verify(url: str, case: Case) -> str:
    """One correct answer before measuring; returns its body."""
    status, body = fetch(url, case)
    if status != 200 or case.marker not in body:
        raise BenchError(f"{case.name}: expected 200 with {case.marker}, got {status}: {body[:300]}")
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


def check_output(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run a command; a failure becomes a BenchError that carries its output."""
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode:
        raise BenchError(f"{' '.join(command[:3])} exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-2000:]}")
    return proc.stdout


def wrk(url: str, case: Case, script: Path, seconds: int) -> dict[str, int]:
    out = check_output(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url + case.path])
    for line in out.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line.removeprefix("BENCH "))
    raise BenchError(f"wrk printed no summary:\n{out}")


def measure(url: str, case: Case, backend: str, workdir: Path) -> Result:
    verify(url, case)
    print(f"  {case.name} on {backend} ...", flush=True)
    script = workdir / "case.lua"
    headers = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in case.headers.items())
    script.write_text(WRK_SCRIPT.substitute(method=lua_string(case.method), body=lua_string(case.body),
                                            headers=headers, marker=lua_string(case.marker)))
    wrk(url, case, script, WARMUP_SECONDS)
    stats = wrk(url, case, script, SECONDS)
    return Result(case.name, backend, stats["requests"] / (stats["duration_us"] / 1e6), stats["p50_us"] / 1000,
                  stats["p99_us"] / 1000, stats["bad"], stats["socket_errors"])


def session_get(url: str) -> Case:
    """SessionGet needs a live session to get."""
    try:
        session_id = json.loads(verify(url, REST_CREATE))["SessionID"]
    except BenchError as error:
        raise BenchError(f"REST SessionGet: no session to get: {error}") from None
    return Case("REST SessionGet", f"{REST}/Session/{session_id}", '"SessionData"')


def bench_gateway(backend: str, database_url: str, workdir: Path, failures: list[str]) -> list[Result]:
    """Set up a fresh database as `make run` does, serve it with `gateway serve`, measure each case."""
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
    check_output([GATEWAY, "setup"], env)
    check_output([GATEWAY, "user", "set-password", "--user-name", "root@localhost", "--password", "root"], env)
    results = []
    with serve([GATEWAY, "serve"], env, workdir / f"gateway-{backend}.log") as url:
        cases = [REST_CREATE, SOAP_CREATE]
        try:
            cases.append(session_get(url))
        except BenchError as error:
            failures.append(f"{backend}: {error}")
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
    print(f"\n{'case':<20} {'backend':<10} {'req/s':>8} {'ratio_to_bare':>13} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'bad':>5} {'sock_err':>8}")
    for r in results:
        print(f"{r.case:<20} {r.backend:<10} {r.rps:>8.1f} {r.rps / bare_rps:>13.3f} {r.p50_ms:>8.2f}"
              f" {r.p99_ms:>8.2f} {r.bad:>5} {r.socket_errors:>8}")
    print("bad = answers under load that were not 200 with the expected key; sock_err = wrk socket errors")


def run() -> int:
    if not shutil.which("wrk"):
        print("wrk not found; install it (Debian: apt-get install wrk) or run `make bench`", file=sys.stderr)
        return 1
    workers = runpy.run_path(str(GUNICORN_CONF))["workers"]
    print(f"cores: {os.cpu_count()}; each server: gunicorn {GUNICORN_CONF.name}, {workers} sync workers;"
          f" wrk: {THREADS} threads, {CONNECTIONS} connections, {SECONDS} s per case after {WARMUP_SECONDS} s warm-up")
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
                results += bench_gateway(backend, database_url, workdir, failures)
            except BenchError as error:
                failures.append(f"{backend}: {error}")
    print_table(results)
    sys.stdout.flush()
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
