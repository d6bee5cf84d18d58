"""Failed-login lockouts: who is refused from where until when, and lifting one before its window ends."""

from __future__ import annotations

from werkzeug import Response

from gateway.admin import lockouts as admin
from gateway.errors import AdminError
from gateway.web.page import Page


def listing(page: Page, error: str = "", status: int = 200) -> Response:
    db, settings = page.runtime.db, page.runtime.settings
    return page.render(
        "lockouts.html",
        status=status,
        error=error,
        lockouts=[(found, admin.describe(found)) for found in admin.list_lockouts(db, settings)],
        settings=settings,
        changes=admin.lockout_changes(db),
    )


def lift(page: Page) -> Response:
    try:
        found = admin.lift(page.runtime.db, page.runtime.settings, page.request.form.get("Key", ""), actor=page.actor)
    except AdminError as error:
        return listing(page, f"Nothing lifted: {error}", 400)
    return page.redirect("lockouts", f"Lifted the lockout of {admin.describe(found)}.")
