"""The one way both key stores write a file: keys and passphrases must never be readable by others,
not even for the moment between creating a file and restricting it."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: str | Path, data: bytes) -> None:
    """Write a file only its owner can read: keys and passphrases."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)
