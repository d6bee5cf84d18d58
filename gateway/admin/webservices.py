"""Web services as an administrator manages them: add from a preset or a Znuny export, export, delete.

A configuration is parsed exactly as the server will read it before it is stored, so a
web service that is in the database can always be served.
"""

from __future__ import annotations

from pathlib import Path

from gateway.admin.directory import require
from gateway.errors import AdminError, ConfigError
from gateway.settings import Settings
from gateway.store import commlog, webservices
from gateway.store.database import Database, Row
from gateway.webservice import config as ws_config
from gateway.webservice import presets
from gateway.webservice.endpoint import build


def available_presets() -> dict[str, str]:
    """The presets `add_webservice` can add, name -> description."""
    return presets.available()


def add_webservice(
    db: Database, settings: Settings, name: str, preset: str | None = None, source_path: str | None = None
) -> int:
    name = require(name, "web service name")
    if "/" in name or ".." in name:
        raise AdminError(f"web service name {name!r} must not contain '/' or '..'")
    if (preset is None) == (source_path is None):
        raise AdminError("give exactly one of --preset and --source-path")
    if preset is not None:
        try:
            text, source = presets.read(preset), f"preset {preset}"
        except KeyError:
            raise AdminError(f"there is no preset {preset!r} (presets: {', '.join(presets.available())})") from None
    else:
        path = Path(source_path or "")
        if not path.is_file():
            raise AdminError(f"{source_path}: no such file")
        text, source = path.read_text(encoding="utf-8"), path.name
    try:
        ws_config.parse(0, name, text, settings.max_request_size)
    except ConfigError as error:
        raise AdminError(f"{source}: {error}") from None
    with db.transaction() as tx:
        if webservices.by_name(tx, name):
            raise AdminError(f"there is another web service with the same name ({name!r})")
        return webservices.add(tx, name, text)


def export_webservice(db: Database, name: str) -> str:
    with db.transaction(write=False) as tx:
        row = webservices.by_name(tx, name)
    if row is None:
        raise AdminError(f"there is no web service {name!r}")
    config: str = row["config"]
    return config


def delete_webservice(db: Database, name: str) -> None:
    with db.transaction() as tx:
        if not webservices.delete(tx, name):
            raise AdminError(f"there is no web service {name!r}")


def list_webservices(db: Database) -> list[Row]:
    with db.transaction(write=False) as tx:
        return webservices.listing(tx)


def webservice_log(db: Database, name: str, limit: int) -> list[Row]:
    with db.transaction(write=False) as tx:
        row = webservices.by_name(tx, name)
        if row is None:
            raise AdminError(f"there is no web service {name!r}")
        return commlog.latest(tx, row["id"], limit)


def ensure_presets(db: Database, settings: Settings) -> list[str]:
    """Add every preset that has no web service of its name yet; return those added."""
    added = []
    for name in presets.available():
        with db.transaction(write=False) as tx:
            exists = webservices.by_name(tx, name) is not None
        if not exists:
            add_webservice(db, settings, name, preset=name)
            added.append(name)
    return added


def preset_wsdls(settings: Settings, public_url: str) -> dict[str, bytes]:
    """The WSDL of every SOAP preset, as a server at `public_url` would serve it."""
    documents: dict[str, bytes] = {}
    for name in presets.available():
        parsed = ws_config.parse(0, name, presets.read(name), settings.max_request_size)
        if parsed.transport == ws_config.SOAP and (wsdl := build(parsed, public_url).wsdl) is not None:
            documents[name] = wsdl
    return documents
