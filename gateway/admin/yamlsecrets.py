"""The passwords a web service's YAML may hold (a requester's BasicAuthPassword, an SSL key's password, a
token, an Authorization header), hidden on the pages that show the YAML and put back when an edited text is
saved.

Found through the YAML parser (PyYAML's node tree knows where each value stands in the text), so a flow
mapping, a quoted key, a value on the next line or a block scalar is found as well, and the rest of the
text keeps its layout and comments. The edit page numbers what it hides, `'(hidden 2)'`: saving puts the
second stored secret where that token stands, wherever the edit moved it, and a token that stands for
nothing is refused. A text that does not parse is hidden line by line (it cannot be saved anyway). The
export (a file for another system) is the stored text, whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import yaml

from gateway.errors import AdminError

_SECRET_KEY = re.compile(r"(password|passphrase|secret|token|authorization|api[-_]?key)$", re.I)
_TOKEN = re.compile(r"\(hidden(?: (\d+))?\)")
# the fallback for a text that does not parse: a `Key: value` line under a secret key
_LINE = re.compile(
    r"^(?P<lead>[-+ ]?[ \t]*(?:-[ \t]+)?)(?P<key>[\w.-]*(?:password|passphrase|secret|token|authorization))"
    r"(?P<colon>[ \t]*:[ \t]+)(?P<value>\S.*?)[ \t]*$",
    re.I,
)


def _scalars(node: yaml.Node) -> Iterator[tuple[yaml.Node | None, yaml.ScalarNode]]:
    """(key node or None, scalar node) for every scalar under `node`."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _scalars(key)
            if isinstance(value, yaml.ScalarNode):
                yield key, value
            else:
                yield from _scalars(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item)
    elif isinstance(node, yaml.ScalarNode):
        yield None, node


def _tree(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _secrets(root: yaml.Node | None) -> list[yaml.ScalarNode]:
    """The non-empty values under secret keys, in the order of the text."""
    if root is None:
        return []
    return [
        value
        for key, value in _scalars(root)
        if isinstance(key, yaml.ScalarNode) and _SECRET_KEY.search(str(key.value)) and value.value != ""
    ]


def _replace(text: str, spans: list[tuple[yaml.ScalarNode, str]]) -> str:
    """Each node's text replaced by a scalar; a block scalar's span ends with its line end, kept."""
    for node, scalar in sorted(spans, key=lambda span: span[0].start_mark.index, reverse=True):
        start, end = node.start_mark.index, node.end_mark.index
        text = text[:start] + scalar + ("\n" if text[start:end].endswith("\n") else "") + text[end:]
    return text


def mask(text: str, numbered: bool = False) -> str:
    """The text with each secret shown as `'(hidden)'`; numbered, `'(hidden N)'`, for a form to send back."""
    root = _tree(text)
    if root is None:
        return "\n".join(
            _LINE.sub(lambda found: f"{found['lead']}{found['key']}{found['colon']}'(hidden)'", line)
            for line in text.split("\n")
        )
    nodes = _secrets(root)
    return _replace(text, [(node, f"'(hidden {i})'" if numbered else "'(hidden)'") for i, node in enumerate(nodes, 1)])


def unmask(edited: str, stored: str) -> str:
    """The edited text with each `'(hidden N)'` replaced by the stored secret it stands for. A text that does
    not parse is returned as it is: saving it is refused for its YAML error."""
    root = _tree(edited)
    if root is None:
        return edited
    values = [node.value for node in _secrets(_tree(stored))]
    spans = []
    for key, node in _scalars(root):
        found = _TOKEN.fullmatch(str(node.value))
        if found is None:
            continue
        number = int(found[1] or 0)
        if key is None or not 1 <= number <= len(values):
            raise AdminError(
                f"{node.value!r} (line {node.start_mark.line + 1}) stands for no stored value: type the value"
            )
        spans.append((node, json.dumps(values[number - 1], ensure_ascii=False)))
    return _replace(edited, spans)
