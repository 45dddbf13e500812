"""bstr formatting of ``scx_bpf_error_bstr`` / ``scx_bpf_exit_bstr`` / ``scx_bpf_dump_bstr`` (SX-K31).

The BPF macros pack every argument into a u64 array; the kernel formats with the
``bpf_snprintf`` rules: ``%d %i %u %x %X %c %s %p`` with optional ``l``/``ll``/``h``
length modifiers, flags ``-+ 0#`` and a width/precision; the result is cut to 1024 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["BstrError", "format_bstr"]

MAX_ARGS = 12
_SPEC = re.compile(rb"%([-+ 0#]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXcsp%])")


class BstrError(ValueError):
    """The format or the data cannot be used (the kernel's ``-EINVAL``)."""


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def format_bstr(fmt: bytes, args: list[int], read_str: Callable[[int], bytes], limit: int = 1024) -> str:
    """Format ``fmt`` with u64 ``args``; ``read_str(addr)`` reads a kernel string for ``%s``."""
    out: list[bytes] = []
    pos = 0
    argi = 0
    for m in _SPEC.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, length, conv = m.groups()
        if conv == b"%":
            out.append(b"%")
            continue
        if argi >= len(args):
            raise BstrError("format needs more arguments than were passed")
        raw = args[argi]
        argi += 1
        bits = 64 if length in (b"l", b"ll", b"z") or conv == b"p" else 32
        if conv in (b"d", b"i"):
            text = str(_signed(raw, bits))
        elif conv == b"u":
            text = str(raw & ((1 << bits) - 1))
        elif conv in (b"x", b"X"):
            text = format(raw & ((1 << bits) - 1), "x" if conv == b"x" else "X")
            if b"#" in flags and raw:
                text = "0x" + text
        elif conv == b"c":
            text = chr(raw & 0xFF)
        elif conv == b"p":
            text = "0x" + format(raw, "x")
        else:
            text = read_str(raw).decode(errors="replace") if raw else "(null)"
            if prec:
                text = text[: int(prec)]
        w = int(width) if width else 0
        if len(text) < w:
            if b"-" in flags:
                text = text.ljust(w)
            elif b"0" in flags and conv not in (b"s", b"c"):
                sign = text[0] if text[:1] in ("-", "+") else ""
                text = sign + text[len(sign) :].rjust(w - len(sign), "0")
            else:
                text = text.rjust(w)
        out.append(text.encode())
    out.append(fmt[pos:])
    return b"".join(out)[: limit - 1].decode(errors="replace")
