"""Secrets out of every log: the communication log, gunicorn's access and error logs, gateway's own.

A secret is read the way the server reads it, so that no spelling the server accepts escapes:
query and form keys percent-decoded (`%50assword`, `+`), JSON through `json` (`"\\u0050assword"`,
duplicate keys, values inside lists and objects), XML through the SOAP transport's parser (CDATA,
comments, character references, any namespace prefix, attributes). What does not parse is
redacted by a conservative scan that rather hides too much than too little. Every value found
this way (and those of the credential headers and `/Session/<SID>` routes) is then replaced
wherever else it occurs, which catches an answer or a message that repeats it.

Nothing here recurses: a body nested thousands deep costs a loop, never the stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus
from xml.sax.saxutils import escape

from lxml import etree

from gateway import safexml

SECRET_KEYS = ("Password", "SessionID", "TwoFactorToken", "AccessToken", "UserPw", "pw")
REDACTED = "***"
# a found value shorter than this is not hunted through the rest of the text: "a" would erase every "a"
MIN_SCRUBBED = 4
MAX_SCRUBBED = 32

_NAMES = {key.lower() for key in SECRET_KEYS}
_ALTERNATION = "|".join(SECRET_KEYS)
_PATH = re.compile(r"(/Session/)([^/?#\s]+)", re.I)
# a key=value pair anywhere in free text: the key is decoded before it is compared; a match starts only where
# a token does, so a long line without `=` costs one pass, not one per character
_PAIR = re.compile(r"(?<![^\s&;?\"'<>])([^\s&;?=\"'<>]+)=([^\s&;#\"'<>]*)")
_HEADER_LINE = re.compile(r"(X-OTRS-Header-(?:Password|SessionID|TwoFactorToken)\s*[:=]\s*)(\S+)", re.I)
# a string token always matches (to its quote or the text's end), so no input makes the scan backtrack
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}:,]|[^\s"\[\]{}:,]+', re.S)
_XML_OPEN = re.compile(rf"<\s*(?:[\w.-]+:)?({_ALTERNATION})(?=[\s/>])[^<>]*>", re.I)
_XML_ATTRIBUTE = re.compile(rf"""(\s(?:[\w.-]+:)?(?:{_ALTERNATION})\s*=\s*)("[^"]*"?|'[^']*'?|[^\s>]+)""", re.I)


def is_secret(name: str) -> bool:
    """A key, element or attribute name that holds a secret, whatever its case or namespace prefix."""
    return name.rpartition(":")[2].strip().lower() in _NAMES


def redact_query(query: str, found: set[str] | None = None) -> str:
    """A query string or form body (`&` or `;`, as the REST transport splits it) with secret values replaced."""
    parts = re.split(r"([&;])", query)
    for i in range(0, len(parts), 2):
        key, equals, value = parts[i].partition("=")
        if equals and is_secret(unquote_plus(key)):
            _add(found, unquote_plus(value))
            parts[i] = f"{key}={REDACTED}"
    return "".join(parts)


def redact_path(path: str, found: set[str] | None = None) -> str:
    """A path without the session ID that Znuny's routes carry in it (`/Session/:SessionID`)."""

    def replace(match: re.Match[str]) -> str:
        _add(found, match[2])
        return f"{match[1]}{REDACTED}"

    redacted = _PATH.sub(replace, path)
    decoded = unquote(redacted)
    again = _PATH.sub(replace, decoded)
    return again if again != decoded else redacted  # spelled with escapes (`/%53ession/...`): logged decoded


def redact_url(url: str, found: set[str] | None = None) -> str:
    """A URL or request target (path, query, fragment) with its secrets replaced."""
    base, question, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    return f"{redact_path(base, found)}{question}{redact_query(query, found)}{hash_}{fragment}"


def redact_text(text: str, found: set[str] | None = None) -> str:
    """Free text (a log message, a request line quoted in an error): every `key=value`, header and path."""

    def pair(match: re.Match[str]) -> str:
        if not is_secret(unquote_plus(match[1])):
            return match[0]
        _add(found, unquote_plus(match[2]))
        return f"{match[1]}={REDACTED}"

    def header(match: re.Match[str]) -> str:
        _add(found, match[2])
        return f"{match[1]}{REDACTED}"

    text = _HEADER_LINE.sub(header, text)
    return redact_path(_PAIR.sub(pair, text), found)


def redact_body(data: bytes, found: set[str] | None = None) -> str:
    """A request or response body as text, secrets replaced, whatever its format or state."""
    text = decode(data)
    start = text.lstrip("\ufeff \t\r\n")[:1]
    if start in ("{", "["):
        parsed = _redact_parsed_json(text.lstrip("\ufeff"), found)
        if parsed is not None:
            return parsed
    elif start == "<":
        parsed = _redact_parsed_xml(data, found)
        if parsed is not None:
            return parsed
    return redact_query(_redact_xml_text(_redact_json_text(text, found), found), found)


