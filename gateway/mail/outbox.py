"""The durable outbox: messages stored with their article, delivered over SMTP by workers.

ArticleSend succeeds once the finished message is stored (enqueue, in the article's transaction);
delivery happens later, by any number of workers on any number of machines. The stored bytes are
sent exactly as stored (a re-serialised message would break its signature). A worker leases a
batch, renews a message's lease right before sending it and records each outcome in its own small
transaction, so a worker that dies loses nothing and sends at most the message in flight twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import os
import secrets
import smtplib
import socket
import ssl
import threading
from collections.abc import Sequence
from typing import NamedTuple, TypedDict

from gateway.settings import Settings
from gateway.store import mailqueue
from gateway.store.database import Database, Row, Transaction, as_datetime, utcnow

log = logging.getLogger(__name__)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def enqueue(tx: Transaction, article_id: int, sender: str, recipients: Sequence[str], raw: bytes) -> int:
    """Store a finished message in the caller's transaction: it is sent only if the article commits."""
    recipients = [address.strip() for address in recipients if address.strip()]
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    if any("\n" in address or "\r" in address for address in (sender, *recipients)):
        raise ValueError("an envelope address must not contain a line break")
    return mailqueue.add(tx, article_id, sender, "\n".join(recipients), bytes(raw), utcnow())


class Delivery(TypedDict):
    """An article's mail delivery as TicketGet shows it (Article.Delivery)."""

    State: str
    Attempts: int
    SMTPCode: int | None
    SMTPMessage: str
    Time: str


def delivery(tx: Transaction, article_ids: Sequence[int]) -> dict[int, Delivery]:
    """The delivery state per article, for TicketGet; an article with several messages shows its latest."""
    result: dict[int, Delivery] = {}
    for row in mailqueue.delivery(tx, article_ids):
        when = as_datetime(row["last_attempt"]) or as_datetime(row["create_time"])
        result[row["article_id"]] = {
            "State": row["state"],
            "Attempts": row["attempts"],
            "SMTPCode": row["last_smtp_code"],
            "SMTPMessage": row["last_smtp_message"] or "",
            "Time": when.strftime(TIME_FORMAT),
        }
    return result


# -- delivery -------------------------------------------------------------------------------------------


class Counts(NamedTuple):
    """What delivery rounds came to: a plain (sent, failed, deferred) tuple that adds up."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0

    def __add__(self, other: Counts) -> Counts:  # type: ignore[override]  # counts add up, not concatenate
        return Counts(self.sent + other.sent, self.failed + other.failed, self.deferred + other.deferred)

    def line(self) -> str:
        return f"sent {self.sent}, failed {self.failed}, deferred {self.deferred}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one attempt came to: a reply (or an error with no code) and whether it may be tried again."""

    code: int | None
    message: str
    temporary: bool
    remaining: tuple[str, ...] = ()  # recipients refused temporarily after others accepted the message

    @property
    def delivered(self) -> bool:
        return not self.temporary and self.code is not None and 200 <= self.code < 300


class ConnectionBrokenError(Exception):
    """The SMTP session is unusable: the message in flight is deferred, the rest of the batch released."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _error(error: BaseException) -> Outcome:
    """A failure outside a reply (refused, timed out, TLS): always temporary; the code of a reply if any."""
    if isinstance(error, smtplib.SMTPResponseException):
        return Outcome(error.smtp_code, _text(error.smtp_error), True)
    return Outcome(None, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__, True)


def _check_open(stage: str, code: int, text: bytes | str) -> None:
    """421: the server is closing the session, nothing more can be sent over it."""
    if code == 421:
        raise ConnectionBrokenError(Outcome(code, f"{stage}: {_text(text)}", True))


def _reply(stage: str, code: int, text: bytes | str) -> Outcome:
    """A refusal: 5xx is final, anything else is tried again."""
    _check_open(stage, code, text)
    return Outcome(code, f"{stage}: {_text(text)}", not 500 <= code < 600)


def _ok(code: int) -> bool:
    return 200 <= code < 300


def send(smtp: smtplib.SMTP, sender: str, recipients: Sequence[str], raw: bytes) -> Outcome:
    """One transaction on an open session, the bytes unchanged: smtplib only dot-stuffs them on the wire
    (and ends them with CRLF if they do not), which the receiving server undoes.

    Recipients refused permanently while others accept are noted in the message; recipients refused
    temporarily are kept to be tried again, alone.
    """
    code, text = smtp.mail(sender)
    if not _ok(code):
        outcome = _reply("MAIL FROM", code, text)
        smtp.rset()
        return outcome
    refused: dict[str, tuple[int, str]] = {}
    for address in recipients:
        code, text = smtp.rcpt(address)
        if not _ok(code):
            _check_open("RCPT TO", code, text)
            refused[address] = (code, _text(text))
    if len(refused) == len(recipients):
        smtp.rset()
        codes = [code for code, _ in refused.values()]
        return Outcome(codes[0], "RCPT TO: " + _refusals(refused), any(not 500 <= code < 600 for code in codes))
    try:
        code, text = smtp.data(raw)
    except smtplib.SMTPDataError as error:  # DATA itself refused, before any content was sent
        return _reply("DATA", error.smtp_code, error.smtp_error)
    if not _ok(code):
        return _reply("DATA", code, text)
    message = _text(text) + (f"; refused: {_refusals(refused)}" if refused else "")
    remaining = tuple(address for address, (code, _) in refused.items() if not 500 <= code < 600)
    return Outcome(code, message, bool(remaining), remaining)


def _refusals(refused: dict[str, tuple[int, str]]) -> str:
    return "; ".join(f"{address} {code} {text}" for address, (code, text) in refused.items())


def connect(settings: Settings) -> smtplib.SMTP:
    """An SMTP session as configured: TLS verified against the system's CAs, login when a user is set."""
    local_hostname = settings.fqdn or None
    if settings.smtp_security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            local_hostname=local_hostname,
            timeout=settings.smtp_timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, local_hostname=local_hostname, timeout=settings.smtp_timeout
        )
    try:
        smtp.ehlo()
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _retry_delay(settings: Settings, attempts: int) -> dt.timedelta:
    """Exponential back-off in whole seconds (timestamps have no finer precision), at least one."""
    delay = min(settings.mail_retry_delay * 2 ** (attempts - 1), settings.mail_retry_max_delay)
    return dt.timedelta(seconds=max(1, math.ceil(delay)))


