"""One settings object: conf/gateway.ini, overridden key by key by GATEWAY_<KEY> variables.

The file gives the defaults a new installation runs with; the environment is how
container and CI set-ups change them without editing files. Unknown GATEWAY_*
variables are ignored, unknown keys in the file are an error (a typo should not be
silently ignored).
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import socket
from pathlib import Path

from gateway.wirenumbers import integer

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONF_DIR = Path(os.environ.get("GATEWAY_CONF_DIR", PROJECT_DIR / "conf"))
# where `gateway serve` listens unless told otherwise, and so what an app built without it advertises
DEFAULT_BIND = "127.0.0.1:8080"
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/gateway.db"
    database_pool_size: int = 4
    public_url: str = ""  # empty: see advertised_url
    system_id: str = "10"
    timezone: str = "UTC"
    session_max_idle_time: int = 7200
    session_max_time: int = 57600
    auth_cache_ttl: int = 300
    login_failure_limit: int = 10
    login_failure_window: int = 300
    impersonation_group: str = "admin"
    customer_group_support: int = 0
    communication_log_days: int = 7
    webservice_refresh_interval: float = 2.0
    max_request_size: int = 100 * 1024 * 1024
    # outgoing mail (ArticleSend): keys, composition, delivery
    gnupghome: str = "var/gnupg"
    smime_cert_dir: str = "var/smime/certs"
    smime_private_dir: str = "var/smime/private"
    fqdn: str = ""
    ticket_hook: str = "Ticket#"
    ticket_subject_format: str = "Left"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_security: str = "none"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 30.0
    mail_batch_size: int = 50
    mail_max_attempts: int = 10
    mail_retry_delay: float = 60.0
    mail_retry_max_delay: float = 3600.0
    mail_claim_timeout: float = 300.0
    mail_poll_interval: float = 5.0

    @property
    def presets_dir(self) -> Path:
        return CONF_DIR / "presets"


def advertised_url(public_url: str, bind: str = DEFAULT_BIND) -> str:
    """The base URL the WSDL and OpenAPI documents name: public_url when configured, else the bind address.

    Never the request's Host header: whoever could send one would decide where clients send
    their passwords. `bind` is gunicorn's HOST:PORT (``[::1]:8080`` for IPv6; no port is
    gunicorn's 8000). A wildcard bind (``0.0.0.0``, ``[::]``) is reached from other machines,
    so it is advertised under this machine's host name (``socket.gethostname()``, no DNS
    lookup that could hang start-up), which other machines on a LAN can usually resolve;
    127.0.0.1 would send them to themselves. A unix socket or a passed file descriptor has
    no URL of its own (the proxy in front has it): then public_url is required, and its
    absence is a ValueError.
    """
    if public_url:
        return public_url
    if bind.startswith(("unix:", "fd://")):
        raise ValueError(f"--bind {bind}: a socket has no address clients can use;"
                         " set public_url to the address of the proxy in front of it")
    host, colon, port = bind.rpartition(":") if not bind.endswith("]") else (bind, "", "")
    if not colon or integer(port, high=65535) is None:
        host, port = bind, "8000"
    if host in _WILDCARDS:
        host = socket.gethostname()
    return f"http://{host}:{port}"


def load(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the settings file, then apply GATEWAY_<KEY> overrides."""
    environ = os.environ if environ is None else environ
    path = Path(environ.get("GATEWAY_CONFIG", path or CONF_DIR / "gateway.ini"))
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    raw: dict[str, str] = {}
    if path.exists():
        parser = configparser.ConfigParser()
        parser.read(path, encoding="utf-8")
        if parser.has_section("gateway"):
            for key, value in parser.items("gateway"):
                if key not in fields:
                    raise ValueError(f"{path}: unknown setting {key!r}")
                raw[key] = value
    for name in fields:
        env_value = environ.get(f"GATEWAY_{name.upper()}")
        if env_value is not None:
            raw[name] = env_value
    values = {}
    for name, value in raw.items():
        kind = fields[name].type
        try:
            values[name] = int(value) if kind == "int" else float(value) if kind == "float" else value
        except ValueError:
            raise ValueError(f"setting {name}: {value!r} is not a number") from None
    settings = Settings(**values)
    if settings.smtp_security not in ("none", "starttls", "ssl"):
        raise ValueError(f"setting smtp_security: {settings.smtp_security!r} is not none, starttls or ssl")
    if settings.ticket_subject_format not in ("Left", "Right", "None"):
        raise ValueError(f"setting ticket_subject_format: {settings.ticket_subject_format!r}"
                         " is not Left, Right or None")
    return dataclasses.replace(settings, database_url=_absolute_sqlite(settings.database_url),
                               **{key: _absolute(getattr(settings, key)) for key in KEY_STORES})


KEY_STORES = ("gnupghome", "smime_cert_dir", "smime_private_dir")


def _absolute(path: str) -> str:
    """Key stores given relative are relative to the project directory, like the SQLite file."""
    return str(PROJECT_DIR / path) if path and not Path(path).is_absolute() else path


def _absolute_sqlite(url: str) -> str:
    """sqlite:///var/x.db is relative to the project directory, so every command finds the same file."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/") and url != "sqlite:///:memory:":
        return prefix + str(PROJECT_DIR / url[len(prefix):])
    return url
