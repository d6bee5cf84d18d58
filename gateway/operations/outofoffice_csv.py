"""Znuny's OutOfOffice inbound mapping: `OutOfOfficeEntriesCSVString` becomes out-of-office entries.

Parsing follows Znuny's Mapping/OutOfOffice.pm: CR/CRLF become LF, lines starting with `#` are
comments, `"` quotes fields (commas and line breaks inside quotes are data), the first row is the
header, `EMail`/`StartTime`/`EndTime`/`Enabled` stand in for an absent `UserEmail`/`StartDate`/
`EndDate`/`OutOfOffice`, and `DD.MM.YYYY HH:MM:SS` is rewritten to `YYYY-MM-DD`. A UTF-8 BOM
(PowerShell's `Get-Content` of a file saved by Excel) is dropped. Columns Znuny does not read
(HR systems and Exchange export a department, a comment, ...) are ignored, as Znuny ignores them;
unlike Znuny we name them, so that a typo such as `EndDat` shows in the answer.

A CSV that cannot be used at all raises CSVError and nothing is written. Znuny answers these
with HTTP 500 (golden 32-34, its mapping failing); we answer HTTP 400 with the same JSON fault
shape and Znuny's message, followed by what is wrong and where: the request is at fault, not the
server (decisions.md: malformed input is a 400 that names the problem), and every client still
sees a failed request, as it did with Znuny's 500.
"""

from __future__ import annotations

import csv
import dataclasses
import re

from gateway.errors import CSVError

MISSING = "Parameter OutOfOfficeEntriesCSVString is missing."
UNPARSABLE = "Error while parsing CSV string of parameter OutOfOfficeEntriesCSVString."
NO_ENTRIES = "CSV in parameter OutOfOfficeEntriesCSVString does not contain any entries."

# canonical column -> the alias Znuny reads when the canonical column is absent
_ALIASES = {
    "UserEmail": "EMail",
    "UserLogin": None,
    "UserSearch": None,
    "StartDate": "StartTime",
    "EndDate": "EndTime",
    "OutOfOffice": "Enabled",
}
_DOTTED = re.compile(r"([0-9]{2}).([0-9]{2}).([0-9]{4}) [0-9]{2}:[0-9]{2}:[0-9]{2}")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One data row, keyed as Znuny's operation reads it; `line` is where the row starts in the CSV."""

    line: int
    UserLogin: str | None = None
    UserEmail: str | None = None
    UserSearch: str | None = None
    StartDate: str | None = None
    EndDate: str | None = None
    OutOfOffice: str | None = None


def parse(text: str | None) -> tuple[list[Entry], list[str]]:
    """The data rows, and the header's names that no entry field is read from (in header order)."""
    if not text:
        raise CSVError(MISSING)
    # lines end at LF alone, as in Znuny: str.splitlines() also ends one at \f, \x1c, \x85, \u2028 ..., and a
    # field holding "\f#" lost the rest of its row as a comment
    unix = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line + "\n" for line in unix.split("\n")]
    if lines[-1] == "\n":
        lines.pop()
    # comment lines are dropped before parsing; keep each remaining line's number for the report
    kept = [(number, line) for number, line in enumerate(lines, 1) if not line.startswith("#")]
    reader = csv.reader((line for _, line in kept), strict=True)
    rows: list[tuple[int, list[str]]] = []
    consumed = 0
    try:
        for row in reader:
            if any(field.strip() for field in row):
                rows.append((kept[consumed][0], row))
            consumed = reader.line_num
    except csv.Error as error:
        where = kept[min(reader.line_num, len(kept)) - 1][0]
        raise CSVError(UNPARSABLE, f"Line {where}: {error}.") from None
    if not rows:
        raise CSVError(NO_ENTRIES)
    (_, header), data = rows[0], rows[1:]
    if not data:
        raise CSVError(NO_ENTRIES)
    read = {name if name in header else alias for name, alias in _ALIASES.items()}
    ignored = [name for name in header if name not in read and name.strip()]
    return [_entry(line, dict(zip(header, row, strict=False))) for line, row in data], ignored


def _entry(line: int, values: dict[str, str]) -> Entry:
    fields = {}
    for name, alias in _ALIASES.items():
        value = values[name] if name in values else values.get(alias) if alias else None
        if value is not None and name in ("StartDate", "EndDate"):
            dotted = _DOTTED.search(value)
            if dotted:
                value = f"{dotted[3]}-{dotted[2]}-{dotted[1]}"
        fields[name] = value
    return Entry(line, **fields)
