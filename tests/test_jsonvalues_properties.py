"""REST answers are the JSON text Znuny's Perl encoder writes for the same values, byte for byte.

`perl_json` is JSON::PP's encoder as Kernel::System::JSON uses it (canonical, allow_nonref, not
ASCII-only), with that module's own step after it (U+2028 and U+2029 written as escapes): strings
escape `"`, `\\`, \\b \\f \\n \\r \\t and the other control characters as \\u00xx; numbers are an IV's
digits or an NV as Perl prints it ("%.15g"). It is checked against the real JSON::PP once, on a corpus.
"""

from __future__ import annotations

import decimal
import json
import subprocess

from hypothesis import given
from hypothesis import strategies as st

from gateway.operations.ticket.models import ArticleData, TicketCreateResponse, TicketData
from gateway.tickets.writes import number_text
from gateway.transport.jsonvalues import dumps, to_json
from gateway.wirenumbers import integer

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def perl_string(text: str) -> str:
    escaped = (
        _ESCAPES.get(char) or (f"\\u{ord(char):04x}" if char < " " or char in "\u2028\u2029" else char) for char in text
    )
    return '"' + "".join(escaped) + '"'


def perl_json(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return perl_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.15g}"  # an NV stringified
    if isinstance(value, list):
        return "[" + ",".join(perl_json(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ",".join(f"{perl_string(key)}:{perl_json(value[key])}" for key in sorted(value)) + "}"


text = st.text(st.characters(codec="utf-8"), max_size=10) | st.sampled_from(["\u2028", "a\u2029b", "\x7f/<\x1f"])
documents = st.recursive(
    st.none() | st.integers(-(2**63), 2**64 - 1) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@given(documents)
def test_the_json_text_is_what_znunys_encoder_writes(document):
    assert dumps(document).decode() == perl_json(document)


# DECIMAL(10,2), a row of time_accounting; a ticket's TimeUnit is the sum of its rows
time_units = st.decimals(min_value=-(10**8) + 1, max_value=10**8 - 1, places=2, allow_nan=False)


@given(st.lists(time_units, min_size=1, max_size=30))
def test_a_time_unit_is_the_number_perl_prints_for_the_sum(rows):
    """Printed as Perl prints an NV: 1234567.5, not %g's 1.23457e+06. (The sum itself is exact, SQL's SUM of
    DECIMAL: Znuny's running sum of NVs can be off in the last of its 15 digits.)"""
    total = float(sum(rows))
    ticket = to_json(TicketData, {"TimeUnit": number_text(sum(rows))})
    article = to_json(ArticleData, {"TimeUnit": number_text(rows[0])})
    assert dumps(ticket).decode() == perl_json({"TimeUnit": float(f"{total:.15g}")})
    assert dumps(article).decode() == perl_json({"TimeUnit": float(rows[0])})


@given(st.integers(-(2**70), 2**70) | st.text(max_size=6) | st.from_regex(r"\s*[0-9]{1,20}\s*", fullmatch=True))
def test_an_id_or_empty_is_the_number_when_there_is_one_else_empty(value):
    """SLAID and ServiceID: Znuny's number for a set ID, "" for none."""
    sla = to_json(TicketData, {"SLAID": value})["SLAID"]
    assert sla == ("" if integer(value) is None else integer(value))


CORPUS = [
    {"b": 1, "a": [None, -(2**63), 2**64 - 1, "x"], "": {"\u00e9": "\u2028\u2029", "\U0001f600": "\x00\x1f\x7f"}},
    ['"\\/\b\f\n\r\t\x0b\x0e', 2.5, 0.1, 1234567.5, 0.30000000000000004, 3.0, 1e-05, 123456789012.25],
    "Grüße, 日本, \u0085\u00a0",
]


def test_the_model_is_what_json_pp_writes():
    script = (
        "use JSON::PP; binmode STDOUT, ':encoding(UTF-8)';"
        " my $in = JSON::PP->new->utf8->decode(do { local $/; <STDIN> });"
        " for my $document (@$in) { my $json = JSON::PP->new->allow_nonref->canonical->encode($document);"
        ' $json =~ s/\\x{2028}/\\\\u2028/g; $json =~ s/\\x{2029}/\\\\u2029/g; print "$json\\n" }'
    )
    done = subprocess.run(
        ["perl", "-e", script], input=json.dumps(CORPUS).encode(), capture_output=True, check=True, timeout=30
    )
    assert done.stdout.decode().split("\n")[:-1] == [perl_json(document) for document in CORPUS]


def test_the_sum_of_time_units_keeps_its_digits():
    assert number_text(decimal.Decimal("1234567.50")) == "1234567.5"
    assert number_text(decimal.Decimal("0.10") + decimal.Decimal("0.20")) == "0.3"
    assert dumps(to_json(TicketData, {"TimeUnit": number_text(decimal.Decimal("99999999.99") * 3)})) == (
        b'{"TimeUnit":299999999.97}'
    )


@given(st.lists(st.integers(1, 2**63 - 1) | st.integers(1, 2**63 - 1).map(str), min_size=1, max_size=4))
def test_article_ids_are_one_value_or_a_list_with_the_types_given(ids):
    """TicketCreate: Znuny writes `ArticleID => $IDs[0]` for one article and the list for several, each
    ID with the type the operation holds (a string from the article insert, a number from a lookup)."""
    answer = to_json(TicketCreateResponse, {"TicketID": "7", "ArticleID": ids})
    assert dumps(answer).decode() == perl_json({"ArticleID": ids[0] if len(ids) == 1 else ids, "TicketID": "7"})


def _request_models() -> set[type]:
    """Every model a REST request is built into: each operation's request and the models inside it."""
    from spyne.model import ComplexModelBase

    from gateway import operations

    found: set[type] = set()
    todo = [operations.descriptor(t).in_message for t in operations.OPERATION_TYPES]
    while todo:
        model = todo.pop()
        model = getattr(model, "__orig__", None) or model
        if model in found:
            continue
        found.add(model)
        todo += [
            field
            for field in ComplexModelBase.get_flat_type_info(model).values()
            if isinstance(field, type) and issubclass(field, ComplexModelBase)
        ]
    return found


@given(st.data())
def test_request_objects_are_built_as_spynes_constructor_builds_them(data):
    """to_model fills a new instance's members itself (gateway.transport.jsonvalues._blank): what it builds
    must be what spyne's ComplexModel.__init__ builds from the same values (members not given included)."""
    from spyne import Unicode
    from spyne.model import ComplexModelBase

    from gateway.transport.jsonvalues import _blank, to_model

    for model in sorted(_request_models(), key=lambda m: m.__name__):
        fields = ComplexModelBase.get_flat_type_info(model)
        texts = sorted(n for n, f in fields.items() if issubclass(f, Unicode) and f.Attributes.max_occurs == 1)
        chosen = data.draw(st.lists(st.sampled_from(texts), unique=True)) if texts else []
        values = {name: data.draw(st.text(alphabet="aZ9 é", min_size=1, max_size=3)) for name in chosen}
        built = to_model(model, values)
        assert _blank(model) is not None, model  # the fast way is the one taken
        assert type(built) is model and vars(built) == vars(model(**values)), model
