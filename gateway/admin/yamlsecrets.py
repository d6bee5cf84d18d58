"""The passwords a web service's YAML may hold (a requester's BasicAuthPassword, an SSL key's password, a
token), hidden on the pages that show the YAML and put back when an edited text is saved.

Line by line, so the text keeps its comments and layout: a `Key: value` line whose key ends in password,
passphrase, secret or token shows HIDDEN for its value. Saving a text with HIDDEN under such a key keeps
the stored value of that key's same occurrence (the first HIDDEN BasicAuthPassword the first stored one).
The export (a file for another system) is the stored text, whole.
"""

from __future__ import annotations

import re
from collections import defaultdict

from gateway.errors import AdminError

HIDDEN = "'(hidden)'"
# an optional diff marker, indentation, a list item's dash, then a key whose name says it holds a secret
_LINE = re.compile(
    r"^(?P<lead>[-+ ]?[ \t]*(?:-[ \t]+)?)(?P<key>[\w.-]*(?:password|passphrase|secret|token))"
    r"(?P<colon>[ \t]*:[ \t]+)(?P<value>\S.*?)[ \t]*$",
    re.I,
)


def _empty(value: str) -> bool:
    return value in ("''", '""', "~", "null") or value.startswith("#")


def mask(text: str) -> str:
    def line(found: re.Match[str]) -> str:
        if _empty(found["value"]):
            return found[0]
        return f"{found['lead']}{found['key']}{found['colon']}{HIDDEN}"

    return "\n".join(_LINE.sub(line, part) for part in text.split("\n"))


def unmask(edited: str, stored: str) -> str:
    """The edited text with each HIDDEN value replaced by the stored value it stands for."""
    values: defaultdict[str, list[str]] = defaultdict(list)
    for part in stored.split("\n"):
        if (found := _LINE.match(part)) and not _empty(found["value"]):
            values[found["key"]].append(found["value"])
    seen: defaultdict[str, int] = defaultdict(int)
    lines = []
    for part in edited.split("\n"):
        found = _LINE.match(part)
        if found and found["value"] == HIDDEN:
            key, index = found["key"], seen[found["key"]]
            seen[key] += 1
            if index >= len(values[key]):
                raise AdminError(f"{key} is {HIDDEN} but there is no stored value for it: type the value")
            part = f"{found['lead']}{key}{found['colon']}{values[key][index]}"
        lines.append(part)
    return "\n".join(lines)
