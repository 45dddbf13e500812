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
import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from structops.errors import VMFault

__all__ = [
    "PAGE_SIZE",
    "STACK_SIZE",
    "AddressSpace",
    "Domain",
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
        """First address after the region (for a stack frame, the frame pointer r10)."""
        return self.base + self.size

    def contains(self, addr: int, size: int = 1) -> bool:
        """Whether ``[addr, addr + size)`` lies inside the region."""
        return self.base <= addr and addr + size <= self.base + self.size

    def view(self) -> memoryview:
        """A writable memoryview of the backing bytes (for typed views)."""
        return memoryview(self.buf)


# Per-page entry of the page tables: (region base, region size, backing buffer).
_PageEntry = tuple[int, int, bytearray]


class _Access:
    """Python-side access shared by :class:`AddressSpace` and :class:`Domain`.

    Built on each one's ``_span`` (the backing buffer of a checked range) and its
    ``ld[n]`` / ``st[n]`` accessors, so a Python caller is checked like a program access.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def ld(self) -> dict[int, Callable[[int], int]]: ...

        @property
        def st(self) -> dict[int, Callable[[int, int], None]]: ...

    def _span(self, addr: int, size: int, write: bool) -> tuple[bytearray, int]:
        raise NotImplementedError

    def read(self, addr: int, size: int) -> bytes:
        """Copy ``size`` bytes out."""
        buf, off = self._span(addr, size, False)
        return bytes(buf[off : off + size])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` in."""
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
        load = self.ld[1]
        while len(out) < limit:
            byte = load(addr + len(out))
            if byte == 0:
                break
            out.append(byte)
        return bytes(out)


class AddressSpace(_Access):
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
        #: Checked accessors that also require the region to be granted: ``gld[n](addr, G)``
        #: and ``gst[n](addr, value, G)`` where ``G`` is a set of region bases (a run's grants).
        self.gld: dict[int, Callable[[int, set[int]], int]] = {n: self._make_gload(n) for n in (1, 2, 4, 8)}
        self.gst: dict[int, Callable[[int, int, set[int]], None]] = {n: self._make_gstore(n) for n in (1, 2, 4, 8)}

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

    def denied(self, addr: int, size: int, write: bool, granted: set[int]) -> MemoryFault:
        """Build the fault for an access a run may not make (not granted, or as :meth:`fault`)."""
        addr &= _MASK64
        region = self.region_at(addr)
        if region is not None and region.base not in granted and addr >= PAGE_SIZE:
            what = f"invalid {'write' if write else 'read'} of {size} byte{'s' if size != 1 else ''}"
            return MemoryFault(f"{what}: region {region.name!r} was not given to this program", addr=addr)
        return self.fault(addr, size, write)

    def _make_gload(self, size: int) -> Callable[[int, set[int]], int]:
        pages = self._rpages
        unpack = _UNPACK[size]
        denied = self.denied

        def load(addr: int, granted: set[int]) -> int:
            entry = pages.get(addr >> _PAGE_SHIFT)
            if entry is not None and entry[0] in granted:
                off = addr - entry[0]
                if off + size <= entry[1]:
                    return int(unpack(entry[2], off)[0])
            raise denied(addr, size, False, granted)

        return load

    def _make_gstore(self, size: int) -> Callable[[int, int, set[int]], None]:
        pages = self._wpages
        pack = _PACK[size]
        mask = _SIZE_MASK[size]
        denied = self.denied

        def store(addr: int, value: int, granted: set[int]) -> None:
            entry = pages.get(addr >> _PAGE_SHIFT)
            if entry is not None and entry[0] in granted:
                off = addr - entry[0]
                if off + size <= entry[1]:
                    pack(entry[2], off, value & mask)
                    return
            raise denied(addr, size, True, granted)

        return store

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


class Domain(_Access):
    """The part of an :class:`AddressSpace` one program run may touch (defense in depth).

    A run is granted the regions it was given: its own stack frames (while they are
    live), the regions its arguments point into (ctx, trusted BTF objects handed by the
    trampoline), the regions its ``ld_imm64`` map references resolve to, and the objects
    helpers and kfuncs return to it.  Every load and store of the program — and every
    access a helper makes on its behalf through ``run.space`` — must fall inside a
    granted region; anything else raises :class:`MemoryFault`, whatever the verifier
    concluded.  ``granted`` holds region bases; the translated code passes it to
    :attr:`AddressSpace.gld` / :attr:`AddressSpace.gst` directly.
    """

    __slots__ = ("_ld", "_st", "granted", "space")

    def __init__(self, space: AddressSpace, granted: set[int] | None = None) -> None:
        self.space = space
        self.granted: set[int] = granted if granted is not None else set()
        self._ld: dict[int, Callable[[int], int]] | None = None
        self._st: dict[int, Callable[[int, int], None]] | None = None

    # -- grants
    def grant(self, addr: int) -> bool:
        """Grant the region containing ``addr`` (no-op for unmapped addresses); True if mapped."""
        region = self.space.region_at(addr & _MASK64) if addr > PAGE_SIZE else None
        if region is None:
            return False
        self.granted.add(region.base)
        return True

    def grant_region(self, region: Region) -> None:
        """Grant ``region``."""
        self.granted.add(region.base)

    def revoke_region(self, region: Region) -> None:
        """Take ``region`` back (a returned frame, an unmapped scratch region)."""
        self.granted.discard(region.base)

    def allows(self, addr: int) -> bool:
        """Whether ``addr`` lies in a granted region."""
        region = self.space.region_at(addr & _MASK64)
        return region is not None and region.base in self.granted

    # -- accessors shaped like AddressSpace's
    @property
    def ld(self) -> dict[int, Callable[[int], int]]:
        """``ld[n](addr)``: checked loads limited to the granted regions."""
        if self._ld is None:
            granted, gld = self.granted, self.space.gld
            self._ld = {n: functools.partial(_call_load, gld[n], granted) for n in (1, 2, 4, 8)}
        return self._ld

    @property
    def st(self) -> dict[int, Callable[[int, int], None]]:
        """``st[n](addr, value)``: checked stores limited to the granted regions."""
        if self._st is None:
            granted, gst = self.granted, self.space.gst
            self._st = {n: functools.partial(_call_store, gst[n], granted) for n in (1, 2, 4, 8)}
        return self._st

    def _span(self, addr: int, size: int, write: bool) -> tuple[bytearray, int]:
        pages = self.space._wpages if write else self.space._rpages
        entry = pages.get(addr >> _PAGE_SHIFT) if addr >= 0 else None
        if entry is not None and entry[0] in self.granted:
            off = addr - entry[0]
            if size >= 0 and off + size <= entry[1]:
                return entry[2], off
        raise self.space.denied(addr, max(size, 1), write, self.granted)

    def region_at(self, addr: int) -> Region | None:
        """The granted region containing ``addr``, or ``None``."""
        region = self.space.region_at(addr)
        return region if region is not None and region.base in self.granted else None

    # -- scratch regions and frames (granted while they live)
    def map(self, size: int, **kwargs: object) -> Region:
        """Map a scratch region for the run (helpers) and grant it."""
        region = self.space.map(size, **kwargs)  # type: ignore[arg-type]
        self.granted.add(region.base)
        return region

    def unmap(self, region: Region | int) -> None:
        """Unmap a region mapped by :meth:`map` and revoke it."""
        base = region if isinstance(region, int) else region.base
        self.granted.discard(base)
        self.space.unmap(region)

    def acquire_frame(self) -> Region:
        """A zeroed stack frame, granted to the run until :meth:`release_frame`."""
        frame = self.space.acquire_frame()
        self.granted.add(frame.base)
        return frame

    def release_frame(self, frame: Region) -> None:
        """Give a frame back: it is revoked, then pooled."""
        self.granted.discard(frame.base)
        self.space.release_frame(frame)

    def fault(self, addr: int, size: int, write: bool) -> MemoryFault:
        """The fault for an access outside the run's memory."""
        return self.space.denied(addr, size, write, self.granted)


def _call_load(load: Callable[[int, set[int]], int], granted: set[int], addr: int) -> int:
    return load(addr, granted)


def _call_store(store: Callable[[int, int, set[int]], None], granted: set[int], addr: int, value: int) -> None:
    store(addr, value, granted)