def decode(data: bytes) -> str:
    """Bytes as the REST transport reads an undeclared body: UTF-8, or else Windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Every occurrence of each secret value, also JSON-, XML- or URL-escaped, replaced.

    Each value costs a pass over the text: past MAX_SCRUBBED values (no client sends more than a
    few credentials) the text is withheld, so a request of thousands cannot keep the writer busy.
    """
    values = {s for s in secrets if len(s) >= MIN_SCRUBBED}
    if len(values) > MAX_SCRUBBED:
        return f"[withheld: the request held {len(values)} secret values]"
    for secret in sorted(values, key=len, reverse=True):
        spellings = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
        spellings |= {escape(secret), escape(secret, {'"': "&quot;"})}
        spellings |= {quote(secret, safe="", errors="replace"), quote_plus(secret, errors="replace")}
        for spelling in sorted(spellings, key=len, reverse=True):
            text = text.replace(spelling, REDACTED)
    return text


def storable(text: str) -> str:
    """Text every database keeps as it is: NUL (PostgreSQL refuses it) and lone surrogates written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _add(found: set[str] | None, value: str) -> None:
    if found is not None and value and value != REDACTED:
        found.add(value)


def _strings(value: object, found: set[str] | None) -> None:
    """Collect every string inside a JSON value, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _add(found, item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool):
            _add(found, str(item))


def _redact_parsed_json(text: str, found: set[str] | None) -> str | None:
    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        # every pair, a duplicate key's too: json keeps the last, a client's echo may show any
        for key, value in items:
            if is_secret(key):
                _strings(value, found)
        return {key: REDACTED if is_secret(key) else value for key, value in items}

    try:
        return json.dumps(json.loads(text, object_pairs_hook=pairs), ensure_ascii=False, sort_keys=True)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes: scanned instead
        return None


def _json_string(token: str) -> str:
    try:
        value = json.loads(token if len(token) > 1 and token.endswith('"') else token + '"')
    except ValueError:
        return token.strip('"')
    return value if isinstance(value, str) else token


def _redact_json_text(text: str, found: set[str] | None) -> str:
    """JSON that does not parse, token by token: the value after each secret key, to its end or the text's."""
    tokens = list(_JSON_TOKEN.finditer(text))
    out: list[str] = []
    position, i = 0, 0
    while i + 2 < len(tokens):
        key, colon = tokens[i][0], tokens[i + 1][0]
        if not (key.startswith('"') and colon == ":" and is_secret(_json_string(key))):
            i += 1
            continue
        j, depth = i + 2, 0
        while j < len(tokens):
            piece = tokens[j][0]
            if depth == 0 and piece in (",", "]", "}"):
                break
            depth += (piece in ("[", "{")) - (piece in ("]", "}"))
            if piece not in ("[", "{", "]", "}", ":", ","):
                _add(found, _json_string(piece) if piece.startswith('"') else piece)
            j += 1
            if depth == 0:
                break
        if j > i + 2:
            end = len(text) if depth > 0 else tokens[j - 1].end()  # unclosed: the rest is the secret's
            out += [text[position : tokens[i + 2].start()], f'"{REDACTED}"']
            position = end
        i = j
    out.append(text[position:])
    return "".join(out)


def _redact_parsed_xml(data: bytes, found: set[str] | None) -> str | None:
    try:
        root = etree.fromstring(data, safexml.parser())
    except (etree.XMLSyntaxError, ValueError):
        return None
    secrets = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            if is_secret(etree.QName(name).localname):
                _add(found, value)
                element.set(name, REDACTED)
        if is_secret(etree.QName(element).localname):
            secrets.append(element)
    for element in secrets:
        _add(found, "".join(element.itertext()))
        for child in list(element):
            element.remove(child)
        element.text = REDACTED
    return etree.tostring(root, encoding="unicode")


def _redact_xml_text(text: str, found: set[str] | None) -> str:
    """XML that does not parse: a secret element's content to its last closing tag (or the text's end), and
    every secret attribute."""
    out: list[str] = []
    position = 0
    while (opening := _XML_OPEN.search(text, position)) is not None:
        out.append(text[position : opening.end()])
        position = opening.end()
        if opening[0].endswith("/>"):
            continue
        closing = re.compile(rf"</\s*(?:[\w.-]+:)?{opening[1]}\s*>", re.I)
        ends = [found_end.start() for found_end in closing.finditer(text, position)]
        end = ends[-1] if ends else len(text)
        _add(found, text[position:end])
        out.append(REDACTED)
        position = end
    out.append(text[position:])

    def attribute(match: re.Match[str]) -> str:
        _add(found, match[2].strip("\"'"))
        return f'{match[1]}"{REDACTED}"'

    return _XML_ATTRIBUTE.sub(attribute, "".join(out))
