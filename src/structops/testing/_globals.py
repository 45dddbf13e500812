"""Global variables of a loaded object (``.bss``, ``.data``, ``.rodata``…) by name.

A BPF object keeps its global variables in array maps with one element, one map per
ELF data section; the object's BTF has a ``DATASEC`` per section that places each
variable at an offset.  :class:`GlobalVariables` reads and writes them through the map
(``BPF_MAP_LOOKUP_ELEM`` / ``BPF_MAP_UPDATE_ELEM``), typed from BTF: integers and
enums come back as ``int`` (signed where the type is), ``bool`` as ``bool``, char
arrays as ``bytes`` up to the first NUL, other arrays of integers as lists, anything
else as raw ``bytes``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import bpf_error

if TYPE_CHECKING:
    from structops.api import Collection, Map

__all__ = ["GlobalVariables"]


@dataclass(frozen=True)
class _Var:
    map_name: str
    offset: int
    size: int
    type: btflib.Type


def _strip(t: btflib.Type) -> btflib.Type:
    while isinstance(t, btflib.Typedef | btflib.Const | btflib.Volatile | btflib.Restrict | btflib.TypeTag):
        t = t.type
    return t


def _decode(t: btflib.Type, raw: bytes) -> Any:
    t = _strip(t)
    if isinstance(t, btflib.Int):
        if t.name == "_Bool":
            return raw[0] != 0
        return int.from_bytes(raw, "little", signed=bool(t.encoding & btflib.IntEncoding.SIGNED))
    if isinstance(t, btflib.Enum | btflib.Enum64):
        return int.from_bytes(raw, "little", signed=bool(getattr(t, "signed", False)))
    if isinstance(t, btflib.Pointer):
        return int.from_bytes(raw, "little")
    if isinstance(t, btflib.Array):
        elem = _strip(t.type)
        if isinstance(elem, btflib.Int) and elem.size == 1 and "char" in elem.name:
            return raw.split(b"\0", 1)[0]
        if isinstance(elem, btflib.Int | btflib.Enum | btflib.Pointer):
            step = btflib.sizeof(elem)
            return [_decode(elem, raw[i : i + step]) for i in range(0, len(raw), step)]
    return bytes(raw)


def _encode(name: str, t: btflib.Type, value: Any, size: int) -> bytes:
    t = _strip(t)
    if isinstance(value, bytes | bytearray):
        if len(value) > size:
            raise ValueError(f"global {name}: {len(value)} bytes do not fit its {size}")
        return bytes(value).ljust(size, b"\0")
    if isinstance(value, bool | int):
        signed = isinstance(t, btflib.Int) and bool(t.encoding & btflib.IntEncoding.SIGNED)
        try:
            return int(value).to_bytes(size, "little", signed=signed)
        except OverflowError:
            raise ValueError(f"global {name}: {value} does not fit in {size} bytes") from None
    if isinstance(value, list | tuple) and isinstance(t, btflib.Array):
        elem = _strip(t.type)
        step = btflib.sizeof(elem)
        if len(value) * step > size:
            raise ValueError(f"global {name}: {len(value)} elements do not fit its {size // step}")
        return b"".join(_encode(name, elem, v, step) for v in value).ljust(size, b"\0")
    raise TypeError(f"global {name}: cannot store a {type(value).__name__}")


class GlobalVariables(Mapping[str, Any]):
    """The global variables of a loaded :class:`~structops.api.Collection`, by C name.

    ``globals["cnt"]`` reads the current value from the kernel; ``globals["cnt"] = 3``
    writes it (a ``.rodata`` variable of a loaded object is read-only: the kernel
    refuses the write with ``EPERM`` because libbpf froze the map).
    """

    def __init__(self, coll: Collection) -> None:
        self._coll = coll
        self._vars: dict[str, _Var] = {}
        spec = coll.spec
        if spec.btf is None:
            return
        by_section = {m.spec.section: name for name, m in coll.maps.items() if m.spec.contents is not None}
        for t in spec.btf.types:
            if not isinstance(t, btflib.Datasec) or t.name not in by_section:
                continue
            for info in t.vars:
                if isinstance(info.type, btflib.Var):
                    self._vars[info.type.name] = _Var(by_section[t.name], info.offset, info.size, info.type.type)

    def _var(self, name: str) -> _Var:
        v = self._vars.get(name)
        if v is None:
            have = ", ".join(sorted(self._vars)) or "none"
            raise KeyError(f"no global variable {name!r} in {self._coll.spec.object_name} (has: {have})")
        return v

    def _map(self, v: _Var) -> Map:
        return self._coll.maps[v.map_name]

    def __getitem__(self, name: str) -> Any:
        v = self._var(name)
        raw = self._map(v).lookup(0)
        return _decode(v.type, raw[v.offset : v.offset + v.size])

    def __setitem__(self, name: str, value: Any) -> None:
        v = self._var(name)
        m = self._map(v)
        if m.spec.section.startswith(".rodata") or m.spec.section == ".kconfig":
            raise bpf_error(errno.EPERM, f"global {name} is in {m.spec.section}, which is read-only after load")
        raw = bytearray(m.lookup(0))
        raw[v.offset : v.offset + v.size] = _encode(name, v.type, value, v.size)
        m.update(0, bytes(raw))

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __repr__(self) -> str:
        return f"<GlobalVariables of {self._coll.spec.object_name}: {', '.join(self._vars)}>"
