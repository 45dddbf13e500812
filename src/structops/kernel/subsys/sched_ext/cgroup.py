"""sched_ext and cgroups: the cgroup ops (SX-T30) and the cgroup kfuncs (SX-K27, kernel/bpf/helpers.c).

The machine's cgroups are :class:`structops.schedsim.cgroups.CgroupTree`.  When a
scheduler loads, ``ops.cgroup_init(cgrp, args)`` runs for every cgroup in pre-order (root
first) before any ``init_task``, with ``{weight, bw_period_us = 100000, bw_quota_us =
RUNTIME_INF, bw_burst_us = 0}``; a nonzero return aborts the load with "ops.cgroup_init()
failed (%d)".  When it unloads, ``ops.cgroup_exit`` runs for each initialised cgroup in
post-order before the tasks leave.  ``scx_init_task_args.cgroup`` is the task's cgroup.

Kfuncs: ``scx_bpf_task_cgroup(p)`` (KF_RCU | KF_ACQUIRE) is the cgroup of a task the running
op was called for; any other task is an error ("called on a task not being operated on")
and gets the root cgroup.  ``bpf_cgroup_acquire`` / ``bpf_cgroup_release`` take and drop a
reference (cgroups here live as long as the machine); ``bpf_cgroup_ancestor(cgrp, level)``
is the ancestor at ``level`` or NULL; ``bpf_cgroup_from_id(id)`` looks a cgroup up by id.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structops.kernel.subsys.sched_ext import consts as C
from structops.kernel.subsystem import KfuncDef
from structops.uapi import ProgType
from structops.verifier.ops import KF

if TYPE_CHECKING:
    from structops.kernel.subsys.sched_ext import ScxState
    from structops.kernel.subsys.sched_ext.core import ScxSched
    from structops.schedsim.model import Task

__all__ = ["CGROUP_FLAGS", "cgroup_exit_all", "cgroup_init_all", "cgroup_kfuncs", "cgroups_of", "task_cgroup_addr"]

DEFAULT_BW_PERIOD_US = 100_000
RUNTIME_INF = (1 << 64) - 1
_ACQ, _REL, _NULL, _RCU = 1, 2, 4, 128
#: ``KF_*`` flags (kernel/bpf/helpers.c generic set; scx_kfunc_ids_any for task_cgroup).
CGROUP_FLAGS = {
    "scx_bpf_task_cgroup": _RCU | _ACQ,
    "bpf_cgroup_acquire": _ACQ | _RCU | _NULL,
    "bpf_cgroup_release": _REL,
    "bpf_cgroup_ancestor": _ACQ | _RCU | _NULL,
    "bpf_cgroup_from_id": _ACQ | _NULL,
}
_GENERIC = frozenset(
    {
        ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        ProgType.BPF_PROG_TYPE_TRACING,
        ProgType.BPF_PROG_TYPE_LSM,
        ProgType.BPF_PROG_TYPE_SYSCALL,
    }
)
_SCX = frozenset({ProgType.BPF_PROG_TYPE_STRUCT_OPS, ProgType.BPF_PROG_TYPE_SYSCALL, ProgType.BPF_PROG_TYPE_TRACING})


def cgroups_of(state: ScxState) -> Any:
    """The cgroup tree of the machine ``state`` schedules (None without a machine)."""
    return getattr(state.machine, "cgroups", None)


def _tree(sch: ScxSched, tree: Any = None) -> Any:
    return tree if tree is not None else getattr(sch.machine, "cgroups", None)


def task_cgroup_addr(t: Task) -> int:
    """Address of ``t``'s ``struct cgroup`` (0 when the machine has no cgroups)."""
    cg = getattr(t, "cgroup", None)
    return int(cg.addr) if cg is not None else 0


def cgroup_init_all(sch: ScxSched, tree: Any = None) -> bool:
    """SX-R14 step 10 / SX-T30: ``ops.cgroup_init`` for every cgroup, pre-order; False on failure."""
    tree = _tree(sch, tree)
    if tree is None:
        return True
    tree.inited = []
    for cg in tree.pre_order():
        if "cgroup_init" in sch.ops:
            args = sch.machine.scratch(32)
            struct.pack_into("<IxxxxQQQ", args.buf, 0, cg.weight, DEFAULT_BW_PERIOD_US, RUNTIME_INF, 0)
            ret = sch.call("cgroup_init", 0, cg.addr, args.addr)
            ret = ret - (1 << 32) if ret & 0x80000000 and not ret >> 32 else ret
            if ret:
                sch.error(C.SCX_EXIT_ERROR, f"ops.cgroup_init() failed ({sch.sanitize('cgroup_init', ret)})")
                return False
        tree.inited.append(cg)
    return True


def cgroup_exit_all(sch: ScxSched, tree: Any = None) -> None:
    """SX-R16 step 5: ``ops.cgroup_exit`` for every initialised cgroup, post-order."""
    tree = _tree(sch, tree)
    if tree is None:
        return
    inited = set(tree.inited)
    tree.inited = []
    if "cgroup_exit" not in sch.ops:
        return
    for cg in tree.post_order():
        if cg in inited:
            sch.call("cgroup_exit", 0, cg.addr)


def cgroup_kfuncs(state: ScxState) -> list[KfuncDef]:
    """The cgroup kfuncs, working on the machine's cgroups."""

    def tree() -> Any:
        m = state.machine
        return getattr(m, "cgroups", None) if m is not None else None

    def cg_at(addr: int) -> Any:
        t = tree()
        return t.by_addr(addr) if t is not None and addr else None

    impl: dict[str, Callable[..., int]] = {}

    def task_cgroup(p: int, *_: int) -> int:
        """SX-K27."""
        tr = tree()
        if tr is None:
            return 0
        s = state.sch
        m = state.machine
        t = m.task_by_addr(p) if m is not None else None
        if s is not None and not s.disabled and (not s.ctx or p not in s.ctx[-1].tasks):
            s.error(C.SCX_EXIT_ERROR, "called on a task not being operated on")
            return int(tr.root.addr)
        cg = getattr(t, "cgroup", None) or tr.root
        return int(cg.addr)

    def ancestor(addr: int, level: int, *_: int) -> int:
        cg = cg_at(addr)
        lv = level & 0xFFFFFFFF
        lv = lv - (1 << 32) if lv >> 31 else lv
        a = cg.ancestor(lv) if cg is not None else None
        return int(a.addr) if a is not None else 0

    def from_id(cgid: int, *_: int) -> int:
        t = tree()
        cg = t.by_id(cgid) if t is not None else None
        return int(cg.addr) if cg is not None else 0

    impl["scx_bpf_task_cgroup"] = task_cgroup
    impl["bpf_cgroup_acquire"] = lambda addr, *_: addr if cg_at(addr) is not None else 0
    impl["bpf_cgroup_release"] = lambda *_: 0
    impl["bpf_cgroup_ancestor"] = ancestor
    impl["bpf_cgroup_from_id"] = from_id
    return [KfuncDef(n, fn, KF(CGROUP_FLAGS[n]), _SCX if n.startswith("scx_") else _GENERIC) for n, fn in impl.items()]
