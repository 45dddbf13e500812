"""KData: the kernel-side struct of a struct_ops map, as subsystem callbacks see it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structops import btf as btflib

if TYPE_CHECKING:
    from structops.kernel.struct_ops.map import StructOpsMap
    from structops.kernel.struct_ops.registry import StructOpsDesc
    from structops.kernel.struct_ops.trampoline import Trampoline

__all__ = ["KData"]


class KData:
    """``kvalue.data`` of a struct_ops map as the subsystem sees it.

    ``buf`` is the kernel struct's bytes (function slots hold trampoline addresses);
    :meth:`call` invokes an op through its trampoline; :meth:`has` tells whether an op is
    set.  Subsystems keep per-registration state in ``state``.
    """

    def __init__(self, st_map: StructOpsMap) -> None:
        self.map = st_map
        self.state: dict[str, Any] = {}
        self._index: dict[str, int] = {}  # op name -> member index (the type never changes)

    @property
    def desc(self) -> StructOpsDesc:
        """The registered type."""
        return self.map.desc

    @property
    def buf(self) -> bytearray:
        """The kernel struct bytes (``kvalue.data``)."""
        off = self.map.data_offset
        return memoryview(self.map.kvalue.buf)[off : off + self.map.desc.type.size]  # type: ignore[return-value]

    @property
    def addr(self) -> int:
        """Kernel address of kdata (what ``bpf_prog_get_assoc_struct_ops`` returns)."""
        return self.map.kvalue.addr + self.map.data_offset

    def member(self, name: str) -> btflib.Member:
        """The BTF member ``name``."""
        return self.desc.type.member(name)

    def read(self, name: str) -> bytes:
        """Raw bytes of member ``name``."""
        m = self.member(name)
        off = m.offset
        return bytes(self.buf[off : off + btflib.sizeof(m.type)])

    def write(self, name: str, data: bytes) -> None:
        """Overwrite member ``name`` (``init_member`` copying a handled field)."""
        m = self.member(name)
        off = m.offset
        size = btflib.sizeof(m.type)
        self.buf[off : off + size] = data[:size].ljust(size, b"\0")

    def read_str(self, name: str) -> str:
        """A ``char[]`` member as a string (up to the NUL)."""
        return self.read(name).split(b"\0", 1)[0].decode(errors="replace")

    def read_int(self, name: str) -> int:
        """An integer member (little-endian, unsigned)."""
        return int.from_bytes(self.read(name), "little")

    def trampoline(self, name: str) -> Trampoline | None:
        """The trampoline installed for op ``name`` (None when the op is NULL)."""
        idx = self._index.get(name)
        if idx is None:
            idx = self.desc.type.members.index(self.member(name))
            self._index[name] = idx
        return self.map.trampolines.get(idx)

    def has(self, name: str) -> bool:
        """The op ``name`` is set (non-NULL function pointer)."""
        return self.trampoline(name) is not None

    def call(self, name: str, *args: int) -> int:
        """Call op ``name`` with u64 ``args``; returns r0 (0 for a NULL op)."""
        idx = self._index.get(name)
        st_map = self.map
        tr = st_map.trampolines.get(idx) if idx is not None else self.trampoline(name)
        if tr is None:
            return 0
        return st_map.kernel.run_trampoline(tr, args)
