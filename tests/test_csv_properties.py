"""OutOfOffice's CSV, for any text: what a CSV writer wrote comes back, by Znuny's rules, or one of its three errors.

Znuny's rules (Mapping/OutOfOffice.pm): CR and CRLF are LF, a line that starts with `#` is a comment
(also inside a quoted field: the comments go before the CSV parser), lines end at LF alone,
aliases stand in for absent columns, `DD.MM.YYYY HH:MM:SS` becomes `YYYY-MM-DD`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import CSVError
from gateway.operations.outofoffice_csv import MISSING, NO_ENTRIES, UNPARSABLE, Entry, parse


def unix(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


COLUMNS = ["UserLogin", "UserEmail", "UserSearch", "StartDate", "EndDate", "OutOfOffice"]
ALIASES = {"UserEmail": "EMail", "StartDate": "StartTime", "EndDate": "EndTime", "OutOfOffice": "Enabled"}
# every character, line ends of every kind among them ("\f", "\x1c", "\x85", "\u2028": not line ends for Znuny)
cell = st.text(st.characters(codec="utf-8"), max_size=10).filter(lambda text: "\n#" not in text.replace("\r", "\n"))
dates = st.one_of(
    st.dates(dt.date(1000, 1, 1)).map(lambda day: (day.strftime("%d.%m.%Y 10:00:00"), day.isoformat())),
    st.dates().map(lambda day: (day.isoformat(), day.isoformat())),
    cell.filter(lambda text: not re.search(r"[0-9]", text)).map(lambda text: (text, unix(text))),
)


def written(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerows([header, *rows])  # QUOTE_ALL: no line starts with '#'
    return out.getvalue()


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[dict[str, str]]]:
    """A header of canonical columns in any order, rows as written, and the values Znuny reads from them."""
    header = draw(st.permutations(COLUMNS).map(lambda names: names[: draw(st.integers(1, len(names)))]))
    rows, expected = [], []
    for _ in range(draw(st.integers(1, 4))):
        values = {}
        for name in header:
            if name in ("StartDate", "EndDate"):
                values[name] = draw(dates)
            else:
                text = draw(cell)
                values[name] = (text, unix(text))
        row = [values[name][0] for name in header]
        if any(unix(field).strip() for field in row):  # a row of blanks is no entry
            rows.append(row)
            expected.append({name: read for name, (_, read) in values.items()})
    return header, rows, expected


@given(tables())
def test_what_a_csv_writer_wrote_is_read_back(table):
    header, rows, expected = table
    if not rows:
        return
    entries, ignored = parse(written(header, rows))
    assert ignored == []
    assert [{name: getattr(entry, name) for name in header} for entry in entries] == expected
    assert all(getattr(entry, name) is None for entry in entries for name in COLUMNS if name not in header)
    # each entry names the line its row starts on
    breaks = [1 + sum(unix(field).count("\n") for field in row) for row in rows]
    assert [entry.line for entry in entries] == [2 + sum(breaks[:index]) for index in range(len(rows))]


@given(tables(), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_line_ends_and_a_bom_change_nothing(table, newline, bom):
    header, rows, _ = table
    if not rows:
        return
    text = unix(written(header, rows))
    assert parse(("\ufeff" if bom else "") + text.replace("\n", newline)) == parse(text)


@given(tables(), st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=10), st.data())
def test_a_comment_line_is_dropped_wherever_it_is(table, comment, data):
    header, rows, _ = table
    if not rows:
        return
    lines = unix(written(header, rows)).split("\n")
    at = data.draw(st.integers(0, len(lines) - 1))
    commented = "\n".join([*lines[:at], f"#{comment}", *lines[at:]])
    entries, ignored = parse(commented)
    plain, _ = parse("\n".join(lines))
    assert [{**vars(e), "line": 0} for e in entries] == [{**vars(e), "line": 0} for e in plain]
    assert ignored == []


@given(tables(), st.sets(st.sampled_from(sorted(ALIASES))))
def test_an_alias_stands_in_for_an_absent_column_only(table, aliased):
    header, rows, expected = table
    if not rows:
        return
    renamed = [ALIASES[name] if name in aliased else name for name in header]
    entries, _ = parse(written(renamed, rows))
    assert [{name: getattr(entry, name) for name in header} for entry in entries] == expected
    # with the canonical column beside it, the alias is ignored (and named)
    both = written([*header, *(ALIASES[name] for name in header if name in aliased)], [row + ["x"] * 6 for row in rows])
    entries, ignored = parse(both)
    assert [{name: getattr(entry, name) for name in header} for entry in entries] == expected
    assert ignored == [ALIASES[name] for name in header if name in aliased]


@given(st.text(st.characters(codec="utf-8"), max_size=60) | st.text('"#,\n\r x', max_size=30))
def test_any_text_is_entries_or_one_of_the_documented_errors(text):
    try:
        entries, ignored = parse(text)
    except CSVError as error:
        assert error.message in (MISSING, NO_ENTRIES) or error.message.startswith(UNPARSABLE + " Line ")
        if error.message.startswith(UNPARSABLE):
            line = int(re.match(r"Line ([0-9]+):", error.message.removeprefix(UNPARSABLE + " "))[1])
            assert 1 <= line <= len(unix(text.removeprefix("\ufeff")).split("\n"))
        return
    assert entries and all(isinstance(entry, Entry) for entry in entries)
    assert all(isinstance(name, str) and name.strip() for name in ignored)
    assert [entry.line for entry in entries] == sorted({entry.line for entry in entries})


@pytest.mark.parametrize("separator", ["\f", "\v", "\x1c", "\x1e", "\x85", "\u2028", "\u2029"])
def test_a_field_with_a_line_separator_python_knows_keeps_its_row(separator):
    """Found by the round trip: str.splitlines() ended a line there, and the rest of the row became a comment."""
    entries, _ = parse(f"UserLogin,OutOfOffice\nroot{separator}#x,1\n")
    assert [(entry.UserLogin, entry.OutOfOffice) for entry in entries] == [(f"root{separator}#x", "1")]
