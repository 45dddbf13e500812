"""BTF-typed views of kernel memory: Python code reads and writes the bytes programs see.

``StructView(kernel, addr, struct)`` exposes the fields of a struct in kernel memory as
attributes, including fields of nested (embedded) structs found by name (``tcp_sock``
view's ``snd_cwnd``, ``icsk_ca_state``, ``sk_pacing_rate``) and bitfields.  Subsystems
(the TCP congestion-control kfuncs, the simulator bridge) use it so native Python code
and BPF programs share one state.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import bpf_error

if TYPE_CHECKING:
    from structops.kernel.kmem import Allocation, KernelMemory

__all__ = ["FieldLoc", "StructView", "field_map", "field_path"]


@dataclass(frozen=True)
class FieldLoc:
    """Where a (possibly nested) field lives: byte offset, size, bit position, signedness."""

    offset: int
    size: int
    bit_offset: int = 0
    bit_size: int = 0
    signed: bool = False
    is_array: bool = False


def _int_info(t: btflib.Type) -> tuple[int, bool]:
    u = btflib.underlying(t)
    size = btflib.sizeof(u)
    signed = isinstance(u, btflib.Int) and bool(u.encoding & btflib.IntEncoding.SIGNED)
    if isinstance(u, btflib.Enum):
        signed = u.signed
    return size, signed


def _members(struct: btflib.Type) -> Iterator[tuple[btflib.Member, btflib.Type, int]]:
    """The one walk over ``struct`` and its embedded structs/unions, breadth first:
    ``(member, underlying member type, byte offset of the enclosing struct)``."""
    queue: list[tuple[btflib.Type, int]] = [(struct, 0)]
    while queue:
        t, base = queue.pop(0)
        u = btflib.underlying(t)
        if not isinstance(u, btflib.Struct | btflib.Union):
            continue
        for m in u.members:
            mt = btflib.underlying(m.type)
            yield m, mt, base
            if isinstance(mt, btflib.Struct | btflib.Union):
                queue.append((mt, base + m.bit_offset // 8))


@cache
def field_map(struct: btflib.Struct) -> dict[str, FieldLoc]:
    """All named fields reachable through embedded structs/unions (outermost wins)."""
    out: dict[str, FieldLoc] = {}
    for m, mt, base in _members(struct):
        if isinstance(mt, btflib.Struct | btflib.Union):
            if m.name and m.name not in out:
                out[m.name] = FieldLoc(base + m.bit_offset // 8, btflib.sizeof(mt), is_array=True)
            continue
        if not m.name or m.name in out:
            continue
        if m.bitfield_size:
            size, signed = _int_info(mt)
            byte = (m.bit_offset // 8) // size * size if size else m.bit_offset // 8
            out[m.name] = FieldLoc(base + byte, size, m.bit_offset - byte * 8, m.bitfield_size, signed)
        elif isinstance(mt, btflib.Array):
            out[m.name] = FieldLoc(base + m.bit_offset // 8, btflib.sizeof(mt), is_array=True)
        else:
            size, signed = _int_info(mt)
            out[m.name] = FieldLoc(base + m.bit_offset // 8, size, signed=signed)
    return out


def field_path(struct: btflib.Struct, path: str) -> FieldLoc:
    """Where ``path`` lives in ``struct``: a field name, or ``member.field`` through the
    embedded struct called ``member`` (``icsk_ack.pending``); KeyError if absent."""
    base = 0
    head, _, rest = path.partition(".")
    while rest:
        for m, mt, b in _members(struct):
            if m.name == head and isinstance(mt, btflib.Struct):
                base += b + m.bit_offset // 8
                struct = mt
                break
        else:
            raise KeyError(path)
        head, _, rest = rest.partition(".")
    loc = field_map(struct)[head]
    return replace(loc, offset=base + loc.offset)


class StructView:
    """Attribute access to a struct in kernel memory (``view.snd_cwnd += 1``)."""

    __slots__ = ("_buf", "_fields", "_off", "addr")

    def __init__(self, kmem: KernelMemory, addr: int, struct: btflib.Struct) -> None:
        alloc: Allocation | None = kmem.find(addr)
        if alloc is None or addr + struct.size > alloc.addr + alloc.size:
            raise bpf_error(errno.EFAULT, f"no {struct.name} at {addr:#x}")
        object.__setattr__(self, "_buf", alloc.buf)
        object.__setattr__(self, "_off", addr - alloc.addr)
        object.__setattr__(self, "_fields", field_map(struct))
        object.__setattr__(self, "addr", addr)

    def __getattr__(self, name: str) -> Any:
        loc = self._fields.get(name)
        if loc is None:
            raise AttributeError(name)
        start = self._off + loc.offset
        raw = self._buf[start : start + loc.size]
        if loc.is_array:
            return memoryview(self._buf)[start : start + loc.size]
        value = int.from_bytes(raw, "little")
        if loc.bit_size:
            value = (value >> loc.bit_offset) & ((1 << loc.bit_size) - 1)
            if loc.signed and value >> (loc.bit_size - 1):
                value -= 1 << loc.bit_size
            return value
        if loc.signed and value >> (8 * loc.size - 1):
            value -= 1 << (8 * loc.size)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        loc = self._fields.get(name)
        if loc is None:
            raise AttributeError(name)
        start = self._off + loc.offset
        if loc.is_array:
            data = bytes(value)[: loc.size]
            self._buf[start : start + len(data)] = data
            return
        bits = 8 * loc.size
        if loc.bit_size:
            cur = int.from_bytes(self._buf[start : start + loc.size], "little")
            mask = ((1 << loc.bit_size) - 1) << loc.bit_offset
            cur = (cur & ~mask) | ((int(value) << loc.bit_offset) & mask)
            self._buf[start : start + loc.size] = cur.to_bytes(loc.size, "little")
            return
        self._buf[start : start + loc.size] = (int(value) & ((1 << bits) - 1)).to_bytes(loc.size, "little")
