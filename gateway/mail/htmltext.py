"""HTML to plain text and back exactly as Znuny's HTMLUtils::ToAscii and ToHTML do it.

Znuny stores an HTML article as this text (the HTML itself becomes the attachment ``file-2``)
and sends it as the text part of an HTML mail. Clients compare article bodies with what Znuny
stored, so this follows Znuny's substitutions one by one, quirks included (a ``&#48;`` stays as it
is, a long line is broken after 78 characters, links are listed as ``[n] URL`` at the end),
rather than a more faithful rendering of the HTML.

Every HTML article any client sends passes through here, and Znuny's patterns, run as they are,
take quadratic time or worse on hostile input (each start of ``<br `` repeated rescans the rest of
the text for a ``>``). So each substitution is done in linear time with the same result: a pattern
whose every match ends with a closer (``>``, ``-->``) is not searched past the last one; a pattern
that, once it fails at one start for want of its closer, must fail at every later one (blockquote,
cite div, pre/code, style blocks, links on their line) stops there; and backtracking that cannot
change the outcome is cut off (atomic groups). Perl's character classes and case folding are
spelled out, as Python's differ: Perl's ``\\s`` leaves out U+001C-U+001F, its ``\\w`` takes marks
and not "²", its ``/i`` takes "ſ" for "s" and "ﬆ" for "st" but not "İ" for "i".

Deliberate differences from Znuny:

- A link's URL is listed as written; Znuny first passes it through HTMLUtils::Safety, which
  changes only a URL that contains a tag itself (``<`` or UTF-7's ``+ADw-``).
- A numeric character reference beyond 2**63-1 becomes U+FFFD like any beyond U+10FFFF; in Znuny
  Perl's chr() dies on it and the request fails.
- Znuny puts its placeholders back (``######Cite::1######``, ``######One2One::1######``) one key
  after another, so a placeholder's text typed into a quote or a ``<pre>`` can be replaced too;
  here each is replaced once, in one pass.
"""

from __future__ import annotations

import bisect
import html.entities
import re
import unicodedata
from collections.abc import Callable

LINE_LENGTH = 78  # Znuny's Ticket::Frontend::TextAreaNote

_WS = "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"  # Perl's \s
_FOLDS = {"s": "ſ", "k": "\u212a"}  # what else Perl's /i takes for an ASCII letter
_ENTITIES = {**{name: chr(code) for name, code in html.entities.name2codepoint.items()}, "apos": "'"}
_OTHER_WORD = re.compile("[\u200c\u200d\u24b6-\u24e9\U0001f130-\U0001f149\U0001f150-\U0001f169\U0001f170-\U0001f189]")
# from the first character that is not an ASCII digit to the end: what leaves a number's leading digits
_NOT_DIGITS = re.compile("[^0-9].*", re.DOTALL)
_BEYOND = 0x110000  # any code point past Unicode's last

Replacement = str | Callable[[re.Match[str]], str]


def _ci(word: str) -> str:
    """`word` as Perl's /i matches it."""
    pattern = "".join(f"[{c}{c.upper()}{_FOLDS.get(c, '')}]" if c.isalpha() else re.escape(c) for c in word)
    return pattern.replace("[sSſ][tT]", "(?:[sSſ][tT]|[ﬅﬆ])")


