"""Numbers as requests carry them: what is one, and that no text, however long, takes long to judge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.wirenumbers import MAX_BIGINT, integer, is_whole_number

LONG = 200_000


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("42", 42),
        (" 42 ", 42),
        (42, 42),
        ("007", 7),
        ("0", 0),
        ("0000", 0),
        ("0" * LONG + "1", 1),
        (str(MAX_BIGINT), MAX_BIGINT),
        ("0" * 100 + str(MAX_BIGINT), MAX_BIGINT),
        (str(MAX_BIGINT + 1), None),
        ("-3", None),
        ("\t42\n", 42),
        ("\x0b\f42\r", 42),
        ("\xa042", None),  # white space Perl does not skip: not numeric there (found by the property tests)
        ("42\u2003", None),
        ("\x8542", None),
        ("٣", None),
        ("4.0", None),
        ("+1", None),
        ("1 2", None),
        ("", None),
        ("-", None),
        (True, None),
        ("0" * LONG + "x", None),
        ("1" * LONG, None),
    ],
)
def test_integer(value, number):
    assert integer(value) == number


def test_a_negative_integer_where_the_range_allows_it():
    assert (integer("-3", low=-10), integer("-0", low=-10), integer("-" + "0" * LONG + "7", low=-10)) == (-3, 0, -7)


@pytest.mark.parametrize(
    ("value", "whole"),
    [
        ("42", True),
        (str(2**70), True),
        ("0" * LONG + "1", True),
        ("1" * LONG, True),
        ("-1", False),
        ("0" * LONG + "x", False),
    ],
)
def test_is_whole_number(value, whole):
    assert is_whole_number(value) is whole


@pytest.mark.parametrize(
    "value",
    ["0" * LONG + "x", "-" + "0" * LONG + "x", " " * LONG + "x", "1" * LONG + " " * LONG + "x", "0" * LONG + "1"],
)
def test_a_long_text_is_judged_at_once(value):
    """In a process of its own, so that a slow pattern fails the test instead of hanging the suite."""
    script = (
        "import sys; from gateway.wirenumbers import integer, is_whole_number as whole; "
        "text = sys.stdin.read(); print(integer(text, low=-1), whole(text))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=value,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == (["1", "True"] if value.endswith("1") else ["None", "False"])
