"""The emulated 64-bit address space: bounds-checked regions (DESIGN "Emulated memory").

Everything a BPF program can point at lives in a :class:`Region` of one
:class:`AddressSpace`: stack frames (512 bytes each), contexts, map values, kernel
objects, user buffers.  A pointer is a plain integer address.  Every access is checked:
an address in no region, an access that crosses a region's end, or one without the
needed permission raises :class:`MemoryFault` (a :class:`~structops.errors.VMFault`)
with the address; the page at address 0 is never mapped, so NULL always faults.

Regions are page aligned and separated by unmapped guard pages, so a page belongs to at
most one region; lookups are one dict access per load or store (the fast path the
translated programs use: :attr:`AddressSpace.ld` / :attr:`AddressSpace.st`).  Python code
(maps, struct_ops, the TCP simulator) reads and writes the same bytes through
:meth:`AddressSpace.read_u32` & co. or a region's ``buf``.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from structops.errors import VMFault

__all__ = [
    "PAGE_SIZE",
    "STACK_SIZE",
    "AddressSpace",
    "MemoryFault",
    "Perm",
    "Region",
]

PAGE_SIZE = 4096
_PAGE_SHIFT = 12
#: Bytes of stack per BPF frame (kernel MAX_BPF_STACK).
STACK_SIZE = 512
_MASK64 = (1 << 64) - 1
#: Largest single region (keeps the page table bounded).
MAX_REGION_SIZE = 1 << 30

#: First address handed out per kind of region (shapes mimic x86-64 Linux).
_KIND_BASE: dict[str, int] = {
    "user": 0x0000_7F00_0000_0000,
    "kernel": 0xFFFF_8880_0000_0000,
    "map": 0xFFFF_8881_0000_0000,
    "stack": 0xFFFF_C900_0000_0000,
    "text": 0xFFFF_FFFF_A000_0000,
}

_UNPACK = {
    1: struct.Struct("<B").unpack_from,
    2: struct.Struct("<H").unpack_from,
    4: struct.Struct("<I").unpack_from,
    8: struct.Struct("<Q").unpack_from,
}
_PACK = {
    1: struct.Struct("<B").pack_into,
    2: struct.Struct("<H").pack_into,
    4: struct.Struct("<I").pack_into,
    8: struct.Struct("<Q").pack_into,
}
_SIZE_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: _MASK64}


class Perm(enum.IntFlag):
    """Access permissions of a region."""

    NONE = 0
    R = 1
    W = 2
    RW = 3


class MemoryFault(VMFault):
    """A BPF (or helper) access outside the regions it may touch.

    ``reason`` is the message without the location suffix so an executor can re-raise
    it with the faulting instruction index.
    """

    def __init__(self, reason: str, *, pc: int = -1, addr: int | None = None) -> None:
        super().__init__(reason, pc=pc, addr=addr)
        self.reason = reason


@dataclass(eq=False)
class Region:
    """One mapped range ``[base, base + size)`` backed by ``buf``.

    ``alive`` turns false once the region is unmapped; accesses through the address
    space then fault (Python holders of ``buf`` keep a harmless private copy).
    """

    name: str
    base: int
    size: int
    perm: Perm
    buf: bytearray
    kind: str = "kernel"
    alive: bool = field(default=True)

    @property
    def end(self) -> int:
        """First address after the region."""
        return self.base + self.size

    @property
    def top(self) -> int:
        """Alias of :attr:`end`; for a stack frame this is the frame pointer (r10)."""
        return self.base + self.size

    def contains(self, addr: int, size: int = 1) -> bool:
        """Whether ``[addr, addr + size)`` lies inside the region."""
        return self.base <= addr and addr + size <= self.base + self.size

    def view(self) -> memoryview:
        """A writable memoryview of the backing bytes (for typed views)."""
        return memoryview(self.buf)


# Per-page entry of the page tables: (region base, region size, backing buffer).
_PageEntry = tuple[int, int, bytearray]


class AddressSpace:
    """A sparse 64-bit address space made of :class:`Region` objects.

    ``ld[n](addr)`` / ``st[n](addr, value)`` (n in 1, 2, 4, 8) are the fast checked
    accessors used by the executors; the ``read_*`` / ``write_*`` methods are the same
    checks for Python callers.
    """

    def __init__(self) -> None:
        self._regions: dict[int, Region] = {}
        self._rpages: dict[int, _PageEntry] = {}
        self._wpages: dict[int, _PageEntry] = {}
        self._next: dict[str, int] = dict(_KIND_BASE)
        self._free_frames: list[Region] = []
        self._frame_count = 0
        self._zero_frame = bytes(STACK_SIZE)
        self.ld: dict[int, Callable[[int], int]] = {n: self._make_load(n) for n in (1, 2, 4, 8)}
        self.st: dict[int, Callable[[int, int], None]] = {n: self._make_store(n) for n in (1, 2, 4, 8)}

    # ------------------------------------------------------------------ regions
    def map(
        self,
        size: int,
        *,
        name: str,
        perm: Perm = Perm.RW,
        kind: str = "kernel",
        base: int | None = None,
        data: bytes | bytearray | None = None,
    ) -> Region:
        """Map a new zero-filled (or ``data``-initialised) region and return it.

        ``kind`` picks the address range (``user``, ``kernel``, ``map``, ``stack``,
        ``text``); ``base`` places it explicitly (page aligned, not overlapping).
        """
        if not 0 < size <= MAX_REGION_SIZE:
            raise ValueError(f"region size {size} out of range (1..{MAX_REGION_SIZE})")
        if data is not None and len(data) > size:
            raise ValueError("initial data is larger than the region")
        npages = (size + PAGE_SIZE - 1) >> _PAGE_SHIFT
        if base is None:
            if kind not in self._next:
                raise ValueError(f"unknown region kind {kind!r}")
            base = self._next[kind]
            self._next[kind] = base + (npages + 1) * PAGE_SIZE  # + one guard page
        else:
            if base % PAGE_SIZE or base <= 0 or base + size > _MASK64:
                raise ValueError(f"region base {base:#x} must be page aligned and non-null")
            first = base >> _PAGE_SHIFT
            if any(p in self._regions for p in range(first, first + npages)):
                raise ValueError(f"region at {base:#x} overlaps an existing region")
        buf = bytearray(size)
        if data is not None:
            buf[: len(data)] = data
        region = Region(name, base, size, Perm(perm), buf, kind)
        entry: _PageEntry = (base, size, buf)
        first = base >> _PAGE_SHIFT
        for page in range(first, first + npages):
            self._regions[page] = region
            if perm & Perm.R:
                self._rpages[page] = entry
            if perm & Perm.W:
                self._wpages[page] = entry
        return region

    def unmap(self, region: Region | int) -> None:
        """Remove a region (given itself or its base); later accesses fault."""
        if isinstance(region, int):
            found = self._regions.get(region >> _PAGE_SHIFT)
            if found is None or found.base != region:
                raise ValueError(f"no region starts at {region:#x}")
            region = found
        first = region.base >> _PAGE_SHIFT
        npages = (region.size + PAGE_SIZE - 1) >> _PAGE_SHIFT
        for page in range(first, first + npages):
            if self._regions.get(page) is region:
                del self._regions[page]
                self._rpages.pop(page, None)
                self._wpages.pop(page, None)
        region.alive = False

    def protect(self, region: Region, perm: Perm) -> None:
        """Change a region's permissions (e.g. freeze a map: read-only for programs)."""
        region.perm = Perm(perm)
        entry: _PageEntry = (region.base, region.size, region.buf)
        first = region.base >> _PAGE_SHIFT
        for page in range(first, first + ((region.size + PAGE_SIZE - 1) >> _PAGE_SHIFT)):
            for table, bit in ((self._rpages, Perm.R), (self._wpages, Perm.W)):
                if perm & bit:
                    table[page] = entry
                else:
                    table.pop(page, None)

    def region_at(self, addr: int) -> Region | None:
        """The region containing ``addr``, or ``None``."""
        region = self._regions.get(addr >> _PAGE_SHIFT) if addr >= 0 else None
        if region is not None and region.base <= addr < region.end:
            return region
        return None

    def regions(self) -> list[Region]:
        """All live regions, sorted by base address."""
        return sorted({id(r): r for r in self._regions.values()}.values(), key=lambda r: r.base)

    # ------------------------------------------------------------------ faults
    def fault(self, addr: int, size: int, write: bool) -> MemoryFault:
        """Build the fault explaining why ``size`` bytes at ``addr`` are not accessible."""
        addr &= _MASK64
        what = f"invalid {'write' if write else 'read'} of {size} byte{'s' if size != 1 else ''}"
        if addr < PAGE_SIZE:
            return MemoryFault(f"{what}: NULL pointer dereference", addr=addr)
        region = self.region_at(addr)
        if region is None:
            return MemoryFault(f"{what}: address not mapped", addr=addr)
        if addr + size > region.end:
            return MemoryFault(f"{what}: access crosses the end of region {region.name!r}", addr=addr)
        need = "writable" if write else "readable"
        return MemoryFault(f"{what}: region {region.name!r} is not {need}", addr=addr)

    def _make_load(self, size: int) -> Callable[[int], int]:
        pages = self._rpages
        unpack = _UNPACK[size]
        fault = self.fault

        def load(addr: int) -> int:
            entry = pages.get(addr >> _PAGE_SHIFT)
            if entry is not None:
                off = addr - entry[0]
                if off + size <= entry[1]:
                    return int(unpack(entry[2], off)[0])
            raise fault(addr, size, False)

        return load

    def _make_store(self, size: int) -> Callable[[int, int], None]:
        pages = self._wpages
        pack = _PACK[size]
        mask = _SIZE_MASK[size]
        fault = self.fault

        def store(addr: int, value: int) -> None:
            entry = pages.get(addr >> _PAGE_SHIFT)
            if entry is not None:
                off = addr - entry[0]
                if off + size <= entry[1]:
                    pack(entry[2], off, value & mask)
                    return
            raise fault(addr, size, True)

        return store

    # ------------------------------------------------------------------ Python access
    def _span(self, addr: int, size: int, write: bool) -> tuple[bytearray, int]:
        pages = self._wpages if write else self._rpages
        entry = pages.get(addr >> _PAGE_SHIFT) if addr >= 0 else None
        if entry is not None:
            off = addr - entry[0]
            if size >= 0 and off + size <= entry[1]:
                return entry[2], off
        raise self.fault(addr, max(size, 1), write)

    def read(self, addr: int, size: int) -> bytes:
        """Copy ``size`` bytes out (checked like a program read)."""
        buf, off = self._span(addr, size, False)
        return bytes(buf[off : off + size])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` in (checked like a program write)."""
        buf, off = self._span(addr, len(data), True)
        buf[off : off + len(data)] = data

    def view(self, addr: int, size: int, *, writable: bool = False) -> memoryview:
        """A memoryview of ``size`` bytes at ``addr`` inside one region (zero copy)."""
        buf, off = self._span(addr, size, writable)
        return memoryview(buf)[off : off + size]

    def read_u8(self, addr: int) -> int:
        """Read an unsigned byte."""
        return self.ld[1](addr)

    def read_u16(self, addr: int) -> int:
        """Read a little-endian u16."""
        return self.ld[2](addr)

    def read_u32(self, addr: int) -> int:
        """Read a little-endian u32."""
        return self.ld[4](addr)

    def read_u64(self, addr: int) -> int:
        """Read a little-endian u64."""
        return self.ld[8](addr)

    def write_u8(self, addr: int, value: int) -> None:
        """Write a byte (value truncated to 8 bits)."""
        self.st[1](addr, value)

    def write_u16(self, addr: int, value: int) -> None:
        """Write a little-endian u16 (value truncated)."""
        self.st[2](addr, value)

    def write_u32(self, addr: int, value: int) -> None:
        """Write a little-endian u32 (value truncated)."""
        self.st[4](addr, value)

    def write_u64(self, addr: int, value: int) -> None:
        """Write a little-endian u64 (value truncated)."""
        self.st[8](addr, value)

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """Read a NUL-terminated string of at most ``limit`` bytes (without the NUL)."""
        out = bytearray()
        while len(out) < limit:
            byte = self.ld[1](addr + len(out))
            if byte == 0:
                break
            out.append(byte)
        return bytes(out)

    # ------------------------------------------------------------------ stack frames
    def acquire_frame(self) -> Region:
        """A zeroed 512-byte stack frame region (pooled; give it back with release)."""
        if self._free_frames:
            frame = self._free_frames.pop()
            frame.buf[:] = self._zero_frame
            return frame
        self._frame_count += 1
        return self.map(STACK_SIZE, name=f"stack#{self._frame_count}", kind="stack")

    def release_frame(self, frame: Region) -> None:
        """Return a frame from :meth:`acquire_frame` to the pool."""
        self._free_frames.append(frame)