_S = re.S
_LINK_START = re.compile(rf"<{_ci('a')}{_WS}")
_LINK = re.compile(rf"<{_ci('a')}{_WS}.*?{_ci('href')}=(\"|')(.*?)\1.*?>")
# Znuny's (.*?)> before a closer is the first ">": if the closer fails after it, it fails after any later one
_BLOCKQUOTE_START = re.compile(f"<{_ci('blockquote')}")
_BLOCKQUOTE = re.compile(f"<{_ci('blockquote')}([^>]*+)>(.+?)</{_ci('blockquote')}>", _S)
_CITE_DIV_START = re.compile(f"<{_ci('div')}")
_CITE_DIV = re.compile(f'<{_ci("div")}(?>[^>]+{_ci("type")}="{_ci("cite")}"[^>]*+>)(.+?)</{_ci("div")}>', _S)
_DIV_CLOSE = re.compile(f"</{_ci('div')}>")
_ONE2ONE_START = re.compile(f"<(?:{_ci('pre')}|{_ci('code')})")
_ONE2ONE = re.compile(f"<({_ci('pre')}|{_ci('code')})([^>]*+)>(?>(.+?)</({_ci('pre')}|{_ci('code')}))([^>]*+)>", _S)
_STYLE_START = re.compile(f"<{_ci('style')}")
_STYLE = re.compile(f"<{_ci('style')}[^>]*+>(?>.*?</{_ci('style')})[^>]*+>", _S)
_BR = rf"<{_ci('br')}({_WS}{{0,3}}|{_WS}{{1,3}}.+?)(/|)>"
_LONG_LINE = re.compile(f"^.{{{LINE_LENGTH + 1},}}", re.M)
_SPACE = re.compile(_WS)
_ONE2ONE_KEY = re.compile("######One2One::[0-9]+######")
_CITE_KEY = re.compile("######Cite::[0-9]+######")


def _sub(pattern: re.Pattern[str], replacement: Replacement, *closers: str) -> Callable[[str], str]:
    """`pattern.sub`; when every match ends with one of `closers`, not searched past the last of them,
    where each start would fail only after scanning the rest of the text."""

    def step(text: str) -> str:
        if not closers:
            return pattern.sub(replacement, text)
        ends = [found + len(closer) for closer in closers if (found := text.rfind(closer)) >= 0]
        if not ends:
            return text
        cut = max(ends)
        return pattern.sub(replacement, text[:cut]) + text[cut:]

    return step


def _each(
    start: re.Pattern[str],
    whole: re.Pattern[str],
    text: str,
    replace: Callable[[re.Match[str]], str],
    closer: re.Pattern[str] | None = None,
) -> str:
    """`whole.sub(replace, text)` for a pattern that, once it fails at a `start` for want of its closer,
    fails at every later one: the search ends there. With `closer`, a start may also fail for its tag
    (a <div> that is no cite): the search then goes on after that tag."""
    out, pos, last_closer = [], 0, None
    while (opening := start.search(text, pos)) is not None:
        if closer is not None:
            if last_closer is None:
                last_closer = max((found.start() for found in closer.finditer(text)), default=-1)
            tag_end = text.find(">", opening.end())
            if tag_end < 0 or last_closer < tag_end + 2:
                break
        found = whole.match(text, opening.start())
        if found is None:
            if closer is None:
                break
            out.append(text[pos : tag_end + 1])
            pos = tag_end + 1
            continue
        out += [text[pos : found.start()], replace(found)]
        pos = found.end()
    out.append(text[pos:])
    return "".join(out)


def _links(text: str, links: list[str]) -> str:
    """Znuny's <a\\s.*?href=("|')(.*?)(\\1).*?> as "[n]", its URL appended to `links`.

    The match stays on the line after `<a\\s` and ends at a ">": it is not searched past the line's
    last ">", and a start that finds no link leaves none for the later starts on its line."""
    out, pos, line_end, last_gt = [], 0, -1, -1
    while (opening := _LINK_START.search(text, pos)) is not None:
        begin = opening.end()
        if begin > line_end:
            line_end = text.find("\n", begin)
            line_end = len(text) if line_end < 0 else line_end
            last_gt = text.rfind(">", begin, line_end)
        found = _LINK.match(text, opening.start(), last_gt + 1) if last_gt >= begin else None
        if found is None:
            skip = max(opening.start() + 1, line_end - 2)  # the first start whose line is the next one
            out.append(text[pos:skip])
            pos = skip
            continue
        links.append(found[2])
        out += [text[pos : found.start()], f"[{len(links)}]"]
        pos = found.end()
    out.append(text[pos:])
    return "".join(out)


