"""The redaction routine: every spelling of a secret the parsers accept is hidden, and nothing else is."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from gunicorn.config import Config

from gateway.accesslog import APP_LOGGERS, RedactingLogger
from gateway.environ import REQUEST_ID, SECRETS
from gateway.middleware.errors import UnexpectedErrors
from gateway.redaction import (
    REDACTED,
    redact_body,
    redact_path,
    redact_query,
    redact_text,
    redact_url,
    scrub,
    storable,
)

SECRET = "s3cretValue"

BODIES = [
    ("json", b'{"UserLogin": "agent1", "Password": "s3cretValue"}'),
    ("json, key with an escape", b'{"UserLogin": "agent1", "\\u0050assword": "s3cretValue"}'),
    ("json, key in another case", b'{"UserLogin": "agent1", "PASSWORD": "s3cretValue"}'),
    ("json, duplicate keys", b'{"UserLogin": "agent1", "Password": "s3cretValue", "Password": "x"}'),
    ("json, value escaped", b'{"UserLogin": "agent1", "Password": "s3cret\\u0056alue"}'),
    ("json, in a list", b'{"UserLogin": "agent1", "Password": ["s3cretValue", "other"]}'),
    ("json, in an object", b'{"UserLogin": "agent1", "SessionID": {"a": ["s3cretValue"]}}'),
    ("json, nested", b'[{"UserLogin": "agent1", "Data": [{"TwoFactorToken": "s3cretValue"}]}]'),
    ("json, with NUL", b'{"UserLogin": "agent1", "Password": "s3cretValue\\u0000"}'),
    ("json, broken", b'{"UserLogin": "agent1", "Password": "s3cretValue", oops'),
    ("json, broken inside a list", b'{"UserLogin": "agent1", "Password": ["x", "s3cretValue"'),
    ("json, unterminated string", b'{"UserLogin": "agent1", "Password": "s3cretValue'),
    ("json, broken, escaped key", b'{"UserLogin": "agent1", "\\u0050assword": "s3cretValue" oops'),
    ("json, deeper than the parser", b"[" * 5000 + b'{"UserLogin": "agent1", "Password": "s3cretValue"}' + b"]" * 5000),
    ("json, not UTF-8", b'{"UserLogin": "agent1\xe9", "Password": "s3cretValue"}'),
    ("xml", b"<S><UserLogin>agent1</UserLogin><Password>s3cretValue</Password></S>"),
    (
        "xml, prefixed",
        b'<x:S xmlns:x="urn:x"><x:UserLogin>agent1</x:UserLogin><x:Password>s3cretValue</x:Password></x:S>',
    ),
    ("xml, CDATA", b"<S><UserLogin>agent1</UserLogin><Password><![CDATA[s3cretValue]]></Password></S>"),
    ("xml, comment inside", b"<S><UserLogin>agent1</UserLogin><Password>s3cret<!-- c -->Value</Password></S>"),
    ("xml, character reference", b"<S><UserLogin>agent1</UserLogin><Password>&#115;3cretValue</Password></S>"),
    ("xml, child element", b"<S><UserLogin>agent1</UserLogin><Password><a>s3cretValue</a></Password></S>"),
    ("xml, attribute", b'<S><UserLogin>agent1</UserLogin><Auth x:Password="s3cretValue" xmlns:x="urn:x"/></S>'),
    ("xml, lower case", b"<S><UserLogin>agent1</UserLogin><password>s3cretValue</password></S>"),
    ("xml, broken", b"<S><UserLogin>agent1</UserLogin><Password>s3cretValue</Password><oops"),
    ("xml, unclosed", b"<S><UserLogin>agent1</UserLogin><Password>s3cretValue"),
    ("xml, undefined entity", b"<S><UserLogin>agent1</UserLogin><Password>&x;s3cretValue</Password></S>"),
    (
        "xml, comment hiding a closing tag",
        b"<S><UserLogin>agent1</UserLogin><Password><!--</Password>-->s3cretValue</Password><oops",
    ),
    ("xml, NUL", b"<S><UserLogin>agent1</UserLogin><Password>s3cretValue</Password>\x00</S>"),
    ("form", b"UserLogin=agent1&Password=s3cretValue"),
    ("form, key percent-encoded", b"UserLogin=agent1&%50assword=s3cretValue"),
    ("form, value encoded", b"UserLogin=agent1&Password=s3cret%56alue"),
    ("form, ;", b"UserLogin=agent1;SessionID=s3cretValue"),
    ("form, +", b"UserLogin=agent1&Password=s3cretValue+x"),
]


@pytest.mark.parametrize(("body"), [body for _, body in BODIES], ids=[name for name, _ in BODIES])
def test_a_secret_in_a_body_is_hidden_in_every_spelling(body):
    found: set[str] = set()
    redacted = redact_body(body, found)
    assert scrub(redacted, found).find("3cret") == -1, redacted
    assert "agent1" in redacted and REDACTED in redacted


QUERIES = [
    ("Password=s3cretValue&UserLogin=agent1", "Password=***&UserLogin=agent1"),
    ("%50assword=s3cretValue&UserLogin=agent1", "%50assword=***&UserLogin=agent1"),
    ("PassWord=s3cretValue;UserLogin=agent1", "PassWord=***;UserLogin=agent1"),
    ("Session%49D=s3cretValue&UserLogin=agent1", "Session%49D=***&UserLogin=agent1"),
    ("Password+=x&UserLogin=agent1", "Password+=***&UserLogin=agent1"),  # `+` is a space, stripped
    ("UserLogin=agent1&Password", "UserLogin=agent1&Password"),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_query_keys_are_read_as_the_rest_transport_reads_them(query, expected):
    assert redact_query(query) == expected


def test_paths_urls_and_free_text():
    assert redact_path("/Session/s3cretValue") == "/Session/***"
    assert redact_path("/Webservice/X/%53ession/s3cretValue") == "/Webservice/X/Session/***"
    assert redact_path("/Webservice/X/Session%2Fs3cretValue") == "/Webservice/X/Session/***"
    assert redact_path("/Session/s3cretValue/%53ession/s3cretValue") == "/Session/***/Session/***"
    assert redact_path("/Ticket/12") == "/Ticket/12"
    assert (
        redact_url("http://h/x?UserLogin=a&%50assword=s3cretValue#top") == "http://h/x?UserLogin=a&%50assword=***#top"
    )
    line = "Invalid request from ip=1.2.3.4: Invalid HTTP request line: 'GET /x?SessionID=s3cretValue HTTP/1.1 junk'"
    assert "s3cretValue" not in redact_text(line) and "ip=1.2.3.4" in redact_text(line)
    assert redact_text("GET /Webservice/R/Session/s3cretValue") == "GET /Webservice/R/Session/***"


def test_a_found_value_is_scrubbed_in_every_escaping():
    found: set[str] = set()
    redact_body(b'{"Password": "p\\"w\\u00e9 <&>x"}', found)
    echoed = 'p"wé <&>x | p\\"w\\u00e9 <&>x | p"wé &lt;&amp;&gt;x | p%22w%C3%A9%20%3C%26%3Ex | kept'
    assert scrub(echoed, found) == "*** | *** | *** | *** | kept"
    assert scrub("a b", {"a"}) == "a b"  # too short to hunt


def test_storable_text_has_no_nul_and_no_lone_surrogate():
    text = storable("a\x00b\ud800c")
    assert text == "a\\x00b\\ud800c"
    text.encode("utf-8")  # strict: would raise on a surrogate


def test_the_error_log_and_the_fault_name_a_broken_request_without_its_session_id(caplog):
    def app(environ, start_response):
        raise RuntimeError("broken")

    path = "/otrs/nph-genericinterface.pl/Webservice/R/%53ession/s3cretValue"
    answered = []
    body = UnexpectedErrors(app)(
        {"REQUEST_METHOD": "GET", "PATH_INFO": unquote(path), REQUEST_ID: "abc"},
        lambda status, headers, exc_info=None: answered.append(status),
    )
    fault = json.loads(b"".join(body))["faultstring"]
    assert answered == ["500 Internal Server Error"]
    assert "GET /otrs/nph-genericinterface.pl/Webservice/R/Session/***" in fault
    assert "request abc: unexpected error in GET" in caplog.text and "s3cretValue" not in caplog.text


@pytest.fixture
def app_loggers():
    """A RedactingLogger routes gateway's loggers to its error log, for the process: put them back after."""
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate)
        for name in APP_LOGGERS
        for logger in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


