"""Registration rules as pure functions."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def clean_name(name: str) -> str:
    """A person's name as shown in mail: control characters (CR/LF among them) removed,
    inner whitespace collapsed."""
    return " ".join(_UNSAFE.sub(" ", name).split())
