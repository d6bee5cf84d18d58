"""Web services as an administrator manages them: add from a preset or a Znuny export, edit, clone,
enable and disable, delete, and go back to an earlier configuration.

A configuration is parsed exactly as the server will read it before it is stored, so a web service
that is in the database can always be served. Every change is recorded (who, what) in the change
history in the transaction that makes it, and every configuration a web service gets is kept as its
next numbered version: restoring an old one makes it the newest, so the history only grows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib

from gateway.admin import yamlsecrets
from gateway.admin.directory import require
from gateway.errors import AdminError, ConfigError
from gateway.settings import Settings
from gateway.store import commlog, history, webservices
from gateway.store.database import Database, Row, Transaction, as_datetime
from gateway.webservice import config as ws_config
from gateway.webservice import presets
from gateway.webservice.endpoint import build

# the listing shows transport and operations only; MaxLength (what the size bounds) is not shown
_ANY_SIZE = 2**31


@dataclasses.dataclass(frozen=True)
class WebserviceSummary:
    """One line of the web-service list, with its last request (None: never asked)."""

    id: int
    name: str
    valid: bool
    transport: str  # ws_config.REST, ws_config.SOAP, or "" (requester only, or a configuration that fails)
    operations: tuple[str, ...]
    last_request_time: dt.datetime | None
    last_status: int | None
    last_error_code: str | None
    change_time: dt.datetime
    broken: bool = False  # the stored configuration does not parse: it cannot be served


@dataclasses.dataclass(frozen=True)
class WebserviceDetail:
    id: int
    name: str
    valid: bool
    config: ws_config.WebserviceConfig | None  # None: the stored text does not parse (problem says why)
    text: str
    create_time: dt.datetime
    change_time: dt.datetime
    problem: str = ""


def available_presets() -> dict[str, str]:
    """The presets `add_webservice` can add, name -> description."""
    return presets.available()


def add_webservice(
    db: Database,
    settings: Settings,
    name: str,
    *,
    preset: str | None = None,
    text: str | None = None,
    source: str = "",
    actor: str,
) -> int:
    """A new web service from a preset or from a Znuny export's text (`source` names it in messages); its ID."""
    name = _new_name(name)
    if preset is not None and text is None:
        try:
            text = presets.read(preset)
        except KeyError:
            raise AdminError(f"there is no preset {preset!r} (presets: {', '.join(presets.available())})") from None
        what, action, detail = f"preset {preset}", "add", f"from preset {preset}"
    elif text is not None and preset is None:
        what, action, detail = source, "import", f"from {source}" if source else "from a Znuny export"
    else:
        raise AdminError("give exactly one of a preset and a configuration")
    _check(settings, name, text, what)
    with db.transaction() as tx:
        _unused(tx, name)
        webservice_id = webservices.add(tx, name, text)
        history.add_version(tx, webservice_id, text, actor)
        history.record(tx, history.WEBSERVICE, webservice_id, name, actor, action, detail)
    return webservice_id


def update_webservice(db: Database, settings: Settings, name: str, text: str, *, actor: str) -> int:
    """A new configuration; its version number. The same text again is refused ("unchanged"): saving
    nothing would record a version that is no change."""
    _check(settings, name, text, "")
    with db.transaction() as tx:
        row = _existing(tx, name)
        if row["config"] == text:
            raise AdminError(f"the configuration of web service {name!r} is unchanged")
        webservices.update(tx, name, text)
        number = history.add_version(tx, row["id"], text, actor)
        history.record(tx, history.WEBSERVICE, row["id"], name, actor, "update", f"version {number}")
    return number


def clone_webservice(db: Database, settings: Settings, name: str, new_name: str, *, actor: str) -> int:
    """A copy of a web service's configuration under a new name (valid, with its own history); the new ID."""
    new_name = _new_name(new_name)
    with db.transaction() as tx:
        row = _existing(tx, name)
        _check(settings, new_name, row["config"], f"{name} cannot be served, so not cloned")
        _unused(tx, new_name)
        webservice_id = webservices.add(tx, new_name, row["config"])
        history.add_version(tx, webservice_id, row["config"], actor)
        history.record(tx, history.WEBSERVICE, webservice_id, new_name, actor, "clone", f"from {name}")
    return webservice_id


