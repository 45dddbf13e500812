"""Helpers that call back into the program: ``bpf_loop`` (181), ``bpf_for_each_map_elem`` (164).

Run-time side of the callback helpers (the verifier side is
:mod:`structops.verifier.subprogs`), as ``kernel/bpf/bpf_iter.c`` defines them:

* ``bpf_loop(nr_loops, callback, ctx, flags)``: ``flags`` must be 0 (``-EINVAL``),
  ``nr_loops`` at most ``1 << 23`` (``-E2BIG``); calls ``callback(i, ctx)`` for
  ``i = 0 .. nr_loops-1`` and stops early when it returns non-zero; returns the number
  of calls made;
* ``bpf_for_each_map_elem(map, callback, ctx, flags)``: ``flags`` must be 0; calls
  ``callback(map, &key, &value, ctx)`` for each element (array maps: every index) until
  it returns non-zero; returns the number of elements visited.  The key is handed to
  the callback in a small read-only kernel buffer.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any, Final

from structops.vm.helpers import ArgType, HelperSpec

if TYPE_CHECKING:
    from structops.vm.context import RunContext

__all__ = ["BPF_MAX_LOOPS", "callback_helpers"]

BPF_MAX_LOOPS: Final = 1 << 23
_U64: Final = (1 << 64) - 1


def _loop(run: RunContext, nr: int, fn: int, ctx: int, flags: int, _r5: int) -> int:
    if flags:
        return -errno.EINVAL & _U64
    nr &= 0xFFFFFFFF
    if nr > BPF_MAX_LOOPS:
        return -errno.E2BIG & _U64
    prog = run.program
    for i in range(nr):
        if prog.call_function(run, fn, (i, ctx)) & 0xFFFFFFFF:
            return i + 1
    return nr


def _for_each_map_elem(run: RunContext, map_addr: int, fn: int, ctx: int, flags: int, _r5: int) -> int:
    if flags:
        return -errno.EINVAL & _U64
    backend: Any = run.vm.map_at(map_addr)
    if backend is None:
        return -errno.EINVAL & _U64
    m = getattr(backend, "m", None)
    keys: list[bytes] = []
    if m is not None and int(getattr(m, "map_type", -1)) == 2:  # BPF_MAP_TYPE_ARRAY
        keys = [struct.pack("<I", i) for i in range(int(m.max_entries))]
    elif m is not None:
        key: bytes | None = None
        while True:
            try:
                key = m.get_next_key(key)
            except OSError:
                break
            keys.append(key)
    if not keys:
        return 0
    region = run.space.map(max(backend.key_size, 8), name="for_each_map_elem key", kind="kernel")
    try:
        done = 0
        for k in keys:
            value = backend.bpf_lookup(k)
            if not value:
                continue
            run.space.write(region.base, k)
            run.space.grant(value)  # the element handed to the callback (issue 12 item 4)
            done += 1
            if run.program.call_function(run, fn, (map_addr, region.base, value, ctx)) & 0xFFFFFFFF:
                break
        return done
    finally:
        run.space.unmap(region)


def callback_helpers() -> list[HelperSpec]:
    """HelperSpecs of the callback helpers (any program type; availability is the subsystem's)."""
    from structops.kernel.maps.timer import timer_helpers  # bpf_timer_* (169-172)

    A = ArgType
    return [
        *timer_helpers(),
        HelperSpec(181, "bpf_loop", _loop, (A.ANYTHING, A.ANYTHING, A.ANYTHING, A.ANYTHING)),
        HelperSpec(
            164, "bpf_for_each_map_elem", _for_each_map_elem, (A.CONST_MAP_PTR, A.ANYTHING, A.ANYTHING, A.ANYTHING)
        ),
    ]
