"""Struct_ops trampolines and the image pages they are packed in (U9j, M2).

Each function member set in a struct_ops map gets a :class:`Trampoline`: its entry
address (what the kernel struct's function pointer holds) and the internal
``bpf_tramp_link`` that owns the program reference.  :class:`ImagePages` packs them into
at most ``MAX_TRAMP_IMAGE_PAGES`` pages charged to the JIT limit.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.kernel.struct_ops.registry import FuncModel
from structops.uapi import MAX_TRAMP_IMAGE_PAGES, PAGE_SIZE

if TYPE_CHECKING:
    from structops.kernel.prog import BpfProg
    from structops.kernel.services import StructOpsServices

__all__ = ["ImagePages", "Trampoline", "default_trampoline_size"]


def default_trampoline_size(model: FuncModel, returns_value: bool) -> int:
    """Size model of an x86-64 struct_ops trampoline for ``model``.

    The real size is arch- and signature-dependent and was not found in the sources
    (spec Q7); this model (prologue/epilogue, per-argument save/restore, the fentry
    return-value store) gives ~100-170 bytes, so about 40 trampolines fill a page as the
    selftests' multi-page test expects.
    """
    size = 96 + 8 * model.nr_args * 2
    if returns_value:
        size += 16
    return (size + 15) // 16 * 16


class ImagePages:
    """The trampoline image pages of one map: at most 8, charged to the JIT limit."""

    def __init__(self, kernel: StructOpsServices) -> None:
        self.kernel = kernel
        self.pages: list[int] = []
        self.offset = 0

    def place(self, size: int) -> int:
        """Reserve ``size`` bytes (packed); a new page only when it does not fit (U9j)."""
        if size <= 0:
            raise bpf_error(errno.EFAULT, "bad trampoline size")
        if not self.pages or size > PAGE_SIZE - self.offset:
            if len(self.pages) >= MAX_TRAMP_IMAGE_PAGES:
                raise bpf_error(errno.E2BIG, "struct_ops trampolines need more than 8 pages")
            self.pages.append(self.kernel.alloc_tramp_page())
            self.offset = 0
        addr = self.pages[-1] + self.offset
        self.offset += size
        return addr

    def free(self) -> None:
        """Free all pages (uncharges)."""
        for p in self.pages:
            self.kernel.free_tramp_page(p)
        self.pages = []
        self.offset = 0


@dataclass(eq=False)
class Trampoline:
    """One op's entry point: calling it runs ``prog`` inside an RCU read section.

    It also stands for the internal ``bpf_tramp_link`` that owns the prog reference (F4, F6).
    """

    prog: BpfProg
    member_index: int
    member_name: str
    model: FuncModel
    addr: int
    size: int
    ksym: str
    released: bool = False

    def release(self) -> None:
        """``bpf_link_put`` of the trampoline link: drop the prog reference (F6)."""
        if not self.released:
            self.released = True
            self.prog.put()
