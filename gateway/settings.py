"""One settings object: the defaults in Settings, then the settings file, then GATEWAY_<KEY> variables.

Each field of Settings is one setting, its default and its documentation (the string below
it) written only here; `gateway settings` prints them all, with the values in force, as a
commented ini file. The settings file holds only what an installation changes; the
environment is how container and CI set-ups change them without editing files. Unknown
GATEWAY_* variables are ignored, unknown keys in the file are an error (a typo should not be
silently ignored).

Where: an installation is a directory, GATEWAY_HOME or else the working directory (a
checkout's `make run` and `make test` run in the checkout, so it is the checkout). The
settings file is GATEWAY_CONFIG, else conf/gateway.ini in that directory, and may be absent
(then the defaults hold). Relative paths in settings (sqlite:///var/gateway.db, var/gnupg,
...) are relative to that directory, so every command of one installation finds the same files.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import inspect
import ipaddress
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.errors import SettingsError
from gateway.wirenumbers import integer

# where `gateway serve` listens unless told otherwise, and so what an app built without it advertises
DEFAULT_BIND = "127.0.0.1:8080"
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/gateway.db"
    """sqlite:///relative/or/absolute/path.db (relative to the installation's directory)
    or postgresql://user:password@host:port/dbname (postgresql:///dbname = local socket)"""
    database_pool_size: int = 5
    """PostgreSQL connection pool size per gateway process: two per worker thread (2 threads in
    gateway serve; a TicketCreate takes its ticket number on a second connection) and one for the
    communication log's writer, so no request waits for a connection another holds; raise it with
    the threads"""
    database_timeout: float = 3.0
    """seconds a request waits for the database: to connect to PostgreSQL (whole seconds, at least 2),
    for a pooled connection. Then it is answered 503 with Retry-After, and while PostgreSQL stays
    unreachable the following requests are answered so at once"""
    database_lock_timeout: float = 15.0
    """seconds a write waits for a lock other writers hold: SQLite's write lock, which the writers of
    one file take in turn (under load a wait of seconds is normal), and PostgreSQL's lock_timeout.
    Then it is answered 503 with Retry-After, its transaction rolled back"""
    database_statement_timeout: float = 30.0
    """seconds a PostgreSQL statement of gateway serve may run: PostgreSQL's statement_timeout.
    A cancelled statement is answered 503 with Retry-After, its transaction rolled back. A server
    that stops answering (a frozen machine, which TCP does not notice) has the connection cut
    database_timeout later, and counts as unreachable. 0: no bound. Console commands are never
    bounded: a demo load or other maintenance may take long"""
    public_url: str = ""
    """the address clients use to reach this server, written into the generated WSDL (its
    soap:address) and the OpenAPI documents. Empty: http://HOST:PORT of `gateway serve --bind`
    (`make run BIND=...`); a wildcard bind (0.0.0.0, [::]) advertises this machine's host name,
    a unix socket needs public_url. Set it when clients come through a proxy or TLS, e.g.
    https://helpdesk.example.com. The request's Host header never decides it."""
    system_id: str = "10"
    """Znuny's SystemID: part of every ticket number"""
    timezone: str = "UTC"
    """Znuny's OTRSTimeZone: times are stored in UTC and shown in this zone"""
    session_max_idle_time: int = 7200
    """Znuny's SessionMaxIdleTime, in seconds"""
    session_max_time: int = 57600
    """Znuny's SessionMaxTime, in seconds"""
    auth_cache_ttl: int = 300
    """seconds a successful password check is remembered by a process (Znuny: CachedAuth 300)"""
    login_failure_limit: int = 10
    """failed logins allowed per login from one client address within login_failure_window; past
    it that address is refused for that login (even the right password), other addresses are not"""
    login_failure_address_limit: int = 50
    """failed logins allowed from one client address, whatever the logins, within login_failure_window"""
    login_failure_window: int = 300
    """seconds over which failed logins are counted; older failures are forgotten"""
    trusted_proxies: str = ""
    """addresses or networks (CIDR) of the proxies in front of gateway, separated by commas or spaces,
    e.g. 127.0.0.1, 10.0.0.0/8. A request from one of them is counted under the address it names in
    X-Forwarded-For (the rightmost entry that is not itself a trusted proxy); empty: every request
    is the address it comes from, and X-Forwarded-For is ignored. The word unix trusts a proxy that
    connects over a unix socket (gateway serve --bind unix:PATH), which has no address of its own"""
    metrics_allowed: str = "127.0.0.1, ::1"
    """addresses or networks (CIDR) that may read /metrics (Prometheus text), separated by commas or
    spaces; behind trusted_proxies, the client's address counts. Empty: /metrics answers 403 to all"""
    metrics_dir: str = ""
    """the directory where gateway serve's workers keep their metric files (prometheus-client's
    multiprocess mode), e.g. /run/gateway/metrics on tmpfs; its old metric files are removed at
    start. Empty: a temporary directory per start, removed when the server stops"""
    log_format: str = "text"
    """the request log's lines (one per request: request id, client, request line, web service,
    operation, status, milliseconds, bytes): text, or json (one object per line, for a log shipper)"""
    impersonation_group: str = "admin"
    """agents with rw on this group may use X-OTRS-Header-ImpersonateAsUser"""
    customer_group_support: int = 0
    """Znuny's CustomerGroupSupport: 0 lets customer users create tickets in every queue; 1 limits
    them to the groups granted to them or their company (group_customer_user, group_customer)"""
    communication_log_days: int = 7
    """days the communication log of each web service is kept"""
    webservice_refresh_interval: float = 2.0
    """seconds between checks for web services changed by another process"""
    max_request_size: int = 100 * 1024 * 1024
    """hard upper limit for any request body, in bytes (a web service's MaxLength may only lower it)"""
    header_timeout: float = 10.0
    """seconds a client has to send a request's line and headers (from connecting, or from the first
    byte of the next request on a kept-alive connection); then it is answered 408 and disconnected"""
    body_timeout: float = 30.0
    """seconds a client has to send a request body, plus one per body_min_rate bytes of its
    Content-Length (a chunked body: of at most body_buffer); also the longest a client may leave an
    answer unread. Then the request is answered 408 and disconnected"""
    body_min_rate: int = 2048
    """bytes per second of a request body that extend body_timeout by one second: a large upload on a
    slow line passes, a trickle does not"""
    body_buffer: int = 1024 * 1024
    """bytes of a request body the server's event loop reads before a thread takes the request: a
    smaller body arrives at any pace at the cost of a file descriptor, a larger one takes a thread"""
    password_time_cost: int = 3
    """Argon2id passes of a new password hash (argon2-cffi's default, RFC 9106's low-memory profile);
    a stored hash keeps the cost it was made with"""
    password_memory_cost: int = 65536
    """KiB of memory of a new password hash (argon2-cffi's default; at least 32)"""
    # outgoing mail (ArticleSend): keys, composition, delivery
    gnupghome: str = "var/gnupg"
    """the gateway's own gpg keyring (`gateway pgp import`); relative to the installation's directory"""
    smime_cert_dir: str = "var/smime/certs"
    """the S/MIME certificates (`gateway smime ...`); relative to the installation's directory"""
    smime_private_dir: str = "var/smime/private"
    """the S/MIME private keys (`gateway smime ...`); relative to the installation's directory"""
    fqdn: str = ""
    """the domain of generated Message-IDs (empty: this machine's FQDN)"""
    ticket_hook: str = "Ticket#"
    """Znuny's Ticket::Hook"""
    ticket_subject_format: str = "Left"
    """Znuny's Ticket::SubjectFormat: Left, Right or None"""
    smtp_host: str = "localhost"
    """the SMTP server the mail worker delivers to"""
    smtp_port: int = 25
    """the SMTP server's port"""
    smtp_security: str = "none"
    """none, starttls or ssl"""
    smtp_user: str = ""
    """the SMTP login (empty: no authentication)"""
    smtp_password: str = ""
    """the SMTP password"""
    smtp_timeout: float = 30.0
    """seconds per SMTP operation"""
    mail_batch_size: int = 50
    """messages a worker claims at once"""
    mail_max_attempts: int = 10
    """a message that still fails temporarily after this many attempts is marked failed"""
    mail_retry_delay: float = 60.0
    """seconds before the first retry; doubled per attempt up to mail_retry_max_delay"""
    mail_retry_max_delay: float = 3600.0
    """the longest wait between two attempts, in seconds"""
    mail_claim_timeout: float = 300.0
    """seconds a claimed message belongs to its worker; a crashed worker's messages are taken over after it"""
    mail_poll_interval: float = 5.0
    """seconds the worker sleeps when the outbox is empty"""


