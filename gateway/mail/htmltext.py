"""HTML to plain text and back exactly as Znuny's HTMLUtils::ToAscii and ToHTML do it.

Znuny stores an HTML article as this text (the HTML itself becomes the attachment ``file-2``)
and sends it as the text part of an HTML mail. Clients compare article bodies with what Znuny
stored, so this follows Znuny's substitutions one by one, quirks included (a ``&#48;`` stays as it
is, a long line is broken after 78 characters, links are listed as ``[n] URL`` at the end),
rather than a more faithful rendering of the HTML.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Callable

LINE_LENGTH = 78  # Znuny's Ticket::Frontend::TextAreaNote

_I, _S = re.IGNORECASE, re.IGNORECASE | re.DOTALL
_LINK = re.compile(r"<a\s.*?href=(\"|')(.*?)(\1).*?>", _I)
_BLOCKQUOTE = re.compile(r"<blockquote(.*?)>(.+?)</blockquote>", _S | re.M)
_CITE_DIV = re.compile(r"<div[^>]+type=\"cite\"[^>]*>(.+?)</div>", _S | re.M)
_ONE2ONE = re.compile(r"<(pre|code)(.*?)>(.+?)</(pre|code)(.*?)>", _S | re.M)
_BR = r"<br(\s{0,3}|\s{1,3}.+?)(/|)>"
# (pattern, replacement) in Znuny's order, after the links, quotes and <pre> blocks are taken out
_STEPS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<!--.*?-->", _S | re.M), ""),
    (re.compile(r"^\s*", re.M), ""),
    (re.compile(r"(\n\r|\r\r\n|\r\n)", re.S), "\n"),
    (re.compile(rf"({_BR})(\n|\r)", _S), r"\1"),
    (re.compile(r"\n", re.S), " "),
    (re.compile(r"\r", re.S), " "),
    (re.compile(r"<style[^>]*?/>", _S), ""),
    (re.compile(r"<style[^>]*?>.*?</style[^>]*>", _S), ""),
    (re.compile(_BR, _S), "\n"),
    (re.compile(r"</(\s{0,3})div>", _S), "\n"),
    (re.compile(r"<(hr|hr.+?)>", _S), "\n\n"),
    (re.compile(r"<(/|)(p|p.+?|table|table.+?)>", _S), "\n\n"),
    (re.compile(r"<(tr|tr.+?|th|th.+?)>", _S), "\n\n"),
    (re.compile(r"<li>", _S), "\n - "),
    (re.compile(r"</(ul|ol)>", _S), "\n\n"),
    (re.compile(r"</td[^>]*>", _S), " "),
    (re.compile(r"[ ]{2,}", re.M), " "),
]
_TAG = re.compile(r"<.+?>", re.S)
_DECIMAL = re.compile(r"(&#(\d+);?)")
_HEX = re.compile(r"(&#[xX]([0-9a-fA-F]+);?)")
_NAMED = re.compile(r"(&(\w+);?)")
_EMPTY_LINES = re.compile(r"^\s*\n\s*\n", re.M)
_LONG_LINE = re.compile(rf"(.{{4,{LINE_LENGTH}}})(?:\s|\Z)", re.M)
_LINE_START = re.compile(r"^(.*?)$", re.M)


def _character(original: str, code: int) -> str:
    """Perl's chr() as ToAscii uses it: surrogates, impossible code points and "0" (false in Perl) stay as written."""
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return original
    character = chr(code)
    return original if character == "0" else character


def _quoted(markup: str) -> str:
    text = to_ascii(markup)
    if len(text) > LINE_LENGTH:
        text = _LONG_LINE.sub("\\1\n", text)
    return _LINE_START.sub(lambda line: f"> {line[1]}", text)


def _placeholders(pattern: re.Pattern[str], text: str, kind: str, value: Callable[[re.Match[str]], str],
                  store: dict[str, str]) -> str:
    def keep(found: re.Match[str]) -> str:
        key = f"######{kind}::{len(store) + 1}######"
        store[key] = value(found)
        return key
    return pattern.sub(keep, text)


def to_ascii(markup: str) -> str:
    links: list[str] = []

    def link(found: re.Match[str]) -> str:
        links.append(found[2])
        return f"[{len(links)}]"

    text = _LINK.sub(link, markup)
    cites: dict[str, str] = {}
    text = _placeholders(_BLOCKQUOTE, text, "Cite", lambda found: _quoted(found[2]), cites)
    text = _placeholders(_CITE_DIV, text, "Cite", lambda found: _quoted(found[1]), cites)
    verbatim: dict[str, str] = {}
    text = _placeholders(_ONE2ONE, text, "One2One", lambda found: found[3], verbatim)
    for pattern, replacement in _STEPS:
        text = pattern.sub(replacement, text)
    for key, content in verbatim.items():
        text = text.replace(key, f"\n\n\n{content}\n\n")
    text = _TAG.sub("", text)
    text = _DECIMAL.sub(lambda found: _character(found[1], int(found[2])), text)
    text = _HEX.sub(lambda found: _character(found[1], int(found[2], 16)) if int(found[2], 16) else found[1], text)
    text = _NAMED.sub(lambda found: chr(html.entities.name2codepoint[found[2]])
                      if found[2] in html.entities.name2codepoint else found[1], text)
    text = _EMPTY_LINES.sub("\n", text)
    if len(text) > LINE_LENGTH:
        text = _LONG_LINE.sub("\\1\n", text)
    for key, content in cites.items():
        text = text.replace(key, f"{content}\n")
    if links:
        text += "\n\n" + "".join(f"[{number}] {url}\n" for number, url in enumerate(links, start=1))
    return text


def to_html(text: str) -> str:
    """Znuny's ToHTML: a plain-text signature under an HTML body (`'` is left as it is, as in Znuny)."""
    text = re.sub(r"(\n\r|\r\r\n|\r\n)", "\n", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return re.sub(r"(\n|\r)", "<br/>\n", text)
