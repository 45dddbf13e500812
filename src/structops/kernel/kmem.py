"""Kernel memory of the embedded kernel: allocations that BPF programs can address.

Every kernel object a program may touch (map values, ``struct sock``, the
``bpf_dummy_ops_state`` of a test run, struct_ops ``kvalue``) is an :class:`Allocation`:
a region of the VM's :class:`~structops.vm.AddressSpace`.  Python code reads and writes
``Allocation.buf`` — the very bytes the programs' loads and stores reach through the
bounds-checked page tables — so subsystems and programs share one state, and nothing
outside a region is reachable.  A freed allocation is unmapped: later accesses fault.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from structops.vm.memory import AddressSpace, Perm, Region

__all__ = ["Allocation", "KernelMemory"]


@dataclass(eq=False)
class Allocation:
    """One kernel allocation: ``buf`` is addressable at ``addr`` .. ``addr + len(buf)``."""

    addr: int
    buf: bytearray
    name: str
    region: Region
    writable: bool = True
    freed: bool = field(default=False)

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.buf)


class KernelMemory:
    """Allocates kernel objects as regions of one address space (shared with the VM)."""

    def __init__(self, space: AddressSpace | None = None) -> None:
        self.space = space if space is not None else AddressSpace()
        self._live: dict[int, Allocation] = {}
        self._lock = threading.Lock()

    def alloc(
        self, size: int, name: str, *, writable: bool = True, data: bytes | None = None, kind: str = "kernel"
    ) -> Allocation:
        """Allocate ``size`` zeroed bytes (or a copy of ``data``) at a fresh kernel address."""
        perm = Perm.RW if writable else Perm.R
        with self._lock:
            region = self.space.map(max(size, 1), name=name, perm=perm, kind=kind, data=data)
            a = Allocation(region.base, region.buf, name, region, writable)
            self._live[a.addr] = a
        return a

    def free(self, a: Allocation) -> None:
        """Free an allocation; programs touching it afterwards fault."""
        with self._lock:
            if a.freed:
                return
            a.freed = True
            self._live.pop(a.addr, None)
            self.space.unmap(a.region)

    def find(self, addr: int) -> Allocation | None:
        """The live allocation containing ``addr``."""
        region = self.space.region_at(addr)
        if region is None:
            return None
        return self._live.get(region.base)

    def live(self) -> list[Allocation]:
        """All live allocations."""
        with self._lock:
            return list(self._live.values())