def test_gunicorn_logs_redact_request_lines_queries_referers_and_credential_headers(app_loggers):
    config = Config()
    config.set(
        "access_log_format", f'{config.access_log_format} "%(U)s" "%(q)s" %({{x-otrs-header-password}}i)s %({{a}}i)s'
    )
    logger = RedactingLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/R/Session/s3cretValue?%50assword=s3cretValue2&L=1",
        "PATH_INFO": "/R/Session/s3cretValue",
        "QUERY_STRING": "%50assword=s3cretValue2&L=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "http://app/?SessionID=s3cretValue3",
        "HTTP_X_OTRS_HEADER_PASSWORD": "s3cretValue4",
    }
    headers = [("REFERER", environ["HTTP_REFERER"]), ("X-OTRS-HEADER-PASSWORD", "s3cretValue4"), ("A", "x")]
    request = SimpleNamespace(headers=headers)
    response = SimpleNamespace(status="200 OK", headers=[], sent=1)
    atoms = logger.atoms(response, request, environ, dt.timedelta(seconds=1))
    assert atoms["r"] == "GET /R/Session/***?%50assword=***&L=1 HTTP/1.1"
    assert (atoms["U"], atoms["q"], atoms["f"]) == ("/R/Session/***", "%50assword=***&L=1", "http://app/?SessionID=***")
    assert atoms["{x-otrs-header-password}i"] == REDACTED and atoms["{a}i"] == "x"
    assert not [
        key for key, value in atoms.items() if "3cret" in str(value) and f"%({key})" in config.access_log_format
    ]


