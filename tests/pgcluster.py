"""A private PostgreSQL cluster for tests that stop, start or break the database server itself.

    with PgCluster.created() as cluster:      # initdb in a temporary directory, started on a free port
        url = cluster.url("postgres")         # postgresql:///postgres?host=<socket dir>&port=<port>
        cluster.stop()                        # pg_ctl stop -m fast: every connection is cut
        cluster.start()

Debian's server binaries (/usr/lib/postgresql/<version>/bin, the newest; GATEWAY_TEST_PG_BIN
names another directory) run as the user running the tests, or as `postgres` when that is
root (initdb refuses root); the directory is handed to that user. The server listens on its
own socket directory inside the cluster's directory (and on 127.0.0.1 at the same port), with
trust authentication and without fsync: a throwaway cluster for tests, never for data.
Without the binaries the test is skipped, except in CI, where that is an error.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

SUPERUSER = "gateway"


def installed() -> Path | None:
    """The directory of the server binaries, if there are any."""
    named = os.environ.get("GATEWAY_TEST_PG_BIN")
    found = [Path(named)] if named else sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version)
    return found[-1] if found and (found[-1] / "initdb").exists() else None


def _bin_dir() -> Path:
    found = installed()
    if found is None:
        message = "a private PostgreSQL cluster needs initdb and pg_ctl (Debian's postgresql package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())


class PgCluster:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.data = directory / "data"
        self.socket_dir = directory / "socket"
        self.log_path = directory / "server.log"
        self._bin = _bin_dir()
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    @classmethod
    @contextlib.contextmanager
    def created(cls) -> Iterator[PgCluster]:
        """A new cluster, started; stopped and removed afterwards."""
        # short: the socket's path (<dir>/socket/.s.PGSQL.<port>) must fit in 107 bytes
        cluster = cls(Path(tempfile.mkdtemp(prefix="gwpg", dir="/tmp")), free_port())
        try:
            cluster._init()
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
            shutil.rmtree(cluster.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "start",
            "--wait",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log_path),
            "--options",
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        )

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back and every client's connection is cut."""
        if self.running:
            self._run("pg_ctl", "stop", "--wait", "--mode", "fast", "--pgdata", str(self.data))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _init(self) -> None:
        self.socket_dir.mkdir()
        if self._user is not None:
            for path in (self.directory, self.socket_dir):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )

    def _run(self, program: str, *args: str) -> None:
        user = {} if self._user is None else {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self._bin / program), *args],
            cwd=self.directory,
            env={**os.environ, "HOME": str(self.directory)},
            capture_output=True,
            text=True,
            timeout=60,
            **user,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed: {result.stderr}{self.log()[-2000:]}")