def _unstyled(found: re.Match[str]) -> str:
    """Znuny's <style[^>]*?/> within a tag that ends "/>"; the tag stays whole otherwise, as no later start
    before its ">" can match either."""
    return "" if found[0].endswith("/>") else found[0]


# Znuny's substitutions after the links, quotes and <pre> blocks are taken out, in its order
_STEPS: list[Callable[[str], str]] = [
    _sub(re.compile(r"<!--.*?-->", _S), "", "-->"),
    _sub(re.compile(f"^{_WS}*", re.M), ""),
    _sub(re.compile(r"(\n\r|\r\r\n|\r\n)"), "\n"),
    _sub(re.compile(f"({_BR})[\n\r]", _S), r"\1", ">\n", ">\r"),
    lambda text: text.replace("\n", " ").replace("\r", " "),
    _sub(re.compile(f"<{_ci('style')}[^>]*+>"), _unstyled, ">"),
    lambda text: _each(_STYLE_START, _STYLE, text, lambda found: ""),
    _sub(re.compile(_BR, _S), "\n", ">"),
    _sub(re.compile(f"</{_WS}{{0,3}}{_ci('div')}>"), "\n"),
    _sub(re.compile(f"<({_ci('hr')}|{_ci('hr')}.+?)>", _S), "\n\n", ">"),
    _sub(re.compile(f"<(/|)({_ci('p')}|{_ci('p')}.+?|{_ci('table')}|{_ci('table')}.+?)>", _S), "\n\n", ">"),
    _sub(re.compile(f"<({_ci('tr')}|{_ci('tr')}.+?|{_ci('th')}|{_ci('th')}.+?)>", _S), "\n\n", ">"),
    _sub(re.compile(f"<{_ci('li')}>"), "\n - "),
    _sub(re.compile(f"</({_ci('ul')}|{_ci('ol')})>"), "\n\n"),
    _sub(re.compile(f"</{_ci('td')}[^>]*>"), " ", ">"),
    _sub(re.compile("[ ]{2,}"), " "),
]
_TAG = _sub(re.compile(r"<.+?>", _S), "", ">")
_DECIMAL = re.compile(r"&#(\d+);?")  # Perl's \d, like Python's, is any Unicode decimal digit
_HEX = re.compile(r"&#[xX]([0-9a-fA-F]+);?")
_NAMED = re.compile(r"&([0-9A-Za-z]+)(;?)")
_EMPTY_LINES = re.compile(f"^{_WS}*\n{_WS}*\n", re.M)


def _character(original: str, code: int) -> str:
    """Perl's chr() through Encode's strict UTF-8 as ToAscii uses them: a surrogate and "0" (false in Perl)
    stay as written, a non-character or anything beyond U+10FFFF is U+FFFD."""
    if 0xD800 <= code <= 0xDFFF or code == 0x30:
        return original
    if code >= _BEYOND or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
        return "\ufffd"
    return chr(code)


def _decimal(found: re.Match[str]) -> str:
    digits = _NOT_DIGITS.sub("", found[1]).lstrip("0")  # Perl reads "1٣" as 1 and "٣" as 0
    return _character(found[0], int(digits or "0") if len(digits) <= 7 else _BEYOND)


def _hexadecimal(found: re.Match[str]) -> str:
    digits = found[1].lstrip("0")
    if not digits:
        return found[0]
    return _character(found[0], int(digits, 16) if len(digits) <= 6 else _BEYOND)


