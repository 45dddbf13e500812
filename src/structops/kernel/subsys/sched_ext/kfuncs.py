"""The sched_ext kfuncs (SX-K4-SX-K35) and the generic ones schedulers call with them.

Each implementation takes the five raw u64 argument registers.  With no scheduler
loaded every scx kfunc returns its neutral value (SX-K4).  Context rules are checked
when called, as 6.18 does (SX-K2): a kfunc used from the wrong op ejects the scheduler.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.kernel.subsys.sched_ext import consts as C
from structops.kernel.subsys.sched_ext.bstr import BstrError, format_bstr
from structops.kernel.subsys.sched_ext.dsq import Dsq
from structops.kernel.subsystem import KfuncDef
from structops.uapi import ProgType
from structops.verifier.ops import KF
from structops.vm.iter_num import KF_ITER_FLAGS, iter_num_kfuncs

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.subsys.sched_ext import ScxState
    from structops.kernel.subsys.sched_ext.core import ScxSched
    from structops.schedsim.model import Task

__all__ = ["KF_FLAGS", "UNIMPLEMENTED", "sched_ext_kfuncs"]

M64 = (1 << 64) - 1
_ALL = frozenset({ProgType.BPF_PROG_TYPE_STRUCT_OPS, ProgType.BPF_PROG_TYPE_SYSCALL, ProgType.BPF_PROG_TYPE_TRACING})
_OPS_ONLY = frozenset({ProgType.BPF_PROG_TYPE_STRUCT_OPS})


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def sched_ext_kfuncs(kernel: EmulatedKernel, state: ScxState) -> list[KfuncDef]:
    """Every kfunc of this module, for the subsystem's plug-in description."""
    space = kernel.kmem.space

    def sch() -> ScxSched | None:
        s = state.sch
        return None if s is None or s.disabled else s

    def task(addr: int) -> Task | None:
        m = state.machine
        return m.task_by_addr(addr) if m is not None and addr else None

    def cpumask(addr: int) -> list[int]:
        m = state.machine
        if m is None or not addr:
            return []
        words = (m.nr_cpus + 63) // 64
        raw = space.read(addr, 8 * words)
        out: list[int] = []
        for w in range(words):
            v = int.from_bytes(raw[8 * w : 8 * w + 8], "little")
            out.extend(64 * w + b for b in range(64) if v >> b & 1 and 64 * w + b < m.nr_cpus)
        return out

    masks: dict[str, int] = {}

    def mask_addr(name: str, cpus: list[int] | set[int]) -> int:
        m = state.machine
        if m is None:
            return 0
        a = m.scratch(1024)
        for c in cpus:
            a.buf[c // 8] |= 1 << (c % 8)
        masks[name] = a.addr
        return a.addr

    impl: dict[str, Callable[..., int]] = {}

    def kf(name: str, prog_types: frozenset[int] = _ALL) -> Callable[[Callable[..., int]], Callable[..., int]]:
        def deco(fn: Callable[..., int]) -> Callable[..., int]:
            impl[name] = fn
            fn.prog_types = prog_types  # type: ignore[attr-defined]
            return fn

        return deco

    # -- DSQs --------------------------------------------------------------------------
    @kf("scx_bpf_create_dsq", frozenset({ProgType.BPF_PROG_TYPE_STRUCT_OPS, ProgType.BPF_PROG_TYPE_SYSCALL}))
    def create_dsq(dsq_id: int, node: int, *_: int) -> int:
        s = sch()
        if s is None:
            return -errno.ENODEV
        node = _s32(node)
        if dsq_id >> 63 or node < -1 or node >= 1:
            return -errno.EINVAL
        if dsq_id in s.dsqs:
            return -errno.EEXIST
        s.dsqs[dsq_id] = Dsq(dsq_id)
        return 0

    @kf("scx_bpf_destroy_dsq")
    def destroy_dsq(dsq_id: int, *_: int) -> int:
        s = sch()
        if s is None or dsq_id not in s.dsqs:
            return 0
        d = s.dsqs[dsq_id]
        if d.tasks:
            s.error(C.SCX_EXIT_ERROR, f"attempting to destroy in-use dsq {dsq_id:#018x} (nr={d.nr})")
            return 0
        d.dead = True
        del s.dsqs[dsq_id]
        return 0

    @kf("scx_bpf_dsq_nr_queued")
    def dsq_nr_queued(dsq_id: int, *_: int) -> int:
        s = sch()
        if s is None:
            return -errno.ENODEV
        if dsq_id == C.SCX_DSQ_LOCAL:
            cpu = s.ctx[-1].cpu if s.ctx else 0
            return s.local[cpu].nr
        if dsq_id & C.SCX_DSQ_LOCAL_ON == C.SCX_DSQ_LOCAL_ON:
            c = dsq_id & C.SCX_DSQ_LOCAL_CPU_MASK
            if c >= len(s.local):
                s.error(C.SCX_EXIT_ERROR, f"invalid CPU {c}")
                return -errno.ENOENT
            return s.local[c].nr
        d = s.dsqs.get(dsq_id)
        return d.nr if d is not None else -errno.ENOENT

    def _insert(p: int, dsq_id: int, slice_ns: int, vtime: int | None, flags: int) -> int:
        s = sch()
        if s is None or not s.kf_allowed(C.SCX_KF_ENQUEUE | C.SCX_KF_DISPATCH):
            return 0
        t = task(p)
        if t is None or t.scx is None:
            s.error(C.SCX_EXIT_ERROR, "called with NULL task")
            return 0
        s.insert(t, dsq_id, slice_ns, flags, vtime)
        return 0

    @kf("scx_bpf_dsq_insert", _OPS_ONLY)
    def dsq_insert(p: int, dsq_id: int, slice_ns: int, flags: int, *_: int) -> int:
        return _insert(p, dsq_id, slice_ns, None, flags)

    @kf("scx_bpf_dsq_insert_vtime", _OPS_ONLY)
    def dsq_insert_vtime(p: int, dsq_id: int, slice_ns: int, vtime: int, flags: int) -> int:
        return _insert(p, dsq_id, slice_ns, vtime, flags)

    @kf("scx_bpf_dispatch_nr_slots", _OPS_ONLY)
    def dispatch_nr_slots(*_: int) -> int:
        s = sch()
        if s is None or not s.kf_allowed(C.SCX_KF_DISPATCH):
            return 0
        return s.max_batch - len(s.dsp_buf)

    @kf("scx_bpf_dispatch_cancel", _OPS_ONLY)
    def dispatch_cancel(*_: int) -> int:
        s = sch()
        if s is None or not s.kf_allowed(C.SCX_KF_DISPATCH):
            return 0
        if not s.dsp_buf:
            s.error(C.SCX_EXIT_ERROR, "dispatch buffer underflow")
        else:
            s.dsp_buf.pop()
        return 0

    @kf("scx_bpf_dsq_move_to_local", _OPS_ONLY)
    def move_to_local(dsq_id: int, *_: int) -> int:
        s = sch()
        if s is None or not s.kf_allowed(C.SCX_KF_DISPATCH):
            return 0
        cpu = s.ctx[-1].cpu
        s.flush_dispatch(cpu)
        d = s.dsqs.get(dsq_id)
        if d is None:
            s.error(C.SCX_EXIT_ERROR, f"invalid DSQ ID {dsq_id:#018x}")
            return 0
        if s.consume(d, cpu):
            s.dsp_progress += 1
            return 1
        return 0

    from structops.kernel.subsys.sched_ext.dsq_iter import iter_kfuncs

    iter_kfuncs(kf, sch, task)

    # -- CPUs, idle, kicks ---------------------------------------------------------------------
    @kf("scx_bpf_kick_cpu")
    def kick_cpu(cpu: int, flags: int, *_: int) -> int:
        s = sch()
        if s is not None:
            s.kick(_s32(cpu), flags)
        return 0

    @kf("scx_bpf_select_cpu_dfl")
    def select_cpu_dfl(p: int, prev: int, wake_flags: int, is_idle: int, *_: int) -> int:
        s = sch()
        prev = _s32(prev)
        if is_idle:
            space.write(is_idle, b"\0")
        if s is None or not s.kf_allowed_if_unlocked(C.SCX_KF_SELECT_CPU | C.SCX_KF_ENQUEUE):
            return prev & 0xFFFFFFFF
        t = task(p)
        if not s.builtin_idle:
            s.error(C.SCX_EXIT_ERROR, "built-in idle tracking is disabled")
            return prev & 0xFFFFFFFF
        if t is None or not 0 <= prev < s.machine.nr_cpus:
            s.error(C.SCX_EXIT_ERROR, f"invalid CPU {prev}")
            return prev & 0xFFFFFFFF
        cpu, idle = s.select_cpu_dfl(t, prev, wake_flags)
        if is_idle:
            space.write(is_idle, bytes([int(idle)]))
        return cpu & 0xFFFFFFFF

    @kf("scx_bpf_select_cpu_and")
    def select_cpu_and(p: int, prev: int, wake_flags: int, mask: int, flags: int) -> int:
        """SX-K19: like select_cpu_dfl within ``mask``; the CPU or -EBUSY / -EPERM / -EINVAL."""
        s = sch()
        prev = _s32(prev)
        if s is None:
            return -errno.EBUSY & M64
        if s.ctx and not s.kf_allowed(C.SCX_KF_SELECT_CPU | C.SCX_KF_ENQUEUE):
            return -errno.EPERM & M64
        t = task(p)
        if t is None or not 0 <= prev < s.machine.nr_cpus:
            s.error(C.SCX_EXIT_ERROR, f"invalid CPU {prev}")
            return -errno.EINVAL & M64
        if not s.builtin_idle:
            s.error(C.SCX_EXIT_ERROR, "built-in idle tracking is disabled")
            return -errno.EBUSY & M64
        allowed = tuple(c for c in cpumask(mask) if t.allowed(c))
        if not allowed:
            return -errno.EBUSY & M64
        if prev in allowed and s.claim(prev):
            return prev
        return s.pick_idle(allowed, flags, near=prev) & M64

    for nm in ("scx_bpf_pick_idle_cpu_node", "scx_bpf_pick_any_cpu_node"):

        def pick_node(*_: int, _nm: str = nm) -> int:
            """SX-K22: per-node idle tracking needs SCX_OPS_BUILTIN_IDLE_PER_NODE (not modelled)."""
            s = sch()
            if s is not None:
                s.error(C.SCX_EXIT_ERROR, "per-node idle tracking is disabled")
            return -errno.EOPNOTSUPP & M64

        kf(nm)(pick_node)

    for nm in ("scx_bpf_get_idle_cpumask_node", "scx_bpf_get_idle_smtmask_node"):

        def idle_node(*_: int, _nm: str = nm) -> int:
            s = sch()
            if s is not None:
                s.error(C.SCX_EXIT_ERROR, "per-node idle tracking is disabled")
            return mask_addr(_nm, [])

        kf(nm)(idle_node)

    @kf("scx_bpf_cpu_curr")
    def cpu_curr(cpu: int, *_: int) -> int:
        """SX-K34: the task current on ``cpu`` (NULL when idle or invalid)."""
        m = state.machine
        cpu = _s32(cpu)
        if m is None or not 0 <= cpu < m.nr_cpus:
            return 0
        t = m.cpus[cpu].curr
        return t.addr if t is not None else 0

    @kf("scx_bpf_locked_rq")
    def locked_rq(*_: int) -> int:
        """SX-K34: no ``struct rq`` is modelled: an error and NULL."""
        s = sch()
        if s is not None:
            s.error(C.SCX_EXIT_ERROR, "accessing rq without holding rq lock")
        return 0

    @kf("scx_bpf_pick_idle_cpu")
    def pick_idle_cpu(mask: int, flags: int, *_: int) -> int:
        s = sch()
        if s is None:
            return -errno.EBUSY & M64
        if not s.builtin_idle:
            s.error(C.SCX_EXIT_ERROR, "built-in idle tracking is disabled")
            return -errno.EBUSY & M64
        return s.pick_idle(cpumask(mask), flags) & M64

    @kf("scx_bpf_pick_any_cpu")
    def pick_any_cpu(mask: int, flags: int, *_: int) -> int:
        s = sch()
        cpus = cpumask(mask)
        if s is None or not cpus:
            return -errno.EBUSY & M64
        if s.builtin_idle:
            c = s.pick_idle(cpus, flags)
            if c >= 0:
                return c
        m = s.machine
        c = cpus[m.rng.randrange(len(cpus))]
        return c

    @kf("scx_bpf_test_and_clear_cpu_idle")
    def test_and_clear(cpu: int, *_: int) -> int:
        s = sch()
        cpu = _s32(cpu)
        if s is None:
            return 0
        if not 0 <= cpu < s.machine.nr_cpus:
            s.error(C.SCX_EXIT_ERROR, f"invalid CPU {cpu}")
            return 0
        return int(s.claim(cpu))

    for nm in ("scx_bpf_get_idle_cpumask", "scx_bpf_get_idle_smtmask"):

        def get_idle(*_: int, _nm: str = nm) -> int:
            s = sch()
            if s is None:
                return mask_addr(_nm, [])
            if _nm.endswith("smtmask") and s.machine.smt:
                return mask_addr(_nm, {c for c in s.idle if s.core_idle(c)})
            return mask_addr(_nm, s.idle)

        kf(nm)(get_idle)

    @kf("scx_bpf_get_online_cpumask")
    def online_mask(*_: int) -> int:
        m = state.machine
        return mask_addr("online", range(m.nr_cpus) if m else [])  # type: ignore[arg-type]

    kf("scx_bpf_get_possible_cpumask")(online_mask)
    kf("scx_bpf_put_cpumask")(lambda *_: 0)
    kf("scx_bpf_put_idle_cpumask")(lambda *_: 0)

    @kf("scx_bpf_nr_cpu_ids")
    def nr_cpu_ids(*_: int) -> int:
        m = state.machine
        return m.nr_cpus if m is not None else 1

    kf("scx_bpf_nr_node_ids")(lambda *_: 1)
    kf("scx_bpf_cpu_node")(lambda *_: 0)

    @kf("scx_bpf_task_cpu")
    def task_cpu(p: int, *_: int) -> int:
        t = task(p)
        return t.cpu if t is not None else 0

    @kf("scx_bpf_task_running")
    def task_running(p: int, *_: int) -> int:
        t = task(p)
        return int(t is not None and t.running)

    @kf("scx_bpf_now")
    def now(*_: int) -> int:
        m = state.machine
        return m.now + m.boot_ns if m is not None else 0  # the rq clock: time since boot (SX-K29)

    kf("scx_bpf_cpuperf_cap")(lambda *_: C.SCX_CPUPERF_ONE)
    kf("scx_bpf_cpuperf_cur")(lambda *_: C.SCX_CPUPERF_ONE)

    @kf("scx_bpf_cpuperf_set")
    def cpuperf_set(cpu: int, perf: int, *_: int) -> int:
        s = sch()
        if s is not None and perf & 0xFFFFFFFF > C.SCX_CPUPERF_ONE:
            s.error(C.SCX_EXIT_ERROR, f"Invalid cpuperf target {perf & 0xFFFFFFFF} for CPU {_s32(cpu)}")
        return 0

    @kf("scx_bpf_events")
    def events(addr: int, size: int, *_: int) -> int:
        s = sch()
        from structops.kernel.subsys.sched_ext.dump import EVENTS  # struct scx_event_stats order

        vals = [s.events.get(n, 0) if s is not None else 0 for n in EVENTS]
        raw = struct.pack("<9q", *vals)
        space.write(addr, raw[: min(size, len(raw))])
        return 0

    @kf("scx_bpf_reenqueue_local", _OPS_ONLY)
    def reenqueue_local(*_: int) -> int:
        s = sch()
        if s is None or not s.kf_allowed(C.SCX_KF_CPU_RELEASE):
            return 0
        cpu = s.ctx[-1].cpu
        moved = list(s.local[cpu].tasks)
        for t in moved:
            s.local[cpu].remove(t)
            t.scx.dsq = None
            s.do_enqueue(t, C.SCX_ENQ_REENQ)
        return len(moved)

    # -- exits and dumps ---------------------------------------------------------------------
    def _bstr(fmt: int, data: int, size: int) -> str | None:
        s = sch()
        if s is None:
            return None
        size &= 0xFFFFFFFF
        if size % 8 or size > 12 * 8 or (size and not data):
            s.error(C.SCX_EXIT_ERROR, f"invalid data={data:#x} and data__sz={size}")
            return None
        args = list(struct.unpack(f"<{size // 8}Q", space.read(data, size))) if size else []
        try:
            return format_bstr(space.read_cstr(fmt, 1024), args, lambda a: space.read_cstr(a, 1024))
        except (BstrError, OSError) as e:
            s.error(C.SCX_EXIT_ERROR, f"format preparation failed ({-errno.EINVAL}): {e}")
            return None

    @kf("scx_bpf_error_bstr")
    def error_bstr(fmt: int, data: int, size: int, *_: int) -> int:
        msg = _bstr(fmt, data, size)
        s = sch()
        if msg is not None and s is not None:
            s.error(C.SCX_EXIT_ERROR_BPF, msg)
        return 0

    @kf("scx_bpf_exit_bstr")
    def exit_bstr(code: int, fmt: int, data: int, size: int, *_: int) -> int:
        msg = _bstr(fmt, data, size)
        s = sch()
        if msg is not None and s is not None:
            s.error(C.SCX_EXIT_UNREG_BPF, msg, code=code)
        return 0

    @kf("scx_bpf_dump_bstr")
    def dump_bstr(fmt: int, data: int, size: int, *_: int) -> int:
        s = sch()
        if s is None:
            return 0
        if not s.ctx or not s.ctx[-1].op.startswith("dump"):
            s.error(C.SCX_EXIT_ERROR, "scx_bpf_dump() must only be called from ops.dump() and friends")
            return 0
        msg = _bstr(fmt, data, size)
        if msg is not None:
            s.dump_lines.append(msg)
        return 0

    # -- tasks, cpumasks, iterators ----------------------------------------------------------------
    @kf("bpf_task_from_pid")
    def task_from_pid(pid: int, *_: int) -> int:
        m = state.machine
        t = m.task_by_pid(_s32(pid)) if m is not None else None
        return t.addr if t is not None else 0

    kf("bpf_task_acquire")(lambda addr, *_: addr)
    kf("bpf_task_release")(lambda *_: 0)

    @kf("bpf_cpumask_test_cpu")
    def cpumask_test_cpu(cpu: int, mask: int, *_: int) -> int:
        cpu &= 0xFFFFFFFF
        if not mask or cpu >= 8192:
            return 0
        return (space.read(mask + cpu // 8, 1)[0] >> (cpu % 8)) & 1

    @kf("bpf_cpumask_weight")
    def cpumask_weight(mask: int, *_: int) -> int:
        return len(cpumask(mask))

    @kf("bpf_cpumask_first")
    def cpumask_first(mask: int, *_: int) -> int:
        cpus = cpumask(mask)
        return cpus[0] if cpus else (state.machine.nr_cpus if state.machine else 1)

    @kf("bpf_cpumask_empty")
    def cpumask_empty(mask: int, *_: int) -> int:
        return int(not cpumask(mask))

    from structops.kernel.subsys.sched_ext.cpumask import cpumask_kfuncs

    out = [KfuncDef(name, fn, KF(KF_FLAGS.get(name, 0)), fn.prog_types) for name, fn in impl.items()]  # type: ignore[attr-defined]
    every = frozenset(int(t) for t in ProgType)  # the common kfunc set (BPF_PROG_TYPE_UNSPEC)
    out += [KfuncDef(n, fn, KF(KF_ITER_FLAGS[n]), every) for n, fn in iter_num_kfuncs(space).items()]
    # bpf_rcu_read_lock/unlock (common set): ops already run inside the machine's RCU section
    out += [KfuncDef(n, lambda *_: 0, KF(0), every) for n in ("bpf_rcu_read_lock", "bpf_rcu_read_unlock")]
    out += cpumask_kfuncs(kernel, state)
    from structops.kernel.subsys.sched_ext.graph import graph_kfunc_defs

    out += graph_kfunc_defs()
    return out


#: Kfuncs Linux 6.18 offers schedulers that this kernel does not run (PROG_LOAD names them).
UNIMPLEMENTED = frozenset({"scx_bpf_cpu_rq"})


_ACQ, _REL, _NULL, _TRUSTED, _SLEEP, _RCU = 1, 2, 4, 16, 32, 128
#: ``KF_*`` flags of the 6.18 kfunc sets (include/linux/btf.h bit values).
KF_FLAGS = {
    "scx_bpf_create_dsq": _SLEEP,
    "scx_bpf_select_cpu_dfl": _RCU,
    "scx_bpf_dsq_insert": _RCU,
    "scx_bpf_dsq_insert_vtime": _RCU,
    "scx_bpf_pick_idle_cpu": _RCU,
    "scx_bpf_pick_any_cpu": _RCU,
    "scx_bpf_task_cpu": _RCU,
    "scx_bpf_task_running": _RCU,
    "scx_bpf_get_idle_cpumask": _ACQ,
    "scx_bpf_get_idle_smtmask": _ACQ,
    "scx_bpf_put_idle_cpumask": _REL,
    "scx_bpf_get_online_cpumask": _ACQ,
    "scx_bpf_get_possible_cpumask": _ACQ,
    "scx_bpf_put_cpumask": _REL,
    "scx_bpf_exit_bstr": _TRUSTED,
    "scx_bpf_error_bstr": _TRUSTED,
    "scx_bpf_dump_bstr": _TRUSTED,
    "scx_bpf_events": _TRUSTED,
    "bpf_task_from_pid": _ACQ | _NULL,
    "bpf_task_acquire": _ACQ | _RCU | _NULL,
    "bpf_task_release": _REL,
    "bpf_cpumask_test_cpu": _RCU,
    "bpf_cpumask_weight": _RCU,
    "bpf_cpumask_first": _RCU,
    "bpf_cpumask_empty": _RCU,
    "scx_bpf_select_cpu_and": _RCU,
    "scx_bpf_pick_idle_cpu_node": _RCU,
    "scx_bpf_pick_any_cpu_node": _RCU,
    "scx_bpf_get_idle_cpumask_node": _ACQ,
    "scx_bpf_get_idle_smtmask_node": _ACQ,
    "scx_bpf_cpu_curr": _RCU | _NULL,
    "scx_bpf_locked_rq": _NULL,
    "bpf_iter_scx_dsq_new": 1 << 8 | 1 << 11,  # KF_ITER_NEW | KF_RCU_PROTECTED
    "bpf_iter_scx_dsq_next": 1 << 9 | _NULL,  # KF_ITER_NEXT
    "bpf_iter_scx_dsq_destroy": 1 << 10,  # KF_ITER_DESTROY
    "scx_bpf_dsq_move": _RCU,
    "scx_bpf_dsq_move_vtime": _RCU,
}
