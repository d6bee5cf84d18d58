"""`make bench-znuny`: gateway on PostgreSQL next to a running Znuny oracle, through ../shared/oracle/compare.py.

The oracle (../shared/oracle/README.md: build.sh, about a minute) serves Znuny 7.1.7 on 127.0.0.1:8089 with
the fixture of the golden transcripts. This script gives a fresh gateway database the same fixture (root
and tauser with their passwords, customer1 of ACME, the presets), serves it with `gateway serve` and runs
compare.py once per connection count in ZNUNY_BENCH_CONNS (default "4 1"), so that each table's ratios come
from one run on a noisy machine. ZNUNY_BENCH_DURATION (s per run, default 15), ZNUNY_BENCH_ROUNDS (default 2)
and ZNUNY_BENCH_ONLY (compare.py's --only) shorten a run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from run import GATEWAY, PROJECT_DIR, BenchError, check_output, postgres_database, serve

ORACLE = "http://127.0.0.1:8089"
COMPARE = PROJECT_DIR.parent / "shared" / "oracle" / "compare.py"
# the oracle's fixture (../shared/oracle/README.md), as compare.py logs in with it
FIXTURE = [
    ["user", "set-password", "--user-name", "root@localhost", "--password", "root"],
    ["group", "user-link", "--user-name", "root@localhost", "--group-name", "timeaccounting_webservice",
     "--permission-key", "rw"],
    ["user", "add", "--user-name", "tauser", "--first-name", "Time", "--last-name", "Accounting",
     "--email-address", "tauser@example.com", "--password", "tauser", "--group", "users",
     "--group", "timeaccounting_webservice"],
    ["customer-company", "add", "--customer-id", "ACME", "--name", "ACME"],
    ["customer-user", "add", "--user-name", "customer1", "--first-name", "Customer", "--last-name", "One",
     "--email-address", "customer1@example.com", "--password", "customer1", "--customer-id", "ACME"],
]  # fmt: skip


def oracle_running() -> bool:
    """Znuny logs root in (it drops a request that names no web service without an answer)."""
    request = urllib.request.Request(
        ORACLE + "/znuny/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Session",
        data=json.dumps({"UserLogin": "root@localhost", "Password": "root"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return "SessionID" in json.loads(response.read())
    except (OSError, ValueError):
        return False


def run() -> int:
    if not COMPARE.is_file():
        print(f"{COMPARE} not found: bench-znuny needs ../shared/oracle", file=sys.stderr)
        return 1
    if not oracle_running():
        print(
            f"no Znuny oracle on {ORACLE}: build it with ../shared/oracle/build.sh (../shared/oracle/README.md)",
            file=sys.stderr,
        )
        return 1
    conns = os.environ.get("ZNUNY_BENCH_CONNS", "4 1").split()
    options = ["--duration", os.environ.get("ZNUNY_BENCH_DURATION", "15")]
    options += ["--rounds", os.environ.get("ZNUNY_BENCH_ROUNDS", "2")]
    if os.environ.get("ZNUNY_BENCH_ONLY"):
        options += ["--only", os.environ["ZNUNY_BENCH_ONLY"]]
    with postgres_database() as database_url, tempfile.TemporaryDirectory(prefix="gw-znuny-") as workdir:
        env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
        check_output([GATEWAY, "setup"], env)
        for command in FIXTURE:
            check_output([GATEWAY, *command], env)
        with serve([GATEWAY, "serve"], env, Path(workdir) / "gateway.log") as url:
            for count in conns:
                print(f"\ncompare.py, {count} connection(s): Znuny on {ORACLE}, gateway on PostgreSQL at {url}")
                subprocess.run(
                    [
                        sys.executable,
                        str(COMPARE),
                        "--a",
                        f"znuny={ORACLE}/znuny/nph-genericinterface.pl",
                        "--b",
                        f"gateway={url}/otrs/nph-genericinterface.pl",
                        "--conns",
                        count,
                        *options,
                    ],
                    check=True,
                )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(run())
    except (BenchError, subprocess.CalledProcessError) as error:
        print(f"FAILED {error}", file=sys.stderr)
        sys.exit(1)