def set_webservice_valid(db: Database, name: str, valid: bool, *, actor: str) -> None:
    """Enable or disable: a disabled web service answers 404 like a deleted one, and keeps everything.
    Asking for the state it is in is refused, so the history records only changes."""
    action = "enable" if valid else "disable"
    with db.transaction() as tx:
        row = _existing(tx, name)
        if (row["valid_id"] == 1) == valid:
            raise AdminError(f"web service {name!r} is already {action}d")
        webservices.set_valid(tx, name, valid)
        detail = "served again" if valid else "no longer served (answers 404)"
        history.record(tx, history.WEBSERVICE, row["id"], name, actor, action, detail)


def delete_webservice(db: Database, name: str, *, actor: str) -> None:
    """Deletes its configurations and its communication log, as Znuny deletes its debugger log (no page
    could reach them: a new web service of the name is another one); its change history stays, for the
    record."""
    with db.transaction() as tx:
        row = _existing(tx, name)
        webservices.delete(tx, name)
        count = len(history.versions(tx, row["id"]))
        history.delete_versions(tx, row["id"])
        logged = commlog.delete_webservice(tx, row["id"])
        history.record(
            tx,
            history.WEBSERVICE,
            row["id"],
            name,
            actor,
            "delete",
            f"{count} version{'s' * (count != 1)}, {logged} log entr{'ies' if logged != 1 else 'y'}",
        )


def restore_webservice_version(db: Database, settings: Settings, name: str, version: int, *, actor: str) -> int:
    """An earlier configuration becomes the newest version (the one in between stays); its number.
    Restoring what is the configuration now is refused as unchanged."""
    with db.transaction() as tx:
        row = _existing(tx, name)
        text = _version_text(tx, row, version)
        if text == row["config"]:
            raise AdminError(f"version {version} is the configuration web service {name!r} has now")
        _check(settings, name, text, f"version {version}")  # a version stored by an older gateway
        webservices.update(tx, name, text)
        number = history.add_version(tx, row["id"], text, actor)
        detail = f"version {version} restored as version {number}"
        history.record(tx, history.WEBSERVICE, row["id"], name, actor, "restore", detail)
    return number


def webservice_versions(db: Database, name: str) -> list[Row]:
    """version, create_by, create_time (datetime); newest first."""
    with db.transaction(write=False) as tx:
        rows = history.versions(tx, _existing(tx, name)["id"])
    return [{**row, "create_time": as_datetime(row["create_time"])} for row in rows]


def webservice_version_text(db: Database, name: str, version: int) -> str:
    with db.transaction(write=False) as tx:
        return _version_text(tx, _existing(tx, name), version)


def version_diff(
    db: Database, name: str, version: int, against: int | None = None, *, hide_secrets: bool = False
) -> list[str]:
    """Unified diff lines (no line ends) from `version` to `against` (None: the configuration now); with
    hide_secrets, of the texts as the pages show them (a changed password shows as a changed line)."""
    with db.transaction(write=False) as tx:
        row = _existing(tx, name)
        old = _version_text(tx, row, version)
        new = row["config"] if against is None else _version_text(tx, row, against)
    if hide_secrets:
        old, new = yamlsecrets.mask(old), yamlsecrets.mask(new)
    return list(
        difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            f"version {version}",
            "current" if against is None else f"version {against}",
            lineterm="",
        )
    )


def webservice_changes(db: Database, name: str) -> list[Row]:
    """actor, action, detail, create_time (datetime), ...; newest first. A deleted web service has none
    here (its name may be reused); recent_changes shows what happened to it."""
    with db.transaction(write=False) as tx:
        rows = history.changes(tx, history.WEBSERVICE, _existing(tx, name)["id"])
    return [{**row, "create_time": as_datetime(row["create_time"])} for row in rows]


