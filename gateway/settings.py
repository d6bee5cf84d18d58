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
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONF_DIR = Path(os.environ.get("GATEWAY_CONF_DIR", PROJECT_DIR / "conf"))


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/gateway.db"
    database_pool_size: int = 4
    public_url: str = "http://localhost:8080"
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

    @property
    def presets_dir(self) -> Path:
        return CONF_DIR / "presets"


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
    return dataclasses.replace(settings, database_url=_absolute_sqlite(settings.database_url))


def _absolute_sqlite(url: str) -> str:
    """sqlite:///var/x.db is relative to the project directory, so every command finds the same file."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/") and url != "sqlite:///:memory:":
        return prefix + str(PROJECT_DIR / url[len(prefix):])
    return url
