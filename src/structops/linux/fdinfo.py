"""``/proc/self/fdinfo/<fd>`` of a bpf object, parsed into a dict (spec K7).

The kernel prints one ``key:\\tvalue`` line per field (``link_type``, ``link_id``,
``map_id`` for a struct_ops link; ``map_type``, ``max_entries`` ... for a map).
"""

from __future__ import annotations

import errno
from pathlib import Path

from structops.errors import bpf_error

__all__ = ["parse_fdinfo", "read_fdinfo"]


def parse_fdinfo(text: str) -> dict[str, str]:
    """Parse fdinfo text: ``key:<tab>value`` per line, values stripped; later keys win."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key:
            out[key.strip()] = value.strip()
    return out


def read_fdinfo(fd: int, proc: Path = Path("/proc/self/fdinfo")) -> dict[str, str]:
    """Read and parse the fdinfo of ``fd`` of this process; BadFd (EBADF) if not open."""
    try:
        text = (proc / str(int(fd))).read_text()
    except FileNotFoundError:
        raise bpf_error(errno.EBADF, op="fdinfo") from None
    return parse_fdinfo(text)