# settings `gateway settings` never prints
SECRETS = ("smtp_password",)


def advertised_url(public_url: str, bind: str = DEFAULT_BIND) -> str:
    """The base URL the WSDL and OpenAPI documents name: public_url when configured, else the bind address.

    Never the request's Host header: whoever could send one would decide where clients send
    their passwords. `bind` is gunicorn's HOST:PORT (``[::1]:8080`` for IPv6; no port is
    gunicorn's 8000). A wildcard bind (``0.0.0.0``, ``[::]``) is reached from other machines,
    so it is advertised under this machine's host name (``socket.gethostname()``, no DNS
    lookup that could hang start-up), which other machines on a LAN can usually resolve;
    127.0.0.1 would send them to themselves. A unix socket or a passed file descriptor has
    no URL of its own (the proxy in front has it): then public_url is required, and its
    absence is a SettingsError.
    """
    if public_url:
        return public_url
    if bind.startswith(("unix:", "fd://")):
        raise SettingsError(
            f"--bind {bind}: a socket has no address clients can use;"
            " set public_url to the address of the proxy in front of it"
        )
    host, colon, port = bind.rpartition(":") if not bind.endswith("]") else (bind, "", "")
    if not colon or integer(port, high=65535) is None:
        host, port = bind, "8000"
    if host in _WILDCARDS:
        host = socket.gethostname()
    return f"http://{host}:{port}"


