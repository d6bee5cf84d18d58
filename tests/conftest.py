"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, and gateway under gunicorn.

Every test that touches storage runs on both backends; a test of the transport alone (parsing,
encodings, wire quirks: what happens before or after storage, never in it) is marked
`transport_only` and runs on SQLite alone. PostgreSQL comes from
GATEWAY_TEST_POSTGRES_URL (a maintenance database the tests may create databases from,
e.g. postgresql:///postgres); without it, the suite starts a private cluster (tests/pgcluster.py:
Debian's postgresql package, which `make test` installs) and removes it at the end. Only without
the server binaries is the PostgreSQL half skipped, except in CI (CI=true), where a missing
PostgreSQL is an error: CI must never skip it silently.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import settings as hypothesis_settings
from werkzeug.test import Client

from gateway.admin import directory, webservices
from gateway.app import Gateway, make_app
from gateway.settings import MIN_PASSWORD_MEMORY_COST, Settings
from gateway.store import migrate
from gateway.store.database import Database

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
ZNUNY = SHARED / "znuny"
BACKENDS = ["sqlite", "postgresql"]
REST = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"
SOAP = "/znuny/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"
TICKET_NS = "http://www.otrs.org/TicketConnector/"
ROOT = {"UserLogin": "root@localhost", "Password": "root"}  # the fixture's administrator (load_fixture)
GATEWAY_BIN = Path(sys.executable).parent / "gateway"
# Argon2 at its least cost: every password hashed or checked in the tests, in this process and in the
# console and gunicorn processes it starts (they inherit the environment). Production cost: test_settings.py.
CHEAP_PASSWORDS = {"password_time_cost": 1, "password_memory_cost": MIN_PASSWORD_MEMORY_COST}
os.environ.update({f"GATEWAY_{key.upper()}": str(value) for key, value in CHEAP_PASSWORDS.items()})
# property tests (tests/test_*_properties.py): the same examples on every run (no example database either),
# bounded, with a deadline a busy 2-core CI machine keeps; HYPOTHESIS_PROFILE=explore searches wider and at random
hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=200, deadline=dt.timedelta(seconds=1), print_blob=True
)
hypothesis_settings.register_profile("explore", max_examples=20_000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    """Without GATEWAY_TEST_POSTGRES_URL, a private PostgreSQL cluster for the session: started by pytest (or
    pytest-xdist's controller, before it starts its workers, which inherit the URL), removed at its end."""
    if os.environ.get("GATEWAY_TEST_POSTGRES_URL") or hasattr(config, "workerinput"):
        return
    from tests import pgcluster

    if pgcluster.installed() is None:
        return  # the PostgreSQL tests say why they skip (or fail, in CI)
    stack = contextlib.ExitStack()
    cluster = stack.enter_context(pgcluster.PgCluster.created())
    config.add_cleanup(stack.close)
    os.environ["GATEWAY_TEST_POSTGRES_URL"] = cluster.url("postgres")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A `transport_only` test keeps its SQLite instance: the PostgreSQL one would test nothing more."""
    twice = {
        item
        for item in items
        if item.get_closest_marker("transport_only")
        and "postgresql" in getattr(getattr(item, "callspec", None), "params", {}).values()
    }
    if twice:
        config.hook.pytest_deselected(items=[item for item in items if item in twice])
        items[:] = [item for item in items if item not in twice]


def until(predicate, seconds: float) -> float:
    """Seconds it took predicate() to hold (asked every 0.05 s); fails after `seconds`."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def znuny_file(relative: str) -> Path:
    """A file of Znuny's reference data, read from ../shared (never copied into the project)."""
    path = ZNUNY / relative
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must run with ../shared beside the checkout")
        pytest.skip(f"Znuny reference data not found at {path} (../shared is absent)")
    return path


def _pg_admin_url() -> str:
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("GATEWAY_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL tests")
        pytest.skip(
            "PostgreSQL tests need GATEWAY_TEST_POSTGRES_URL (e.g. postgresql:///postgres) or Debian's postgresql"
            " package for a private cluster"
        )
    return url


def _pg_execute(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


# Dropping a PostgreSQL database takes a few hundred milliseconds: it happens beside the next test,
# and the session waits for every drop at its end (the templates fixture), failing on any that failed.
_DROPPER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database")
_drops: list[concurrent.futures.Future] = []


def _pg_drop_later(admin_url: str, name: str) -> None:
    _drops.append(_DROPPER.submit(_pg_execute, admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _pg_url(admin_url: str, database: str) -> str:
    """The URL of another database on the server: the path replaced, the query (a socket's host, a port) kept."""
    url = urllib.parse.urlsplit(admin_url)
    return f"{url.scheme}://{url.netloc}/{database}" + (f"?{url.query}" if url.query else "")


def load_fixture(db: Database, settings: Settings) -> None:
    """The fixture of ../shared/znuny/golden: the same agents, customer, fields and web services."""
    webservices.ensure_presets(db, settings)
    directory.set_user_password(db, settings, "root@localhost", "root")
    directory.add_user(db, settings, "agent1", "Agent", "One", "agent1@example.test", "agent1", ["users"])
    directory.add_user(
        db,
        settings,
        "tauser",
        "Time",
        "Accounter",
        "tauser@example.test",
        "tauser",
        ["users", "timeaccounting_webservice"],
    )
    directory.add_customer_company(db, "ACME", "ACME Inc.")
    directory.add_customer_user(db, settings, "customer1", "Cust", "Omer", "customer1@oracle.test", "ACME", "customer1")
    directory.add_dynamic_field(db, "OracleText", "Oracle Text", "Text", "Ticket")
    directory.add_dynamic_field(
        db, "OracleDropdown", "Oracle Dropdown", "Dropdown", "Ticket", {"alpha": "Alpha", "beta": "Beta"}
    )
    dev_rest = ZNUNY / "development" / "GenericTicketConnectorREST.yml"
    if dev_rest.exists():
        webservices.add_webservice(
            db, settings, "GenericTicketConnectorRESTDev", text=dev_rest.read_text(encoding="utf-8"), actor="test"
        )


def keep_bodies(gateway: Gateway, db: Database, settings: Settings, name: str) -> None:
    """Set a web service's DebugThreshold to debug, so that its log keeps every exchange's bodies (the presets
    say error: only error exchanges keep theirs), and wait until `gateway` serves the change."""
    text = webservices.export_webservice(db, name)
    webservices.update_webservice(
        db, settings, name, text.replace("DebugThreshold: error", "DebugThreshold: debug"), actor="test"
    )
    until(lambda: gateway.registry.by_name(name).config.debug_threshold == "debug", 5)


@dataclasses.dataclass
class Templates:
    """One migrated database with the fixture per backend; each test gets a copy."""

    tmp: Path
    sqlite_path: Path | None = None
    pg_template: str | None = None

    def sqlite(self) -> Path:
        if self.sqlite_path is None:
            self.sqlite_path = self.tmp / "template.db"
            _fill(f"sqlite:///{self.sqlite_path}")
        return self.sqlite_path

    def postgresql(self, admin_url: str) -> str:
        if self.pg_template is None:
            name = f"gw_test_{os.getpid()}_template"
            _pg_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            _pg_execute(admin_url, f"CREATE DATABASE {name}")
            _fill(_pg_url(admin_url, name))
            self.pg_template = name
        return self.pg_template


def _fill(url: str) -> None:
    migrate.upgrade(url)
    db = Database(url)
    load_fixture(db, test_settings(url))
    db.close()


def test_settings(database_url: str, **overrides: object) -> Settings:
    return dataclasses.replace(
        Settings(),
        database_url=database_url,
        public_url="http://gateway.test:8080",
        webservice_refresh_interval=0.5,
        **{**CHEAP_PASSWORDS, **overrides},
    )


test_settings.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    found = Templates(tmp_path_factory.mktemp("templates"))
    yield found
    for drop in concurrent.futures.as_completed(_drops):
        drop.result()
    if found.pg_template:
        _pg_execute(
            os.environ["GATEWAY_TEST_POSTGRES_URL"], f"DROP DATABASE IF EXISTS {found.pg_template} WITH (FORCE)"
        )


def copy_database(backend: str, templates: Templates, directory: Path) -> tuple[str, callable]:
    """A fresh copy of the fixture database; returns its URL and a function that drops it."""
    if backend == "sqlite":
        path = directory / f"gateway-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(templates.sqlite(), path)
        return f"sqlite:///{path}", lambda: None
    admin_url = _pg_admin_url()
    template = templates.postgresql(admin_url)
    name = f"gw_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_execute(admin_url, f"CREATE DATABASE {name} TEMPLATE {template}")
    return _pg_url(admin_url, name), lambda: _pg_drop_later(admin_url, name)


def empty_database(backend: str, directory: Path) -> tuple[str, callable]:
    """A database with nothing in it, not even the schema; returns its URL and a function that drops it."""
    if backend == "sqlite":
        return f"sqlite:///{directory / f'empty-{uuid.uuid4().hex[:8]}.db'}", lambda: None
    admin_url = _pg_admin_url()
    name = f"gw_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_execute(admin_url, f"CREATE DATABASE {name}")
    return _pg_url(admin_url, name), lambda: _pg_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, templates: Templates, tmp_path: Path) -> Iterator[str]:
    url, drop = copy_database(request.param, templates, tmp_path)
    yield url
    drop()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return test_settings(database_url, login_failure_limit=5)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.close()


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Gateway]:
    """gateway in-process, behind the same middleware stack gunicorn serves."""
    app = make_app(settings)
    yield app
    app.close()


@pytest.fixture
def client(gateway: Gateway) -> Client:
    return Client(gateway)


# -- the console ------------------------------------------------------------------------------------------


def run_console(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`gateway ARGS` run in this process by click's CliRunner, with `env` as the whole environment.

    What the console prints and its exit status, as the process would give them, without a Python
    start-up per command. An exception the console does not turn into a one-line refusal is raised
    here (the process would end with a traceback). real_console runs the installed entry point.
    """
    from click.testing import CliRunner

    from gateway.cli import main

    env = dict(os.environ) if env is None else env
    changes = {key: value for key, value in env.items() if os.environ.get(key) != value}
    changes.update({key: None for key in os.environ if key not in env})
    args = [str(arg) for arg in args]
    result = CliRunner().invoke(main, args, env=changes, catch_exceptions=False, prog_name="gateway")
    return subprocess.CompletedProcess(["gateway", *args], result.exit_code, result.stdout, result.stderr)


def refused(result: subprocess.CompletedProcess, words: str) -> None:
    """The console's refusal: exit status 1, nothing on stdout, one line on stderr that names the problem."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: "), result.stderr
    assert words in result.stderr, result.stderr


def real_console(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`gateway ARGS` as a process of the installed console script."""
    return subprocess.run([str(GATEWAY_BIN), *map(str, args)], env=env, capture_output=True, text=True, timeout=120)


# -- gateway under gunicorn ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Server:
    url: str
    database_url: str
    env: dict[str, str]
    log_path: Path

    def gateway(self, *args: str) -> subprocess.CompletedProcess:
        """Run the console (in this process) against the served database."""
        return run_console(*args, env=self.env)

    def log(self) -> str:
        """What the server has written to stderr (gunicorn's error log and gateway's own log) so far."""
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def gateway_serving(gateway: Path, env: dict[str, str], cwd: Path | None = None) -> Iterator[tuple[str, Path]]:
    """`<gateway> serve` on a free port until it answers /health; yields its base URL and its stderr log.

    `gateway` is the console script to run: the checkout's, or one installed elsewhere (the wheel test).
    """
    port = free_port()
    descriptor, log_name = tempfile.mkstemp(prefix="gateway-serve-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(descriptor, "wb") as log:
        process = subprocess.Popen(
            [str(gateway), "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or too busy to answer
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield base, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def serving(database_url: str, **extra_env: str) -> Iterator[Server]:
    """gateway under gunicorn (`gateway serve`) on a free port, with GATEWAY_* settings added to the environment.

    Without GATEWAY_PUBLIC_URL in `extra_env` the server advertises its bind address, as `gateway serve` does.
    """
    env = {key: value for key, value in os.environ.items() if key != "GATEWAY_PUBLIC_URL"}
    env.update(
        {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_WEBSERVICE_REFRESH_INTERVAL": "1",
            "GATEWAY_WORKERS": "2",
            **extra_env,
        }
    )
    with gateway_serving(GATEWAY_BIN, env) as (base, log_path):
        yield Server(base, database_url, env, log_path)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url, drop = copy_database(request.param, templates, tmp_path_factory.mktemp("server"))
    try:
        with serving(url) as running:
            yield running
    finally:
        drop()


# -- PGP keys and S/MIME certificates (tests/keys.py) ----------------------------------------------------


@pytest.fixture(scope="session")
def keys() -> Iterator[object]:
    """Key material made once per session by the real gpg and openssl: a tests.keys.KeyMaterial."""
    from tests.keys import generate, remove_material, short_tempdir

    material = generate(short_tempdir("gwk"))
    yield material
    remove_material(material)


@pytest.fixture(scope="session")
def key_stores_template(keys: object) -> Iterator[Settings]:
    from tests.keys import make_stores, remove_stores, short_tempdir

    stores = make_stores(keys, short_tempdir("gwt"))
    yield stores
    remove_stores(stores)


@pytest.fixture
def crypto_settings(key_stores_template: Settings) -> Iterator[Settings]:
    """Settings whose key stores are a fresh copy of the populated ones (see tests/keys.py)."""
    from tests.keys import copy_stores, remove_stores, short_tempdir

    stores = copy_stores(key_stores_template, short_tempdir("gws"))
    yield stores
    remove_stores(stores)
