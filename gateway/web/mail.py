"""The mail queue: messages by state, one message's headers, recipients and delivery attempts with the
SMTP replies, retry and purge — the console's `gateway mail-queue` in a page."""

from __future__ import annotations

from werkzeug import Response
from werkzeug.exceptions import NotFound

from gateway.admin import mailqueue as admin
from gateway.errors import AdminError
from gateway.web.page import BIGGEST_ID, Page

STATES = ("queued", "failed", "sent")
_LIMIT = 200


def listing(page: Page, error: str = "", status: int = 200) -> Response:
    state = page.request.args.get("state", "")
    if state not in STATES:
        state = ""
    db = page.runtime.db
    counts = admin.state_counts(db)
    messages = admin.list_messages(db, state or None, limit=_LIMIT)[::-1]  # newest first
    return page.render(
        "mail.html",
        status=status,
        error=error,
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


def _number(text: str, what: str) -> int:
    """A form's whole number (ASCII digits only: int() would take "²" for no number at all)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > BIGGEST_ID:
        raise AdminError(f"{what} must be a whole number (at most {BIGGEST_ID}), not {text!r}")
    return int(text)


def retry(page: Page) -> Response:
    """The messages ticked: none ticked is a refusal, never "every failed one" (that is retry_failed)."""
    try:
        ids = [_number(value, "a message number") for value in page.request.form.getlist("Message")]
        if not ids:
            raise AdminError("tick the messages to retry")
        count = admin.retry(page.runtime.db, ids, actor=page.actor)
    except AdminError as error:
        return listing(page, f"Nothing retried: {error}", 400)
    what = f"message {ids[0]}" if len(ids) == 1 else f"{count} messages"
    return page.redirect("mail", f"Retrying {what}: due now.")


def retry_failed(page: Page) -> Response:
    count = admin.retry(page.runtime.db, actor=page.actor)
    return page.redirect("mail", f"Retrying {count} failed messages: due now.")


def purge(page: Page) -> Response:
    state = page.request.form.get("State", "sent")
    try:
        days = _number(page.request.form.get("OlderThanDays", "0"), "older than (days)")
        count = admin.purge(page.runtime.db, state, days, actor=page.actor)
    except AdminError as error:
        return listing(page, f"Nothing purged: {error}", 400)
    return page.redirect("mail", f"Purged {count} {state} messages.")
