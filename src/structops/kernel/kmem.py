"""Kernel memory of the embedded kernel: allocations that BPF programs can address.

Every kernel object a program may touch (map values, ``struct sock``, the
``bpf_dummy_ops_state`` of a test run, struct_ops ``kdata``) is an :class:`Allocation`:
a bytearray at a kernel-looking address.  When the VM's address space is attached
(:meth:`KernelMemory.attach`), each allocation is also a bounds-checked region there, so
a program's loads and stores reach exactly these bytes and nothing else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Allocation", "KernelMemory", "RegionSink"]

#: Where kernel allocations start (the x86-64 direct map looks like this).
KERNEL_BASE = 0xFFFF_8880_0000_0000
_ALIGN = 64


class RegionSink(Protocol):
    """What KernelMemory needs from an address space (the VM's)."""

    def map_region(self, name: str, base: int, buf: bytearray, writable: bool) -> None:
        """Make ``buf`` addressable at ``base``."""
        ...

    def unmap_region(self, base: int) -> None:
        """Remove the region at ``base``; later accesses fault."""
        ...


@dataclass(eq=False)
class Allocation:
    """One kernel allocation: ``buf`` is addressable at ``addr`` .. ``addr + len(buf)``."""

    addr: int
    buf: bytearray
    name: str
    writable: bool = True
    freed: bool = field(default=False)

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.buf)


class KernelMemory:
    """A bump allocator of kernel addresses with an optional VM address-space sink."""

    def __init__(self) -> None:
        self._next = KERNEL_BASE
        self._live: dict[int, Allocation] = {}
        self._sinks: list[RegionSink] = []
        self._lock = threading.Lock()

    def attach(self, sink: RegionSink) -> None:
        """Mirror every live and future allocation into ``sink``."""
        with self._lock:
            self._sinks.append(sink)
            live = list(self._live.values())
        for a in live:
            sink.map_region(a.name, a.addr, a.buf, a.writable)

    def alloc(self, size: int, name: str, *, writable: bool = True, data: bytes | None = None) -> Allocation:
        """Allocate ``size`` zeroed bytes (or a copy of ``data``)."""
        buf = bytearray(size) if data is None else bytearray(data)
        with self._lock:
            addr = self._next
            # Leave a guard gap after each allocation so off-by-one accesses fault.
            self._next += (max(size, 1) + _ALIGN - 1) // _ALIGN * _ALIGN + 4096
            a = Allocation(addr, buf, name, writable)
            self._live[addr] = a
            sinks = list(self._sinks)
        for s in sinks:
            s.map_region(name, addr, buf, writable)
        return a

    def free(self, a: Allocation) -> None:
        """Free an allocation; programs touching it afterwards fault."""
        with self._lock:
            if a.freed:
                return
            a.freed = True
            self._live.pop(a.addr, None)
            sinks = list(self._sinks)
        for s in sinks:
            s.unmap_region(a.addr)

    def find(self, addr: int) -> Allocation | None:
        """The live allocation containing ``addr``."""
        with self._lock:
            for a in self._live.values():
                if a.addr <= addr < a.addr + max(a.size, 1):
                    return a
        return None

    def live(self) -> list[Allocation]:
        """All live allocations."""
        with self._lock:
            return list(self._live.values())
