"""REST query strings become request data as Znuny's REST transport makes them, for any query.

`znuny_query` is ProviderProcessRequest's loop (Transport/HTTP/REST.pm) written in Python, Perl's
`split` included: pairs split at `&` or `;` (trailing empty fields dropped), each pair at every `=`
(key, value; what follows a second `=` is dropped), `+` in a value is a space, then %XX is decoded;
the first value of a key is `$Value || ''` (so undef and "0" are ""), a repeated key a list.
gateway differs where Znuny loses data (parse_query's docstring); the tests name each difference.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from gateway.transport.rest import parse_query


def perl_split(pattern: str, text: str) -> list[str]:
    """Perl's split: trailing empty fields are dropped (and an empty text has none)."""
    fields = re.split(pattern, text)
    while fields and fields[-1] == "":
        fields.pop()
    return fields


def znuny_query(query: str) -> dict[str, object]:
    data: dict[str, object] = {}
    for pair in perl_split(r"[;&]", query):
        fields = perl_split("=", pair)
        key = unquote(fields[0]) if fields else ""
        value = unquote(fields[1].replace("+", "%20")) if len(fields) > 1 else None
        if key not in data:
            data[key] = "" if value in (None, "", "0") else value  # Perl's false strings
        elif isinstance(data[key], list):
            data[key].append(value)
        else:
            data[key] = [data[key], value]
    return data


keys = st.text(st.characters(codec="utf-8", exclude_characters="=&;%"), min_size=1, max_size=8)
values = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(["0", "", "00", "0.0", "+", "a+b"])


@st.composite
def queries(draw: st.DrawFn) -> str:
    """Pairs with keys and values written raw or escaped, a bare key, empty pairs, & or ; between them."""
    written = []
    for key, value in draw(st.lists(st.tuples(st.sampled_from(["a", "Ticket ID", "x+y"]) | keys, values), max_size=6)):
        written_key = quote(key, safe=draw(st.sampled_from(["", "+ "])))
        safe = draw(st.sampled_from(["", "+ ", "/:,@!"]))
        written_value = quote(value, safe=safe) if "+" in safe else quote_plus(value, safe=safe)
        written.append(written_key if not value and draw(st.booleans()) else f"{written_key}={written_value}")
        written.extend([""] * draw(st.integers(0, 1)))
    separators = [draw(st.sampled_from("&;")) for _ in written]
    query = "".join(pair + separator for pair, separator in zip(written, separators, strict=True))
    return query if draw(st.booleans()) else query[:-1]


def without_empty_key(data: dict[str, object]) -> dict[str, object]:
    """Znuny files an empty pair under the key "" (a key no operation reads); gateway skips it."""
    return {key: value for key, value in data.items() if key != ""}


@given(queries())
def test_a_query_is_read_as_znuny_reads_it(query):
    expected = without_empty_key(znuny_query(query))
    read = parse_query(query)
    # gateway's differences here: a bare key repeated is "" in the list, where Znuny puts undef; a first "0"
    # stays "0", where Znuny has "" (every operation reads the two alike)
    expected = {
        key: [item if item is not None else "" for item in value] if isinstance(value, list) else value
        for key, value in expected.items()
    }
    zeros = {key for key, value in read.items() if (value[0] if isinstance(value, list) else value) == "0"}
    for key in zeros:
        expected[key] = ["0", *expected[key][1:]] if isinstance(expected[key], list) else "0"
    assert read == expected


plain = st.text(st.characters(codec="utf-8", exclude_characters="=&;"), max_size=6)


@given(keys, plain, plain)
def test_a_value_keeps_what_follows_a_second_equals_sign(key, first, second):
    """Unlike Znuny, `Password=abc=` is "abc=", not "abc": a value runs to the next & or ;."""
    read = parse_query(f"{quote(key, safe='')}={quote_plus(first)}={quote_plus(second)}")
    assert read == {key: f"{first}={second}"}


def one_or_list(items: list[str]) -> str | list[str]:
    return items if len(items) > 1 else items[0]


@given(st.dictionaries(keys.filter(lambda key: " " not in key), st.lists(values, min_size=1, max_size=3), max_size=5))
def test_what_urlencode_wrote_comes_back(data):
    """(A space in a key, which urlencode writes as "+", stays "+" for Znuny: field names have none.)"""
    assert parse_query(urlencode(data, doseq=True)) == {key: one_or_list(items) for key, items in data.items()}


def test_znunys_reading_of_plus_signs_and_the_separators():
    assert parse_query("a=0&b=0&b=0;c=&d&e=x+y%2B1&f%2Bg+h=1") == {
        "a": "0",
        "b": ["0", "0"],
        "c": "",
        "d": "",
        "e": "x y+1",
        "f+g+h": "1",
    }