def home(environ: Mapping[str, str] | None = None) -> Path:
    """The installation's directory: GATEWAY_HOME, else the working directory."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("GATEWAY_HOME") or os.getcwd()).resolve()


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The settings file: GATEWAY_CONFIG, else conf/gateway.ini in the installation's directory."""
    environ = os.environ if environ is None else environ
    named = environ.get("GATEWAY_CONFIG")
    return Path(named) if named else home(environ) / "conf" / "gateway.ini"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file, then apply GATEWAY_<KEY> overrides.

    A file named by GATEWAY_CONFIG must exist; the default one may be absent.
    """
    environ = os.environ if environ is None else environ
    path = config_path(environ)
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    raw: dict[str, str] = {}
    if environ.get("GATEWAY_CONFIG") and not path.is_file():
        raise SettingsError(f"{path}: no such settings file")
    if path.exists():
        parser = configparser.ConfigParser()
        parser.read(path, encoding="utf-8")
        if parser.has_section("gateway"):
            for key, value in parser.items("gateway"):
                if key not in fields:
                    raise SettingsError(f"{path}: unknown setting {key!r}")
                raw[key] = value
    for name in fields:
        env_value = environ.get(f"GATEWAY_{name.upper()}")
        if env_value is not None:
            raw[name] = env_value
    values: dict[str, Any] = {}  # each value of its field's type, which is known at run time only
    for name, value in raw.items():
        kind = fields[name].type
        try:
            values[name] = int(value) if kind == "int" else float(value) if kind == "float" else value
        except ValueError:
            raise SettingsError(f"setting {name}: {value!r} is not a number") from None
    settings = Settings(**values)
    if settings.database_timeout <= 0:
        raise SettingsError(f"setting database_timeout: {settings.database_timeout!r} is not a positive number")
    if settings.database_lock_timeout <= 0:
        raise SettingsError(f"setting database_lock_timeout: {settings.database_lock_timeout!r} is not positive")
    if settings.database_statement_timeout < 0:
        raise SettingsError(f"setting database_statement_timeout: {settings.database_statement_timeout!r} is negative")
    if settings.smtp_security not in ("none", "starttls", "ssl"):
        raise SettingsError(f"setting smtp_security: {settings.smtp_security!r} is not none, starttls or ssl")
    if settings.password_time_cost < 1 or settings.password_memory_cost < MIN_PASSWORD_MEMORY_COST:
        raise SettingsError(
            f"settings password_time_cost and password_memory_cost: at least 1 and {MIN_PASSWORD_MEMORY_COST} (KiB)"
        )
    if min(settings.header_timeout, settings.body_timeout, settings.body_min_rate) <= 0:
        raise SettingsError("settings header_timeout, body_timeout and body_min_rate: more than 0")
    if settings.body_buffer < 0:
        raise SettingsError("setting body_buffer: 0 or more")
    if settings.ticket_subject_format not in ("Left", "Right", "None"):
        raise SettingsError(
            f"setting ticket_subject_format: {settings.ticket_subject_format!r} is not Left, Right or None"
        )
    if settings.log_format not in ("text", "json"):
        raise SettingsError(f"setting log_format: {settings.log_format!r} is not text or json")
    proxy_networks(settings.trusted_proxies)  # a typo is refused at start, not ignored per request
    proxy_networks(settings.metrics_allowed, "metrics_allowed")
    base = home(environ)
    key_stores: dict[str, Any] = {key: _absolute(getattr(settings, key), base) for key in KEY_STORES}
    return dataclasses.replace(settings, database_url=_absolute_sqlite(settings.database_url, base), **key_stores)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


UNIX_PEER = "unix"  # in trusted_proxies: a proxy on a unix socket


def proxy_networks(value: str, setting: str = "trusted_proxies") -> tuple[Network, ...]:
    """The networks of trusted_proxies (or another setting of addresses); a single address is a network of one."""
    try:
        return tuple(
            ipaddress.ip_network(item, strict=False) for item in value.replace(",", " ").split() if item != UNIX_PEER
        )
    except ValueError as error:
        raise SettingsError(f"setting {setting}: {error}") from None


def trusts_unix_peer(value: str) -> bool:
    return UNIX_PEER in value.replace(",", " ").split()


MIN_PASSWORD_MEMORY_COST = 32  # Argon2's least: 8 KiB per lane, argon2-cffi's 4 lanes
KEY_STORES = ("gnupghome", "smime_cert_dir", "smime_private_dir")


def _absolute(path: str, base: Path) -> str:
    """Key stores given relative are relative to the installation's directory, like the SQLite file."""
    return str(base / path) if path and not Path(path).is_absolute() else path


