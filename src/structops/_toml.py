"""``read_toml``: read a TOML file, turning an unreadable or malformed file into one error type."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

__all__ = ["read_toml"]


def read_toml(path: Path, error: type[Exception], unreadable: str, malformed: str) -> dict[str, Any]:
    """The table of the TOML file ``path``.

    An OSError raises ``error(unreadable)`` and a TOML syntax error ``error(malformed)``;
    both messages are format strings of ``path`` and ``reason``.
    """
    try:
        text = path.read_text()
    except OSError as e:
        raise error(unreadable.format(path=path, reason=e.strerror or e)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(malformed.format(path=path, reason=e)) from None
