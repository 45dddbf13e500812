"""DSQ iterators and moves from them (SX-K10, SX-K11, SX-K16, SX-D19).

``bpf_iter_scx_dsq_new`` snapshots the tasks queued on a user DSQ (only those are
visited, in queue order or reversed with ``SCX_DSQ_ITER_REV``); ``_next`` skips tasks that
left the DSQ meanwhile; ``scx_bpf_dsq_move[_vtime]`` moves a task still on the iterated
DSQ and queued before the iteration began, applying and then clearing the
``set_slice``/``set_vtime`` overrides.  The iterator state is kept by the address of the
program's ``struct bpf_iter_scx_dsq``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from structops.kernel.subsys.sched_ext import consts as C
from structops.kernel.subsys.sched_ext.dsq import Dsq

__all__ = ["iter_kfuncs"]

M64 = (1 << 64) - 1


def iter_kfuncs(
    kf: Callable[[str], Callable[[Callable[..., int]], Callable[..., int]]],
    sch: Callable[[], Any],
    task: Callable[[int], Any],
) -> None:
    """Define the iterator and move kfuncs through the ``kf`` registration decorator."""
    iters: dict[int, dict[str, object]] = {}

    @kf("bpf_iter_scx_dsq_new")
    def iter_new(it: int, dsq_id: int, flags: int, *_: int) -> int:
        """Snapshot the tasks queued on a user DSQ now (only those are visited)."""
        s = sch()
        iters[it] = {"tasks": [], "i": 0, "dsq": None, "slice": None, "vtime": None, "seq": 0}
        if s is None:
            return -errno.ENODEV & M64
        if flags & ~0x10000:
            return -errno.EINVAL & M64
        d = s.dsqs.get(dsq_id)
        if d is None:
            return -errno.ENOENT & M64
        tasks = list(reversed(d.tasks)) if flags & 0x10000 else list(d.tasks)
        iters[it].update(tasks=tasks, dsq=d, seq=d.seq)
        return 0

    @kf("bpf_iter_scx_dsq_next")
    def iter_next(it: int, *_: int) -> int:
        st = iters.get(it)
        if st is None:
            return 0
        tasks, i = st["tasks"], st["i"]
        assert isinstance(tasks, list) and isinstance(i, int)
        while i < len(tasks):
            t = tasks[i]
            i += 1
            if t.scx is not None and t.scx.dsq is st["dsq"]:
                st["i"] = i
                return int(t.addr)
        st["i"] = i
        return 0

    @kf("bpf_iter_scx_dsq_destroy")
    def iter_destroy(it: int, *_: int) -> int:
        iters.pop(it, None)
        return 0

    @kf("scx_bpf_dsq_move_set_slice")
    def move_set_slice(it: int, slice_ns: int, *_: int) -> int:
        if it in iters:
            iters[it]["slice"] = slice_ns
        return 0

    @kf("scx_bpf_dsq_move_set_vtime")
    def move_set_vtime(it: int, vtime: int, *_: int) -> int:
        if it in iters:
            iters[it]["vtime"] = vtime
        return 0

    def _move(it: int, p: int, dsq_id: int, flags: int, vtime_order: bool) -> int:
        s = sch()
        st = iters.get(it)
        t = task(p)
        if s is None or st is None or t is None or t.scx is None:
            return 0
        if s.ctx and not s.kf_allowed(C.SCX_KF_DISPATCH):
            return 0
        src = st["dsq"]
        ok = isinstance(src, Dsq) and t.scx.dsq is src and t.scx.dsq_seq <= int(st["seq"])  # type: ignore[call-overload]
        slice_ns, vt = st["slice"], st["vtime"]
        st["slice"] = st["vtime"] = None  # overrides are cleared after every attempt
        if not ok or t.running:
            return 0
        assert isinstance(src, Dsq)
        src.remove(t)
        t.scx.dsq = None
        if isinstance(slice_ns, int):
            t.slice = slice_ns
        if isinstance(vt, int):
            t.dsq_vtime = vt
        if vtime_order:
            flags |= 1 << 57
        cpu = s.ctx[-1].cpu if s.ctx else t.cpu
        s.dispatch_enqueue(t, dsq_id, flags, cpu)
        s.dsp_progress += 1
        return 1

    @kf("scx_bpf_dsq_move")
    def dsq_move(it: int, p: int, dsq_id: int, flags: int, *_: int) -> int:
        return _move(it, p, dsq_id, flags, False)

    @kf("scx_bpf_dsq_move_vtime")
    def dsq_move_vtime(it: int, p: int, dsq_id: int, flags: int, *_: int) -> int:
        return _move(it, p, dsq_id, flags, True)