def _absolute_sqlite(url: str, base: Path) -> str:
    """sqlite:///var/x.db is relative to the installation's directory, so every command finds the same file."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix) :].startswith("/") and url != "sqlite:///:memory:":
        return prefix + str(base / url[len(prefix) :])
    return url


def documentation() -> dict[str, str]:
    """Each setting's documentation: the string that follows its field in Settings (read from the source)."""
    (tree,) = ast.parse(inspect.getsource(Settings)).body
    assert isinstance(tree, ast.ClassDef)
    docs = {}
    for field, after in zip(tree.body, tree.body[1:], strict=False):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[field.target.id] = inspect.cleandoc(after.value.value)
    return docs


def as_ini(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """Every setting as a commented ini file: its documentation, its default, the value in force.

    What `gateway settings` prints: the generated reference of all settings, and a file an
    installation can start its own from. Secrets are shown only as set or not.
    """
    environ = os.environ if environ is None else environ
    path = config_path(environ)
    docs = documentation()
    lines = [
        "; gateway's settings: each one's documentation, its default and the value in force here.",
        f"; Read from: the defaults (gateway/settings.py), then {path}"
        f"{'' if path.exists() else ' (absent)'}, then GATEWAY_<KEY> variables (upper case).",
        f"; Relative paths are relative to {home(environ)} (GATEWAY_HOME, else the working directory).",
        "[gateway]",
    ]
    for field in dataclasses.fields(Settings):
        value = getattr(settings, field.name)
        lines += [
            "",
            *(f"; {line}".rstrip() for line in docs.get(field.name, "").splitlines()),
            f"; default: {_shown(field.name, field.default)}".rstrip(),
            f"{field.name} = {_shown(field.name, value)}".rstrip(),
        ]
    return "\n".join(lines) + "\n"


def _shown(name: str, value: object) -> str:
    if name in SECRETS and value:
        return "(set, not shown)"
    text = str(value)
    password = urlsplit(text).password if "://" in text else None
    return text.replace(f":{password}@", ":***@", 1) if password else text
