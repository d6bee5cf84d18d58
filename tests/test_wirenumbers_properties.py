"""Numbers on the wire against Perl's reading of them: gateway takes a number only where Perl reads that number.

Znuny is Perl: a string is a number as `$text + 0` reads it, and clean when Scalar::Util's
looks_like_number says so (no "isn't numeric" warning). `perl_number` is that reading, written from
perl's grok_number: ASCII white space before and after, a sign, digits with an optional fraction and
exponent, Inf/Infinity/NaN, the exact string "0 but true"; anything after it is junk (the number is
its numeric prefix, not clean). It is checked against the real perl once, on a corpus.

gateway is stricter, on purpose (wirenumbers.py): an ID is `-?[0-9]+` within BIGINT, so "+1",
"1e3", "1.0" and "0 but true", clean numbers for Perl, are no ID; the tests say exactly that.
"""

from __future__ import annotations

import json
import math
import re
import subprocess

from hypothesis import given
from hypothesis import strategies as st

from gateway.wirenumbers import MAX_BIGINT, decimal, integer, is_whole_number

PERL_SPACE = " \t\n\r\f\v"
_DECIMAL = re.compile(r"([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_INFNAN = re.compile(r"([+-]?)(?:(inf(?:inity)?)|nan[qs]?)", re.IGNORECASE)
_PLAIN = re.compile(r"[+-]?[0-9]+")


def perl_number(text: str) -> tuple[bool, int | float]:
    """(looks_like_number(text), text + 0) as perl 5 gives them."""
    if text == "0 but true":
        return True, 0
    body = text.lstrip(PERL_SPACE)
    found = _DECIMAL.match(body)
    if found:
        clean = body[found.end() :].strip(PERL_SPACE) == ""
        if _PLAIN.fullmatch(found[0]) and -(2**63) <= int(found[0]) < 2**64:  # an IV or UV: exact
            return clean, int(found[0])
        return clean, float(found[0])
    found = _INFNAN.match(body)
    if found:
        value = float("inf") if found[2] else float("nan")
        return body[found.end() :].strip(PERL_SPACE) == "", -value if found[1] == "-" else value
    return False, 0


white = st.text(" \t\n\r\f\v\xa0\u2003\x85\u3000", max_size=2)
sign = st.sampled_from(["", "", "-", "+", "--", "+-"])
body = st.one_of(
    st.from_regex(r"[0-9]{1,22}", fullmatch=True),
    st.from_regex(r"[0-9]{0,3}\.[0-9]{0,3}", fullmatch=True),
    st.from_regex(r"[0-9]{1,3}[eE][+-]?[0-9]{1,3}", fullmatch=True),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0x10", "0b1", "0 but true", "Inf", "infinity", "NaN", "nanq", "١٢", "１", "²", "1_000"]),
)
junk = st.sampled_from(["", "", "", "x", "_0", " 1", "e", ".", ",5", "\x00", "0 but true"])
wire_texts = st.builds(lambda *parts: "".join(parts), white, sign, body, junk, white) | st.text(max_size=8)


@given(wire_texts)
def test_an_integer_gateway_reads_is_the_number_perl_reads(text):
    number = integer(text, low=-MAX_BIGINT)
    if number is not None:
        assert perl_number(text) == (True, number)


@given(wire_texts)
def test_gateway_refuses_exactly_the_numbers_an_id_cannot_be(text):
    """A clean Perl number is an integer for gateway iff it is written -?[0-9]+ and fits BIGINT."""
    clean, value = perl_number(text)
    written_plain = re.fullmatch(r"-?[0-9]+", text.strip(PERL_SPACE)) is not None
    expected = clean and written_plain and -MAX_BIGINT <= value <= MAX_BIGINT
    assert (integer(text, low=-MAX_BIGINT) is not None) == expected
    assert (integer(text) is not None) == (expected and value >= 0)
    assert is_whole_number(text) == (clean and written_plain and not text.strip(PERL_SPACE).startswith("-"))


@given(wire_texts)
def test_a_decimal_gateway_reads_is_the_number_perl_reads_after_znunys_comma(text):
    """TimeUnit: Znuny turns "1,5" into "1.5" (s/,/./) before Perl reads it."""
    number = decimal(text, 10**40)
    if number is not None:
        clean, value = perl_number(text.replace(",", "."))
        assert clean and math.isclose(value, number)


CORPUS = [
    *["42", " 42", "42 ", "\t-7\t", "\x0b1", "\f1", "\r1\r", "\n1\n", "\xa01", "\u20031", "1\xa0", "١", "１"],
    *["+1", "-0", "--1", "+-1", "- 1", "00012", "1_000", "12abc", "0x10", "0b1", "", " ", "-", "+", "."],
    *["1.", ".5", "1.5.5", "1e3", "1E-2", "1e+3", "1e", "0.5e", "1e999", "0e0", "0.0e+00", "99999999999999999999"],
    *["-9223372036854775808", "9223372036854775807", "18446744073709551615", "18446744073709551616"],
    *["0 but true", "0 but true ", " 0 but true", "0 BUT TRUE", "Inf", "-inf", " inf ", "infinity", "Infinit"],
    *["infinityx", "nan", "NaN", "+nan", "nanq"],
]


def test_the_model_is_what_perl_says():
    script = (
        "use Scalar::Util qw(looks_like_number); use JSON::PP; no warnings;"
        " my $corpus = JSON::PP->new->decode(do { local $/; <STDIN> });"
        ' print join("\\n", map { (looks_like_number($_) ? 1 : 0) . "|" . sprintf("%.17g", $_ + 0) } @$corpus);'
    )
    done = subprocess.run(
        ["perl", "-e", script], input=json.dumps(CORPUS), capture_output=True, text=True, check=True, timeout=30
    )
    perl = [line.split("|") for line in done.stdout.split("\n")]
    model = [perl_number(text) for text in CORPUS]
    formatted = {"inf": "Inf", "-inf": "-Inf", "nan": "NaN"}
    assert [(text, clean == "1", value) for text, (clean, value) in zip(CORPUS, perl, strict=True)] == [
        (text, clean, formatted.get(f"{float(value):.17g}", f"{float(value):.17g}"))
        for text, (clean, value) in zip(CORPUS, model, strict=True)
    ]
