"""Global variables of a loaded object (``.bss``, ``.data``, ``.rodata``…) by name.

A BPF object keeps its global variables in array maps with one element, one map per
ELF data section; the object's BTF has a ``DATASEC`` per section that places each
variable at an offset.  :class:`GlobalVariables` reads and writes them through the map
(``BPF_MAP_LOOKUP_ELEM`` / ``BPF_MAP_UPDATE_ELEM``), typed from BTF
(:mod:`structops.btf.values`: ints, bools, bytes for char arrays, lists, dicts for structs).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.btf.values import decode, encode
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
        return decode(v.type, raw[v.offset : v.offset + v.size])

    def __setitem__(self, name: str, value: Any) -> None:
        v = self._var(name)
        m = self._map(v)
        if m.spec.section.startswith(".rodata") or m.spec.section == ".kconfig":
            raise bpf_error(errno.EPERM, f"global {name} is in {m.spec.section}, which is read-only after load")
        raw = bytearray(m.lookup(0))
        raw[v.offset : v.offset + v.size] = encode(v.type, value, f"global {name}")
        m.update(0, bytes(raw))

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __repr__(self) -> str:
        return f"<GlobalVariables of {self._coll.spec.object_name}: {', '.join(self._vars)}>"
