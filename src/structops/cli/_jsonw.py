"""A JSON writer laid out exactly like bpftool's ``-j`` (compact) and ``-p`` (pretty) output.

Observed on bpftool 7.1 (kernel-6.18-observed section 3): compact output has no spaces at
all (``{"id":29,"name":"x"}``); pretty output puts every object member on its own line
indented four spaces per nesting level, but array elements follow each other without a
line break (``[{`` ... ``},{`` ... ``}`` then a line break before the closing ``]``;
``"map_ids": [490`` newline ``]``).  Empty containers print as ``[]`` / ``{}``.  Every
document ends with a newline.

Objects are dicts or :class:`~structops.cli._btfvalue.Pairs` (keys may repeat);
:class:`Raw` values are written verbatim (bpftool's plain-text pointers such as ``0x5d3``).
"""

from __future__ import annotations

import json
from typing import Any

from structops.cli._btfvalue import Pairs

__all__ = ["Raw", "dumps"]


class Raw(str):
    """A value printed as-is, without JSON quoting."""


def dumps(value: Any, pretty: bool = False) -> str:
    """Serialise ``value`` (dict/list/str/int/bool/None/float) the way bpftool does."""
    parts: list[str] = []
    _write(value, pretty, 0, parts)
    parts.append("\n")
    return "".join(parts)


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _write(value: Any, pretty: bool, depth: int, out: list[str]) -> None:
    if isinstance(value, dict | Pairs):
        items = list(value.items()) if isinstance(value, dict) else list(value)
        out.append("{")
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            if pretty:
                out.append("\n" + "    " * (depth + 1))
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(": " if pretty else ":")
            _write(item, pretty, depth + 1, out)
        if items and pretty:
            out.append("\n" + "    " * depth)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, pretty, depth + 1, out)
        if value and pretty:
            out.append("\n" + "    " * depth)
        out.append("]")
    else:
        out.append(_scalar(value))
