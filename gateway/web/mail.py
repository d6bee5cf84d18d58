"""The mail queue: messages by state, one message's headers, recipients and delivery attempts with the
SMTP replies, retry and purge — the console's `gateway mail-queue` in a page."""

from __future__ import annotations

from werkzeug import Response
from werkzeug.exceptions import NotFound

from gateway.admin import mailqueue as admin
from gateway.errors import AdminError
from gateway.web.page import Page

STATES = ("queued", "failed", "sent")
_LIMIT = 200


def listing(page: Page) -> Response:
    state = page.request.args.get("state", "")
    if state not in STATES:
        state = ""
    db = page.runtime.db
    counts = admin.state_counts(db)
    messages = admin.list_messages(db, state or None, limit=_LIMIT)[::-1]  # newest first
    return page.render(
        "mail.html",
        state=state,
        states=STATES,
        counts=counts,
        messages=messages,
        shown_all=len(messages) == (counts.get(state, 0) if state else sum(counts.values())),
        changes=admin.mail_changes(db),
    )


def message(page: Page, mail_id: int) -> Response:
    try:
        found = admin.message(page.runtime.db, mail_id)
    except AdminError:
        raise NotFound(f"There is no message {mail_id} in the outbox.") from None
    return page.render("mail_message.html", mail=found)


def _actor(page: Page) -> str:
    assert page.admin is not None  # app.py lets no one else post here
    return page.admin.login


def retry(page: Page) -> Response:
    ids = [int(value) for value in page.request.form.getlist("Message") if value.isdigit()]
    try:
        count = admin.retry(page.runtime.db, ids, actor=_actor(page))
    except AdminError as error:
        return page.redirect("mail", f"Nothing retried: {error}")
    what = f"message {ids[0]}" if len(ids) == 1 else f"{count} messages"
    return page.redirect("mail", f"Retrying {what}: due now.")


def purge(page: Page) -> Response:
    state = page.request.form.get("State", "sent")
    days = page.request.form.get("OlderThanDays", "0")
    try:
        count = admin.purge(page.runtime.db, state, int(days) if days.strip().isdigit() else -1, actor=_actor(page))
    except AdminError as error:
        return page.redirect("mail", f"Nothing purged: {error}")
    return page.redirect("mail", f"Purged {count} {state} messages.")