def _is_perl_word(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LM" or category in ("Nd", "Nl", "Pc") or _OTHER_WORD.match(char) is not None


def _named(found: re.Match[str]) -> str:
    """Znuny's &(\\w+);? when the name is an entity: Perl's \\w run must end where the ASCII name does."""
    end = found.end(1)
    longer = not found[2] and end < len(found.string) and _is_perl_word(found.string[end])
    return found[0] if longer or found[1] not in _ENTITIES else _ENTITIES[found[1]]


def _broken(text: str) -> str:
    """Znuny's forced line breaking, s/(.{4,78})(?:\\s|\\z)/$1\\n/gm, done line by line: a line of 4 to 78
    characters is a match as a whole, which changes only the last one (a line break added)."""
    if len(text) <= LINE_LENGTH:
        return text
    short_end = 4 <= len(text) - text.rfind("\n") - 1 <= LINE_LENGTH  # the last line, ended by \z
    text = _LONG_LINE.sub(_break_line, text)
    return text + "\n" if short_end else text


def _break_line(found: re.Match[str]) -> str:
    """A line longer than 78 broken as Znuny's pattern does: each match ends at the last white space within
    78 characters (or the line's end), and the starts with none there are skipped, not tried one by one."""
    line = found[0]
    breaks = [space.start() for space in _SPACE.finditer(line)] + [len(line)]
    pieces, pos = [], 0
    while (at := bisect.bisect_left(breaks, pos + 4)) < len(breaks):
        if breaks[at] > pos + LINE_LENGTH:  # no match before the start where that break is 78 ahead
            pieces.append(line[pos : breaks[at] - LINE_LENGTH])
            pos = breaks[at] - LINE_LENGTH
            continue
        end = breaks[bisect.bisect_right(breaks, pos + LINE_LENGTH) - 1]
        if end == len(line):  # the line break stays; at the text's end \z is matched instead
            return "".join(pieces) + line[pos:] + ("\n" if found.end() == len(found.string) else "")
        pieces += [line[pos:end], "\n"]
        pos = end + 1
    return "".join(pieces) + line[pos:]


def _quoted(markup: str) -> str:
    """A quote's text with "> " before each line (Perl's ^ with /m: not after a final line break)."""
    text = _broken(to_ascii(markup))
    body, end = (text[:-1], "\n") if text.endswith("\n") else (text, "")
    return "\n".join(f"> {line}" for line in body.split("\n")) + end


def _keeper(kind: str, store: dict[str, str], value: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    """A placeholder for a match, its text kept in `store` until Znuny puts it back."""

    def keep(found: re.Match[str]) -> str:
        key = f"######{kind}::{len(store) + 1}######"
        store[key] = value(found)
        return key

    return keep


def to_ascii(markup: str) -> str:
    links: list[str] = []
    text = _links(markup, links)
    cites: dict[str, str] = {}
    text = _each(_BLOCKQUOTE_START, _BLOCKQUOTE, text, _keeper("Cite", cites, lambda found: _quoted(found[2])))
    text = _each(
        _CITE_DIV_START, _CITE_DIV, text, _keeper("Cite", cites, lambda found: _quoted(found[1])), closer=_DIV_CLOSE
    )
    verbatim: dict[str, str] = {}
    text = _each(_ONE2ONE_START, _ONE2ONE, text, _keeper("One2One", verbatim, lambda found: found[3]))
    for step in _STEPS:
        text = step(text)
    text = _ONE2ONE_KEY.sub(lambda found: f"\n\n\n{verbatim[found[0]]}\n\n" if found[0] in verbatim else found[0], text)
    text = _TAG(text)
    text = _DECIMAL.sub(_decimal, text)
    text = _HEX.sub(_hexadecimal, text)
    text = _NAMED.sub(_named, text)
    text = _broken(_EMPTY_LINES.sub("\n", text))
    text = _CITE_KEY.sub(lambda found: f"{cites[found[0]]}\n" if found[0] in cites else found[0], text)
    if links:
        text += "\n\n" + "".join(f"[{number}] {url}\n" for number, url in enumerate(links, start=1))
    return text


def to_html(text: str) -> str:
    """Znuny's ToHTML: a plain-text signature under an HTML body (`'` is left as it is, as in Znuny)."""
    text = re.sub(r"(\n\r|\r\r\n|\r\n)", "\n", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return re.sub(r"(\n|\r)", "<br/>\n", text)
