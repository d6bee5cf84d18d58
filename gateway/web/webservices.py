"""The web-service pages: the list, add from a preset or a Znuny export, one web service's page,
its API description, export, edit, clone, enable/disable, delete, and its configuration history."""

from __future__ import annotations

from pathlib import PurePath
from urllib.parse import quote

from werkzeug import Response
from werkzeug.exceptions import NotFound

from gateway.admin import apipage, yamlsecrets
from gateway.admin import webservices as admin
from gateway.errors import AdminError
from gateway.settings import advertised_url
from gateway.web.page import Page

URL_PREFIX = "/otrs/nph-genericinterface.pl/Webservice/"
# the characters a Content-Disposition filename may have unquoted (an HTTP token)
_TOKEN = set("!#$&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def found(page: Page, name: str) -> admin.WebserviceDetail:
    try:
        return admin.webservice(page.runtime.db, page.runtime.settings, name)
    except AdminError:
        raise NotFound(f"There is no web service {name!r}.") from None


def served_path(name: str) -> str:
    return URL_PREFIX + quote(name, safe="")


def listing(page: Page, error: str = "", form: dict[str, str] | None = None, status: int = 200) -> Response:
    db = page.runtime.db
    return page.render(
        "webservices.html",
        status=status,
        webservices=sorted(admin.list_webservices(db), key=lambda ws: ws.name.lower()),
        presets=admin.available_presets(),
        changes=admin.recent_changes(db),
        error=error,
        form=form or {},
    )


def add(page: Page) -> Response:
    preset = page.request.form.get("Preset", "")
    name = page.request.form.get("Name", "").strip() or preset
    try:
        admin.add_webservice(page.runtime.db, page.runtime.settings, name, preset=preset or None, actor=page.actor)
    except AdminError as error:
        return listing(page, str(error), {"Preset": preset, "Name": name}, 400)
    return page.redirect("webservice", f"Added web service {name} from the preset {preset}.", name=name)


def import_file(page: Page) -> Response:
    upload = page.request.files.get("File")
    filename = PurePath((upload.filename if upload else "") or "").name
    name = page.request.form.get("Name", "").strip() or PurePath(filename).stem
    try:
        if upload is None or not filename:
            raise AdminError("choose a Znuny web-service export (a .yml file) to import")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise AdminError(f"{filename}: not UTF-8 text") from None
        admin.add_webservice(page.runtime.db, page.runtime.settings, name, text=text, source=filename, actor=page.actor)
    except AdminError as error:
        return listing(page, str(error), {"ImportName": name}, 400)
    return page.redirect("webservice", f"Imported web service {name} from {filename}.", name=name)


def _served(page: Page, name: str) -> str:
    return advertised_url(page.runtime.settings.public_url).rstrip("/") + served_path(name)


def show(page: Page, name: str, error: str = "", status: int = 200) -> Response:
    detail = found(page, name)
    config = detail.config
    return page.render(
        "webservice.html",
        status=status,
        error=error,
        ws=detail,
        config=config,
        served=_served(page, name),
        served_path=served_path(name),
        operations=apipage.operations(config, _served(page, name)) if config else [],
        soap_settings=apipage.soap_settings(config) if config else [],
        masked_text=yamlsecrets.mask(detail.text),
        changes=admin.webservice_changes(page.runtime.db, name),
    )


def api(page: Page, name: str) -> Response:
    detail = found(page, name)
    operations = apipage.operations(detail.config, _served(page, name)) if detail.config else []
    return page.render("api.html", ws=detail, operations=operations, served_path=served_path(name))


def export(page: Page, name: str) -> Response:
    try:
        text = admin.export_webservice(page.runtime.db, name)
    except AdminError:
        raise NotFound(f"There is no web service {name!r}.") from None
    response = Response(text, content_type="application/x-yaml; charset=utf-8")
    response.headers["Content-Disposition"] = _attachment(f"{name}.yml")
    return response


def _attachment(filename: str) -> str:
    """Content-Disposition for any name (RFC 6266): as a token, quoted, or an ASCII fallback and the name as
    UTF-8 (a header holds Latin-1 at most: a name in another script would be a 500)."""
    if set(filename) <= _TOKEN:
        return f"attachment; filename={filename}"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\%' else "_" for c in filename)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def edit_form(page: Page, name: str, error: str = "", text: str | None = None, status: int = 200) -> Response:
    detail = found(page, name)
    shown = yamlsecrets.mask(detail.text, numbered=True) if text is None else text
    return page.render(
        "edit.html", status=status, ws=detail, text=shown, error=error, version=_current_version(page, name)
    )


def _current_version(page: Page, name: str) -> int:
    versions = admin.webservice_versions(page.runtime.db, name)
    return int(versions[0]["version"]) if versions else 0


def update(page: Page, name: str) -> Response:
    """Saves over the version the form was made from only: its hidden values are numbered as that one's."""
    stored = found(page, name).text
    edited = page.request.form.get("Config", "").replace("\r\n", "\n")
    current = _current_version(page, name)
    if page.request.form.get("Version") != str(current):
        return edit_form(page, name, f"version {current} was saved meanwhile: this is it, edit it again", None, 409)
    try:
        text = yamlsecrets.unmask(edited, stored)
        version = admin.update_webservice(page.runtime.db, page.runtime.settings, name, text, actor=page.actor)
    except AdminError as error:  # the text as typed again, its hidden values still hidden
        return edit_form(page, name, str(error), edited, 400)
    return page.redirect("webservice", f"Saved the configuration as version {version}.", name=name)


def clone(page: Page, name: str) -> Response:
    found(page, name)
    new_name = page.request.form.get("NewName", "").strip()
    try:
        admin.clone_webservice(page.runtime.db, page.runtime.settings, name, new_name, actor=page.actor)
    except AdminError as error:
        return show(page, name, f"Not cloned: {error}", 400)
    return page.redirect("webservice", f"Cloned {name} as {new_name}.", name=new_name)


def set_valid(page: Page, name: str) -> Response:
    found(page, name)
    try:
        if page.request.form.get("Valid") not in ("0", "1"):
            raise AdminError("Valid must be 1 (enable) or 0 (disable)")
        valid = page.request.form["Valid"] == "1"
        admin.set_webservice_valid(page.runtime.db, name, valid, actor=page.actor)
    except AdminError as error:
        return show(page, name, str(error), 400)
    state = "enabled: served within seconds" if valid else "disabled: within seconds it answers 404 until enabled again"
    return page.redirect("webservice", f"{name} is {state}.", name=name)


def delete_form(page: Page, name: str) -> Response:
    return page.render("delete.html", ws=found(page, name))


def delete(page: Page, name: str) -> Response:
    found(page, name)
    admin.delete_webservice(page.runtime.db, name, actor=page.actor)
    return page.redirect("webservices", f"Deleted web service {name}.")


def history(page: Page, name: str) -> Response:
    detail = found(page, name)
    db = page.runtime.db
    return page.render(
        "history.html",
        ws=detail,
        versions=admin.webservice_versions(db, name),
        changes=admin.webservice_changes(db, name),
    )


def version_page(page: Page, name: str, version: int, error: str = "", status: int = 200) -> Response:
    detail = found(page, name)
    db = page.runtime.db
    try:
        text = admin.webservice_version_text(db, name, version)
    except AdminError:
        raise NotFound(f"{name} has no version {version}.") from None
    return page.render(
        "version.html",
        status=status,
        error=error,
        ws=detail,
        version=version,
        text=yamlsecrets.mask(text),
        diff=admin.version_diff(db, name, version, hide_secrets=True),
    )


def restore(page: Page, name: str, version: int) -> Response:
    found(page, name)
    try:
        new = admin.restore_webservice_version(page.runtime.db, page.runtime.settings, name, version, actor=page.actor)
    except AdminError as error:
        return version_page(page, name, version, str(error), 400)
    return page.redirect("webservice", f"Version {version} restored as version {new}.", name=name)
