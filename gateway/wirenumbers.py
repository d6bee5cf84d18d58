"""Numbers and timestamps as requests carry them, read in one place.

Python's own parsing is too generous for the wire: `int()`, `float()` and `strptime()` take any
Unicode digit ("٣" is 3, fullwidth "１" is 1), `str.isdigit()` also passes digits that `int()`
refuses ("²"), and neither knows a column's range (2**70 overflows SQLite and PostgreSQL's
BIGINT). Each of those once ended in a 500. Znuny's database refuses such values too, so here
they are simply no number (None), and every operation answers them with its own error code.
"""

from __future__ import annotations

import datetime as dt
import re

MAX_BIGINT = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT: every ID column fits
# the white space Perl skips around a number: ASCII only (Python's \s also takes "\xa0", "\x85", "\u2003" ...)
_SPACE = r"[ \t\n\r\f\v]*"
_INTEGER = re.compile(rf"{_SPACE}(-?)([0-9]+){_SPACE}")  # no 0* before the digits: it backtracks over each zero
_DECIMAL = re.compile(rf"{_SPACE}(-?[0-9]{{1,30}}(?:[.,][0-9]{{1,30}})?){_SPACE}")
_TIMESTAMP = re.compile(r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})\s*")


def _text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def integer(value: object, low: int = 0, high: int = MAX_BIGINT) -> int | None:
    """A whole number of ASCII digits (surrounding ASCII white space allowed) within [low, high], else None.

    "42", " 42 ", 42 and, when `low` allows, "-3" are numbers; "٣", "4.0", "1e3", "+1", "1_000",
    "0x10" and 2**70 are not.
    """
    text = _text(value)
    found = _INTEGER.fullmatch(text) if text is not None else None
    if found is None:
        return None
    digits = found[2].lstrip("0") or "0"
    if len(digits) > len(str(MAX_BIGINT)):  # beyond any column (and int() refuses 4301 digits)
        return None
    number = int(found[1] + digits)
    return number if low <= number <= high else None


def is_whole_number(value: object) -> bool:
    """Written as a non-negative whole number of ASCII digits, whatever its size.

    For the operations where Znuny tells a malformed ID (TicketGet.WrongStructure) from an
    unknown one (TicketGet.AccessDenied): 2**70 is well-formed, and no ticket has it.
    """
    text = _text(value)
    return text is not None and _INTEGER.fullmatch(text) is not None and "-" not in text


def identifier(value: object) -> int | None:
    """A row ID: a positive integer no database column refuses."""
    return integer(value, low=1)


def decimal(value: object, limit: float) -> float | None:
    """A decimal number ("2", "-1.5", Znuny's "1,25") whose absolute value is below `limit`, else None."""
    text = _text(value)
    found = _DECIMAL.fullmatch(text) if text is not None else None
    if found is None:
        return None
    number = float(found[1].replace(",", "."))
    return number if abs(number) < limit else None


def timestamp(value: object) -> dt.datetime | None:
    """Znuny's "YYYY-MM-DD HH:MM:SS" in ASCII digits, a real moment, else None."""
    text = _text(value)
    found = _TIMESTAMP.fullmatch(text) if text is not None else None
    if found is None:
        return None
    try:
        return dt.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