@pytest.mark.parametrize(
    "body",
    [b'"\\' * 120_000, b"<Password " * 25_000, b' Password="' * 20_000, b'{"Password": ' * 20_000, b"[" * 250_000],
    ids=["escapes", "open tags", "open attributes", "keys", "deep"],
)
def test_no_body_makes_redaction_slow(body):
    """The writer thread redacts every body: a pattern that backtracked took minutes on 240 KB of `"\\`."""
    started = time.monotonic()
    redact_body(body, set())
    assert time.monotonic() - started < 5


def test_a_body_of_thousands_of_secret_values_is_withheld_not_hunted_through():
    """Each found value costs a pass over the text: 10000 of them once cost the writer seconds per record."""
    values = [f"guess{i:05d}" for i in range(10_000)]
    body = json.dumps({"Password": values, "Note": "x" * 100_000}).encode()
    found: set[str] = set()
    text = scrub(redact_body(body, found), found)
    assert text == "[withheld: the request held 10000 secret values]"
    few = {"guess00001", "guess00002"}
    assert scrub("a guess00001 b guess00002", few) == f"a {REDACTED} b {REDACTED}"


def test_the_access_log_scrubs_what_the_dispatcher_found_in_a_custom_route(app_loggers):
    """Only /Session/<SID> is known to the access log by its shape; a route such as /Token/:SessionID/Check
    is known to the dispatcher, which hands its values on in the environ."""
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/R/Token/s3cretValue9/Check",
        "PATH_INFO": "/R/Token/s3cretValue9/Check",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    request = SimpleNamespace(headers=[])
    response = SimpleNamespace(status="200 OK", headers=[], sent=1)
    assert "s3cretValue9" in logger.atoms(response, request, environ, dt.timedelta(seconds=1))["r"]
    environ[SECRETS] = ["s3cretValue9"]
    assert logger.atoms(response, request, environ, dt.timedelta(seconds=1))["r"] == "GET /R/Token/***/Check HTTP/1.1"
