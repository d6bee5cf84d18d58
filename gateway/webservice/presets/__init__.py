"""The web-service presets: Znuny YAML exports shipped in this folder as package data.

importlib.resources finds them in any install (a wheel, a zip, an editable checkout), so
nothing depends on where the package was unpacked. conf/presets in a checkout is a link here.
"""

from __future__ import annotations

from importlib import resources

import yaml

_SUFFIX = ".yml"


def available() -> dict[str, str]:
    """Every preset's name and its Description, by name."""
    names = sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(_SUFFIX)
    )
    return {name: str(yaml.safe_load(read(name)).get("Description", "")) for name in names}


def read(name: str) -> str:
    """The YAML text of one preset; KeyError when there is none of that name."""
    entry = resources.files(__name__) / f"{name}{_SUFFIX}"
    if "/" in name or not entry.is_file():
        raise KeyError(name)
    return entry.read_text(encoding="utf-8")
