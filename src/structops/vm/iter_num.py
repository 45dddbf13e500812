"""``bpf_iter_num_new/next/destroy``: the numbers iterator behind ``bpf_for`` and ``bpf_repeat``.

The iterator lives in the program's ``struct bpf_iter_num`` (8 bytes on its stack): the
current value then the end, two ``int``\\ s, as Linux lays out ``bpf_iter_num_kern``.
``_new(it, start, end)`` refuses ``start > end`` (-EINVAL) and ranges longer than
``BPF_MAX_LOOPS`` (-E2BIG), leaving an empty iterator; ``_next`` returns the address of
the current value after incrementing it, or NULL (0) once ``end`` is reached.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import Protocol

__all__ = ["BPF_MAX_LOOPS", "KF_ITER_FLAGS", "iter_num_kfuncs"]

#: Longest range (``BPF_MAX_LOOPS``).
BPF_MAX_LOOPS = 8 * 1024 * 1024
M64 = (1 << 64) - 1
_PAIR = struct.Struct("<ii")
#: ``KF_ITER_NEW``, ``KF_ITER_NEXT | KF_RET_NULL``, ``KF_ITER_DESTROY`` (6.18 common kfunc set).
KF_ITER_FLAGS = {"bpf_iter_num_new": 1 << 8, "bpf_iter_num_next": 1 << 9 | 1 << 2, "bpf_iter_num_destroy": 1 << 10}


class _Space(Protocol):
    def read(self, addr: int, size: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def iter_num_kfuncs(space: _Space) -> dict[str, Callable[..., int]]:
    """The three kfuncs over ``space`` (the address space the program's stack lives in)."""

    def new(it: int, start: int, end: int, *_: int) -> int:
        lo, hi = _s32(start), _s32(end)
        if lo > hi:
            space.write(it, _PAIR.pack(0, 0))
            return -errno.EINVAL & M64
        if hi - lo > BPF_MAX_LOOPS:
            space.write(it, _PAIR.pack(0, 0))
            return -errno.E2BIG & M64
        space.write(it, _PAIR.pack(_s32(lo - 1), hi))
        return 0

    def next_(it: int, *_: int) -> int:
        cur, end = _PAIR.unpack(space.read(it, 8))
        if cur + 1 >= end:
            space.write(it, _PAIR.pack(0, 0))
            return 0
        space.write(it, _PAIR.pack(cur + 1, end))
        return it

    def destroy(it: int, *_: int) -> int:
        space.write(it, _PAIR.pack(0, 0))
        return 0

    return {"bpf_iter_num_new": new, "bpf_iter_num_next": next_, "bpf_iter_num_destroy": destroy}
