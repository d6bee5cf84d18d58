"""User::OutOfOffice (Znuny's Operation/User/OutOfOffice.pm, with its OutOfOffice inbound mapping).

A web service whose operation has `MappingInbound: {Type: OutOfOffice}` (the Ready2Adopt preset)
takes `OutOfOfficeEntriesCSVString`; without the mapping the operation takes Znuny's parsed form,
`OutOfOfficeEntries: [{UserLogin|UserEmail|UserSearch, StartDate, EndDate, OutOfOffice}]`. As in
Znuny the mapping runs before authentication, so a missing or broken CSV is reported first.

Znuny skips bad entries silently; we apply the valid ones and list the others in
`Skipped: [{Line, Reason}]` beside `Success: 1` (decisions.md), and the CSV columns that were not
read (Znuny ignores them too) in `IgnoredColumns: [name, ...]`. Line is the CSV line the row starts
on, or the 1-based position in OutOfOfficeEntries. Beyond Znuny's reasons (no agent named, not
exactly one agent found) a row is skipped when its flag is not yes/no/1/0/true/false, a date is not
a real YYYY-MM-DD or DD.MM.YYYY HH:MM:SS date, or it ends before it starts: Znuny writes such a
row, which would replace a valid absence with one that never shows. `no` always means 0 (Znuny's
operation alone takes the JSON string "no" as true). Kept from Znuny: a row without StartDate sets
only the flag, its EndDate is ignored; a row without a flag clears it.

The agents of all rows are resolved from one read, and the preferences written with one bulk
statement, in one transaction: a request applies completely or not at all.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import re
from collections.abc import Iterable

from spyne import ComplexModel, Fault, Integer, ServiceBase, Unicode, rpc

from gateway.errors import CSVError
from gateway.operations import outofoffice_csv
from gateway.operations.common import Call, OperationError, operation
from gateway.operations.types import error_model
from gateway.store import preferences
from gateway.store.database import Row
from gateway.tickets.access import ADMIN_GROUP, Access

log = logging.getLogger(__name__)

OUT_OF_OFFICE_NS = "http://www.znuny.org/OutOfOffice/"
_Error = error_model(OUT_OF_OFFICE_NS)
_DATE = re.compile(r"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})")  # ASCII digits: "٢٠٣٠" is no year
_FLAGS = {"yes": "1", "true": "1", "1": "1", "no": "0", "false": "0", "0": "0", "": "0"}


class OutOfOfficeModel(ComplexModel):
    __namespace__ = OUT_OF_OFFICE_NS


class OutOfOfficeEntry(OutOfOfficeModel):
    __type_name__ = "OutOfOfficeEntry"
    _type_info = [
        ("UserLogin", Unicode),
        ("UserEmail", Unicode),
        ("UserSearch", Unicode),
        ("StartDate", Unicode),
        ("EndDate", Unicode),
        ("OutOfOffice", Unicode),
    ]


class OutOfOfficeRequest(OutOfOfficeModel):
    __type_name__ = "OutOfOffice"
    _type_info = [
        ("SessionID", Unicode),
        ("UserLogin", Unicode),
        ("CustomerUserLogin", Unicode),
        ("Password", Unicode),
        ("TwoFactorToken", Unicode),
        ("OutOfOfficeEntriesCSVString", Unicode),
        ("OutOfOfficeEntries", OutOfOfficeEntry.customize(max_occurs="unbounded")),
    ]


class SkippedEntry(OutOfOfficeModel):
    __type_name__ = "OutOfOfficeSkipped"
    _type_info = [("Line", Integer), ("Reason", Unicode)]


class OutOfOfficeResponse(OutOfOfficeModel):
    __type_name__ = "OutOfOfficeResponse"
    _type_info = [
        ("Success", Integer),
        ("Skipped", SkippedEntry.customize(max_occurs="unbounded")),
        ("IgnoredColumns", Unicode.customize(max_occurs="unbounded")),
        ("Error", _Error),
    ]


class UserService(ServiceBase):
    @rpc(OutOfOfficeRequest, _body_style="bare", _returns=OutOfOfficeResponse)
    @operation
    def OutOfOffice(call: Call, request: OutOfOfficeRequest) -> OutOfOfficeResponse:
        entries, ignored = _entries(call, request)
        with call.runtime.db.transaction() as tx:
            principal = call.authenticate(call.credentials(request), tx)
            if principal is None:
                raise OperationError("OutOfOffice.AuthFail", "OutOfOffice: Authentication failed.")
            if not principal.is_agent:
                raise OperationError("OutOfOffice.AuthFail", "OutOfOffice: User needs to be an agent.")
            if not Access(tx, principal, customer_group_support=False).in_group(ADMIN_GROUP):
                raise OperationError("OutOfOffice.AuthFail", "OutOfOffice: User needs to be in group admin.")
            if not entries:
                raise OperationError(
                    "OutOfOffice.WrongInputStructure",
                    "Payload does not contain out-of-office entries or they could not be parsed.",
                )
            values, skipped = _preferences(entries, _Agents(preferences.valid_agents(tx)))
            preferences.set_many(tx, values)
        if skipped:
            log.warning(
                "OutOfOffice: %d of %d entries skipped: %s",
                len(skipped),
                len(entries),
                "; ".join(f"line {line}: {reason}" for line, reason in skipped[:20]),
            )
        if ignored:
            log.info("OutOfOffice: CSV columns ignored: %s", ", ".join(ignored[:20]))
        return OutOfOfficeResponse(
            Success=1,
            Skipped=[{"Line": line, "Reason": reason} for line, reason in skipped] or None,
            IgnoredColumns=ignored or None,
        )


def _entries(call: Call, request: OutOfOfficeRequest) -> tuple[list[outofoffice_csv.Entry], list[str]]:
    """The CSV's rows and ignored columns when the web service maps it (before auth, as Znuny's
    mapping), else the entries sent."""
    options = call.options
    mapping = options.get("MappingInbound")
    if isinstance(mapping, dict) and mapping.get("Type") == "OutOfOffice":
        try:
            return outofoffice_csv.parse(request.OutOfOfficeEntriesCSVString)
        except CSVError as error:
            raise Fault("Client.InvalidCSV", error.message) from None
    fields = OutOfOfficeEntry.get_flat_type_info(OutOfOfficeEntry)
    return [
        outofoffice_csv.Entry(position, **{name: getattr(entry, name) for name in fields})
        for position, entry in enumerate(request.OutOfOfficeEntries or (), 1)
    ], []


class _Agents:
    """Valid agents indexed the ways a row may name one (Znuny's UserSearch: free text, e-mail, login)."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = list(rows)
        self.login: dict[str, list[int]] = {}
        self.email: dict[str, list[int]] = {}
        self._words: dict[str, set[int]] | None = None
        for row in self.rows:
            self.login.setdefault(row["login"].lower(), []).append(row["id"])
            self.email.setdefault(row["email"].lower(), []).append(row["id"])

    @property
    def words(self) -> dict[str, set[int]]:
        """Login, e-mail and names -> agents; built only when a row uses UserSearch."""
        if self._words is None:
            self._words = {}
            for row in self.rows:
                for word in (row["login"], row["email"], row["first_name"], row["last_name"]):
                    self._words.setdefault(word.lower(), set()).add(row["id"])
        return self._words

    def find(self, entry: outofoffice_csv.Entry) -> tuple[int | None, str]:
        """The one agent a row names, or None and why not."""
        if entry.UserSearch:
            what, found = "UserSearch", self._search(entry.UserSearch)
        elif entry.UserEmail:
            what, found = "UserEmail", set(self.email.get(entry.UserEmail.strip().lower(), ()))
        elif entry.UserLogin:
            what, found = "UserLogin", set(self.login.get(entry.UserLogin.strip().lower(), ()))
        else:
            return None, "Invalid data structure for out-of-office entry: no UserLogin, UserEmail or UserSearch."
        value = getattr(entry, what)
        if len(found) == 1:
            return found.pop(), ""
        if not found:
            return None, f"Error while looking up unique user ID: no valid agent matches {what} {value!r}."
        return None, f"Error while looking up unique user ID: {what} {value!r} matches {len(found)} agents."

    def _search(self, text: str) -> set[int]:
        """Every word (Znuny: whitespace is `+`, AND) matches login, e-mail, first or last name; `*` is a wildcard."""
        found: set[int] | None = None
        for word in re.split(r"[\s+]+", text.strip().lower()):
            if not word:
                continue
            if "*" in word:
                hits = {i for key, ids in self.words.items() if fnmatch.fnmatchcase(key, word) for i in ids}
            else:
                hits = self.words.get(word, set())
            found = hits if found is None else found & hits
        return set(found or ())


def _date(entry: outofoffice_csv.Entry, name: str) -> tuple[dt.date | None, str]:
    value = (getattr(entry, name) or "").strip()
    if not value:
        return None, ""
    match = _DATE.search(value)
    try:
        if match is None:
            raise ValueError(value)
        return dt.date(int(match[1]), int(match[2]), int(match[3])), ""
    except ValueError:
        return None, f"{name} {value!r} is not a date (YYYY-MM-DD or DD.MM.YYYY HH:MM:SS)."


def _preferences(
    entries: list[outofoffice_csv.Entry], agents: _Agents
) -> tuple[list[tuple[int, str, str]], list[tuple[int, str]]]:
    """The preference rows to write (a later row for the same agent wins) and the skipped lines."""
    values: dict[tuple[int, str], str] = {}
    skipped: list[tuple[int, str]] = []
    for entry in entries:
        user_id, reason = agents.find(entry)
        flag = _FLAGS.get((entry.OutOfOffice or "").strip().lower())
        if user_id is not None and flag is None:
            reason = f"OutOfOffice {entry.OutOfOffice!r} is not yes, no, 1 or 0."
        start, start_error = _date(entry, "StartDate")
        # Znuny reads EndDate only after a StartDate
        end, end_error = _date(entry, "EndDate") if start else (None, "")
        reason = reason or start_error or end_error
        if not reason and start and end and end < start:
            reason = f"EndDate {end.isoformat()} is before StartDate {start.isoformat()}."
        if reason or user_id is None or flag is None:  # find() gives a reason for no agent, so does the flag
            skipped.append((entry.line, reason))
            continue
        values[user_id, "OutOfOffice"] = flag
        for part, day in (("Start", start), ("End", end)):
            if day:
                values[user_id, f"OutOfOffice{part}Year"] = f"{day.year:04d}"
                values[user_id, f"OutOfOffice{part}Month"] = f"{day.month:02d}"
                values[user_id, f"OutOfOffice{part}Day"] = f"{day.day:02d}"
    return [(user_id, key, value) for (user_id, key), value in values.items()], skipped
