"""Packet buffers that tc and XDP programs reach by direct packet access (BPF_PROG_TEST_RUN).

Linux hands a tc program ``__sk_buff.data``/``data_end``/``data_meta`` and an XDP program
``xdp_md.data``/``data_end``/``data_meta``: 32-bit context fields that the verifier's
context rewrite turns into 64-bit loads of the real pointers.  The embedded kernel keeps
the context as plain bytes, so the packet lives in a *packet window* of the address space
below 4 GiB: a 32-bit load of a packet field is the whole address.

A :class:`PacketBuffer` is the kernel's buffer (``frame``: headroom, metadata, packet,
tailroom, as the offsets ``meta <= data <= end`` inside it) plus, while a program runs,
one region mapped at a window slot that covers exactly ``[data_meta, data_end)``: a load
or store one byte past ``data_end`` (or before ``data_meta``) faults, whatever the verifier
concluded (issue 12 item 4).  Helpers that move the packet's start or end
(``bpf_xdp_adjust_head``/``_meta``/``_tail``) copy the region back, change the offsets
and map the new span at another slot, as the verifier invalidates every packet pointer
after them; a stale pointer then faults.  An empty span is a reserved, unmapped slot.
"""

from __future__ import annotations

import errno
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.vm.memory import PAGE_SIZE, Perm

if TYPE_CHECKING:
    from structops.vm.memory import AddressSpace, Domain, Region

__all__ = ["MAX_SPAN", "PACKET_WINDOW", "PacketBuffer", "PacketWindow", "window_of"]

#: ``[start, end)`` of the packet window.
PACKET_WINDOW = (0x1000_0000, 0xF000_0000)
#: Largest span one slot maps (an skb grown by ``bpf_skb_change_tail`` to ``SKB_MAX_ALLOC``);
#: each slot is that many pages plus an unmapped guard page.
MAX_SPAN = 4 * PAGE_SIZE
_SLOT = MAX_SPAN + PAGE_SIZE
_WINDOWS: weakref.WeakKeyDictionary[AddressSpace, PacketWindow] = weakref.WeakKeyDictionary()


class PacketWindow:
    """Slots of the packet window of one address space (freed slots are reused oldest first)."""

    def __init__(self, space: AddressSpace) -> None:
        self.space = space
        self._next = PACKET_WINDOW[0]
        self._free: deque[int] = deque()

    def take(self) -> int:
        """A free slot's base address."""
        while True:
            if self._free and (len(self._free) > 4 or self._next >= PACKET_WINDOW[1]):
                base = self._free.popleft()
            elif self._next < PACKET_WINDOW[1]:
                base = self._next
                self._next += _SLOT
            else:
                raise bpf_error(errno.ENOMEM, "the packet window of the address space is exhausted")
            if self.space.region_at(base) is None:  # another user placed a region here: skip it
                return base

    @property
    def slots_used(self) -> int:
        """Slots handed out so far (freed ones are reused)."""
        return (self._next - PACKET_WINDOW[0]) // _SLOT

    def give_back(self, base: int) -> None:
        """Return a slot (its region, if any, already unmapped)."""
        self._free.append(base)


def window_of(space: AddressSpace) -> PacketWindow:
    """The packet window of ``space`` (made on first use)."""
    win = _WINDOWS.get(space)
    if win is None:
        win = _WINDOWS[space] = PacketWindow(space)
    return win


class PacketBuffer:
    """A packet buffer and the region a running program reaches it through (module docstring)."""

    def __init__(self, space: AddressSpace, frame: bytearray, meta: int, data: int, end: int, name: str) -> None:
        self.space = space
        self.frame = frame
        self.meta, self.data, self.end = meta, data, end
        self.name = name
        self.slot = 0
        self.region: Region | None = None
        #: ``skb->csum`` of a CHECKSUM_COMPLETE tc run (None otherwise).
        self.csum: int | None = None
        self._window = window_of(space)

    # -- addresses the program sees
    def addr(self, off: int) -> int:
        """The address of frame offset ``off`` in the current mapping (``meta`` is the slot base)."""
        return self.slot + off - self.meta

    @property
    def data_addr(self) -> int:
        """``data``'s address."""
        return self.addr(self.data)

    @property
    def end_addr(self) -> int:
        """``data_end``'s address."""
        return self.addr(self.end)

    @property
    def meta_addr(self) -> int:
        """``data_meta``'s address."""
        return self.addr(self.meta)

    # -- mapping
    def map(self, domain: Domain | None = None) -> None:
        """Map ``[meta, end)`` at a fresh slot (granted to ``domain`` when given)."""
        size = self.end - self.meta
        if size > MAX_SPAN:
            raise bpf_error(errno.ENOMEM, f"a packet of {size} bytes does not fit a packet slot ({MAX_SPAN})")
        self.slot = self._window.take()
        if size > 0:
            self.region = self.space.map(
                size, name=self.name, perm=Perm.RW, base=self.slot, data=self.frame[self.meta : self.end]
            )
            if domain is not None:
                domain.grant_region(self.region)
        else:
            self.region = None

    def sync(self) -> None:
        """Copy the mapped bytes (the program's writes) back into the frame."""
        if self.region is not None:
            self.frame[self.meta : self.end] = self.region.buf

    def unmap(self, domain: Domain | None = None) -> None:
        """:meth:`sync`, then unmap the region and give the slot back."""
        self.sync()
        if self.region is not None:
            if domain is not None:
                domain.revoke_region(self.region)
            self.space.unmap(self.region)
            self.region = None
        if self.slot:
            self._window.give_back(self.slot)
            self.slot = 0

    def remap(
        self, domain: Domain | None, meta: int, data: int, end: int, edit: Callable[[bytearray], None] | None = None
    ) -> None:
        """Move the span to ``[meta, end)`` (``data`` inside it) at a new slot; ``edit``
        changes the frame in between (after the program's writes are copied back)."""
        self.unmap(domain)
        if edit is not None:
            edit(self.frame)
        self.meta, self.data, self.end = meta, data, end
        self.map(domain)

    def bytes_from(self, start: int) -> bytes:
        """``frame[start:end]`` with the program's writes (the region synced first)."""
        self.sync()
        return bytes(self.frame[start : self.end])