def recent_changes(db: Database, limit: int = 20) -> list[Row]:
    """Every web service's changes, deleted ones too (object_name), newest first."""
    with db.transaction(write=False) as tx:
        rows = history.changes(tx, history.WEBSERVICE, None, limit)
    return [{**row, "create_time": as_datetime(row["create_time"])} for row in rows]


def export_webservice(db: Database, name: str) -> str:
    with db.transaction(write=False) as tx:
        config: str = _existing(tx, name)["config"]
    return config


def list_webservices(db: Database) -> list[WebserviceSummary]:
    """Every web service in ID order, with its last request, from one statement."""
    with db.transaction(write=False) as tx:
        rows = webservices.listing(tx)
    return [_summary(row) for row in rows]


def webservice(db: Database, settings: Settings, name: str) -> WebserviceDetail:
    """A stored text that does not parse (written by hand, or by an older gateway) is shown with the
    problem rather than refused: it can still be corrected, exported or deleted."""
    with db.transaction(write=False) as tx:
        row = _existing(tx, name)
    try:
        config, problem = ws_config.parse(row["id"], row["name"], row["config"], settings.max_request_size), ""
    except ConfigError as error:
        config, problem = None, str(error)
    return WebserviceDetail(
        id=row["id"],
        name=row["name"],
        valid=row["valid_id"] == 1,
        config=config,
        text=row["config"],
        create_time=as_datetime(row["create_time"]),
        change_time=as_datetime(row["change_time"]),
        problem=problem,
    )


def webservice_log(db: Database, name: str, limit: int) -> list[Row]:
    with db.transaction(write=False) as tx:
        return commlog.latest(tx, _existing(tx, name)["id"], limit)


def ensure_presets(db: Database, settings: Settings, *, actor: str = "setup") -> list[str]:
    """Add every preset that has no web service of its name yet; return those added."""
    added = []
    for name in presets.available():
        with db.transaction(write=False) as tx:
            exists = webservices.by_name(tx, name) is not None
        if not exists:
            add_webservice(db, settings, name, preset=name, actor=actor)
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


# -- checks ---------------------------------------------------------------------------------------------


def _new_name(name: str) -> str:
    name = require(name, "web service name")
    if "/" in name or ".." in name or name == ".":
        raise AdminError(f"web service name {name!r} must not be '.' or contain '/' or '..'")
    if not name.isprintable():  # a line break or tab would end up in URLs, headers and the change history
        raise AdminError(f"web service name {name!r} must not contain control characters")
    if len(name) > 200:
        raise AdminError(f"web service name {name[:20]!r}... is longer than 200 characters")
    return name


def _check(settings: Settings, name: str, text: str, source: str) -> None:
    """Parse as the server will: the ConfigError's text (YAML errors with line and column) is the refusal."""
    try:
        ws_config.parse(0, name, text, settings.max_request_size)
    except ConfigError as error:
        raise AdminError(f"{source}: {error}" if source else str(error)) from None


def _existing(tx: Transaction, name: str) -> Row:
    row = webservices.by_name(tx, name)
    if row is None:
        raise AdminError(f"there is no web service {name!r}")
    return row


def _unused(tx: Transaction, name: str) -> None:
    if webservices.by_name(tx, name) is not None:
        raise AdminError(f"there is another web service with the same name ({name!r})")


def _version_text(tx: Transaction, row: Row, version: int) -> str:
    text = history.version(tx, row["id"], version)
    if text is None:
        raise AdminError(f"web service {row['name']!r} has no version {version}")
    return text


def _summary(row: Row) -> WebserviceSummary:
    try:
        parsed = ws_config.parse(row["id"], row["name"], row["config"], _ANY_SIZE)
        transport, operations, broken = parsed.transport, tuple(sorted(parsed.operations)), False
    except ConfigError:  # stored by hand or by an older gateway: the list still shows it, as broken
        transport, operations, broken = "", (), True
    return WebserviceSummary(
        id=row["id"],
        name=row["name"],
        valid=row["valid_id"] == 1,
        transport=transport,
        operations=operations,
        last_request_time=as_datetime(row["last_request_time"]),
        last_status=row["last_status"],
        last_error_code=row["last_error_code"],
        change_time=as_datetime(row["change_time"]),
        broken=broken,
    )