class Worker:
    """Delivers due messages; any number may run at once, each message is claimed by one."""

    def __init__(self, settings: Settings, db: Database, name: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._token = f"{self.name}/{secrets.token_hex(6)}"  # unique even if two workers share a name
        self._stop = threading.Event()

    def run_once(self) -> Counts:
        """Deliver everything due when called; stop early if the server cannot be reached."""
        started = utcnow()
        total = Counts()
        while not self._stop.is_set():
            batch = self._claim(started)
            if not batch:
                break
            counts, reachable = self._deliver(batch)
            total += counts
            if not reachable:
                break
        return total

    def run(self, stop: threading.Event) -> Counts:
        """Deliver until `stop` is set, finishing the message in flight; idle rounds sleep mail_poll_interval."""
        self._stop = stop
        total = Counts()
        while not stop.is_set():
            try:
                counts = self.run_once()
            except Exception:  # the database restarting must not end the worker
                log.exception("mail worker %s: delivery round failed", self.name)
                counts = Counts()
            total += counts
            if counts == Counts():
                stop.wait(self.settings.mail_poll_interval)
        return total

    # -- one batch --------------------------------------------------------------------------------

    def _lease(self) -> dt.datetime:
        return utcnow() + dt.timedelta(seconds=self.settings.mail_claim_timeout)

    def _claim(self, due_by: dt.datetime) -> list[Row]:
        with self.db.transaction() as tx:
            return mailqueue.claim(tx, utcnow(), due_by, self._lease(), self._token, self.settings.mail_batch_size)

    def _deliver(self, batch: list[Row]) -> tuple[Counts, bool]:
        """Send a batch over one session; returns the counts and whether the server was reachable."""
        try:
            smtp = connect(self.settings)
        except (OSError, smtplib.SMTPException) as error:
            outcome = _error(error)
            return sum((self._record(mail, outcome) for mail in batch), Counts()), False
        counts = Counts()
        try:
            for index, mail in enumerate(batch):
                if self._stop.is_set():
                    self._release(batch[index:])
                    break
                try:
                    counts += self._attempt(smtp, mail)
                except ConnectionBrokenError as broken:
                    counts += self._record(mail, broken.outcome)
                    self._release(batch[index + 1 :])
                    break
        finally:
            _quit(smtp)
        return counts, True

    def _attempt(self, smtp: smtplib.SMTP, mail: Row) -> Counts:
        with self.db.transaction() as tx:
            if not mailqueue.renew(tx, mail["id"], self._token, self._lease()):
                return Counts()  # our lease ran out and another worker has the message now
        recipients = mail["recipient"].split("\n")
        try:
            outcome = send(smtp, mail["sender"], recipients, bytes(mail["raw_message"]))
        except (OSError, smtplib.SMTPException) as error:
            raise ConnectionBrokenError(_error(error)) from error
        return self._record(mail, outcome)

    def _record(self, mail: Row, outcome: Outcome) -> Counts:
        now = utcnow()
        attempts = mail["attempts"] + 1
        if outcome.delivered:
            state, due, counts = mailqueue.SENT, now, Counts(sent=1)
        elif not outcome.temporary or attempts >= self.settings.mail_max_attempts:
            state, due, counts = mailqueue.FAILED, now, Counts(failed=1)
        else:
            state, due = mailqueue.QUEUED, now + _retry_delay(self.settings, attempts)
            counts = Counts(deferred=1)
        recipient = "\n".join(outcome.remaining) or mail["recipient"]
        with self.db.transaction() as tx:
            mailqueue.record(
                tx, mail["id"], self._token, self.name, now, outcome.code, outcome.message, state, due, recipient
            )
        return counts

    def _release(self, batch: list[Row]) -> None:
        with self.db.transaction() as tx:
            mailqueue.release(tx, [mail["id"] for mail in batch], self._token)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
