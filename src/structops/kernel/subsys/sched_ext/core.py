"""The sched_ext core of the embedded kernel: one loaded BPF scheduler (``struct scx_sched``).

It runs the enable/disable sequences (SX-R14, SX-R16), the task callbacks (SX-T11-SX-T17),
dispatch queues and the balance loop (SX-D9-SX-D18), exits (SX-E5) and the watchdog
(SX-E7).  The machine it schedules (CPUs, tasks, clock) is a
:class:`structops.schedsim.machine.Machine`; BPF ops run through the struct_ops
trampolines of the registered map (``kdata.call``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from structops.errors import VMFault
from structops.kernel.subsys.sched_ext import consts as C
from structops.kernel.subsys.sched_ext.dsq import Dsq
from structops.kernel.subsys.sched_ext.dump import ExitInfo
from structops.kernel.subsys.sched_ext.idle import IdleTracking

if TYPE_CHECKING:
    from structops.kernel.struct_ops import KData
    from structops.schedsim.machine import Machine
    from structops.schedsim.model import Task

__all__ = ["ExitInfo", "ScxSched", "ScxTask"]

TASK_NONE, TASK_INIT, TASK_READY, TASK_ENABLED = 0, 1, 2, 3


@dataclass(eq=False)
class ScxTask:
    """Per-task sched_ext state (``struct sched_ext_entity`` beyond the BPF-visible bytes)."""

    state: int = TASK_NONE
    queued: bool = False
    owned: bool = False  # ops_state QUEUED: the BPF scheduler holds the task (SX-T12.8)
    qseq: int = 0
    dsq: Dsq | None = None
    dsq_seq: int = 0
    ddsp: tuple[int, int] | None = None
    runnable_at: int = 0


@dataclass(slots=True)
class _Ctx:
    op: str
    mask: int
    tasks: tuple[int, ...]
    cpu: int
    ddsp_task: Task | None = None


@dataclass(eq=False)
class ScxSched(IdleTracking):
    """A loaded scheduler instance on ``machine``, driven by the ops in ``kdata``."""

    kdata: KData
    machine: Machine
    name: str = ""
    flags: int = 0
    timeout_ns: int = 30_000_000_000
    max_batch: int = C.SCX_DSP_DFL_MAX_BATCH
    exit_dump_len: int = C.SCX_EXIT_DUMP_DFL_LEN
    ops: frozenset[str] = frozenset()
    dsqs: dict[int, Dsq] = field(default_factory=dict)
    global_dsq: Dsq = field(default_factory=lambda: Dsq(C.SCX_DSQ_GLOBAL, builtin=True))
    local: list[Dsq] = field(default_factory=list)
    idle: set[int] = field(default_factory=set)
    builtin_idle: bool = True
    bypass: int = 0
    exit: ExitInfo = field(default_factory=ExitInfo)
    disabled: bool = False
    ctx: list[_Ctx] = field(default_factory=list)
    dsp_buf: list[tuple[Task, int, int, int]] = field(default_factory=list)
    dsp_progress: int = 0
    events: dict[str, int] = field(default_factory=dict)
    dump_lines: list[str] = field(default_factory=list)
    #: CPU of the op that requested the exit (-1: none), whose current task the dump names.
    exit_cpu: int = -1
    log: list[str] = field(default_factory=list)
    exit_info_alloc: Any = None
    _tramp: dict[str, Any] = field(default_factory=dict)
    _run_tramp: Any = None
    _masks: dict[str, int] = field(default_factory=dict)  # op -> its SX-K1 kf mask (ops present only)
    _vm: Any = None
    _order_cache: dict[tuple[tuple[int, ...], int | None], list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kd = self.kdata
        self.name = kd.read_str("name")
        self.flags = kd.read_int("flags")
        tmo = kd.read_int("timeout_ms")
        self.timeout_ns = (tmo or C.SCX_WATCHDOG_MAX_TIMEOUT_MS) * 1_000_000
        self.max_batch = kd.read_int("dispatch_max_batch") or C.SCX_DSP_DFL_MAX_BATCH
        self.exit_dump_len = kd.read_int("exit_dump_len") or C.SCX_EXIT_DUMP_DFL_LEN
        names = [m.name for m in kd.desc.type.members]
        self.ops = frozenset(n for n in names if kd.desc.member_supported(names.index(n)) and kd.has(n))
        self.local = [Dsq(C.SCX_DSQ_LOCAL_ON | c, builtin=True, cpu=c) for c in range(self.machine.nr_cpus)]
        self.builtin_idle = "update_idle" not in self.ops or bool(self.flags & C.SCX_OPS_KEEP_BUILTIN_IDLE)
        # op -> trampoline, so a call skips the member lookups (kdata.call does the same)
        tramp = getattr(kd, "trampoline", None)
        self._tramp = {op: tramp(op) for op in self.ops} if tramp is not None else {}
        self._run_tramp = getattr(getattr(kd, "map", None), "kernel", None)
        self._masks = {op: C.op_mask(op) for op in self.ops}
        self._vm = self.machine.vm

    # -- calling ops ---------------------------------------------------------------------
    def call(self, op: str, cpu: int, *args: int, tasks: tuple[Task, ...] = (), ddsp: Task | None = None) -> int:
        """Run op ``op`` with the kf mask of SX-K1 (nested masks accumulate)."""
        mask = self._masks.get(op)
        if mask is None:
            return 0
        ctx = self.ctx
        if ctx:
            mask |= ctx[-1].mask
        ctx.append(_Ctx(op, mask, tuple([x.addr for x in tasks]) if tasks else (), cpu, ddsp))
        vm = self._vm
        if vm is not None:
            saved_cpu = vm.cpu
            vm.cpu = cpu
        try:
            tr = self._tramp.get(op)
            kern = self._run_tramp
            if tr is not None and kern is not None:
                runner = tr.prog.runner
                if runner is not None and self.machine.in_rcu and not kern.stats.enabled:
                    # what run_trampoline does inside a read-side section with stats off
                    return int(runner(args))
                return int(kern.run_trampoline(tr, args))
            return self.kdata.call(op, *args)
        except VMFault as fault:
            self.error(C.SCX_EXIT_ERROR, f"ops.{op}() faulted: {fault}")
            return 0
        finally:
            ctx.pop()
            if vm is not None:
                vm.cpu = saved_cpu

    def kf_allowed(self, mask: int) -> bool:
        """``scx_kf_allowed``: the running op's mask must include one of ``mask`` (SX-K2)."""
        cur = self.ctx[-1].mask if self.ctx else 0
        if not cur & mask:
            self.error(C.SCX_EXIT_ERROR, f"kfunc with mask {mask:#x} called from an operation only allowing {cur:#x}")
            return False
        top = 1 << (mask.bit_length() - 1)
        for bit, what in ((C.SCX_KF_CPU_RELEASE, "cpu_release"), (C.SCX_KF_DISPATCH, "dispatch")):
            if top == bit and cur & ~((bit << 1) - 1) & 0x1F:
                self.error(C.SCX_EXIT_ERROR, f"{what} kfunc called from a nested operation")
                return False
        return True

    def sanitize(self, op: str, ret: int) -> int:
        """SX-E12: errnos in [-4095, -1] pass; anything else is an error and becomes -EPROTO."""
        if -4095 <= ret <= -1:
            return ret
        self.error(C.SCX_EXIT_ERROR, f"ops.{op}() returned an invalid errno {ret}")
        return -71

    def kf_allowed_if_unlocked(self, mask: int) -> bool:
        """Allowed from an unlocked context (no op) or from an op with ``mask``."""
        return not self.ctx or self.kf_allowed(mask)

    # -- exits -------------------------------------------------------------------------------
    def error(self, kind: int, msg: str, code: int = 0) -> None:
        """``scx_exit``: the first request wins (SX-E5); disabling follows the current event."""
        if self.exit.kind:
            return
        self.exit = ExitInfo(kind, code, C.EXIT_REASONS.get(kind, "<UNKNOWN>"), msg[: C.SCX_EXIT_MSG_LEN - 1])
        self.exit_cpu = self.ctx[-1].cpu if self.ctx else -1
        self.machine.defer_disable(self)

    # -- enable / disable ----------------------------------------------------------------
    def enable(self) -> None:
        """SX-R14: init, validate, init_task for every task, switch them to ext."""
        m = self.machine
        self.idle = {c.id for c in m.cpus if c.curr is None}
        ret = self.call("init", 0) if "init" in self.ops else 0
        ret = _s32(ret)
        if ret:
            self.error(C.SCX_EXIT_ERROR, f"ops.init() failed ({self.sanitize('init', ret)})")
            return
        self.exit.flags |= C.SCX_EFLAG_INITIALIZED
        if self.flags & C.SCX_OPS_ENQ_LAST and "enqueue" not in self.ops:
            self.error(C.SCX_EXIT_ERROR, "SCX_OPS_ENQ_LAST requires ops.enqueue() to be implemented")
            return
        from structops.kernel.subsys.sched_ext.cgroup import cgroup_init_all

        if not cgroup_init_all(self):  # SX-T30
            return
        for t in m.live_tasks():
            if not self.init_task(t, fork=False):
                return
        if self.flags & C.SCX_OPS_SWITCH_PARTIAL:
            return
        for t in m.live_tasks():
            self.switch_in(t)

    def init_task(self, t: Task, *, fork: bool) -> bool:
        """``scx_init_task`` (SX-T3, SX-T28)."""
        from structops.kernel.subsys.sched_ext.consts import NICE_TO_WEIGHT, scx_weight

        t.scx = ScxTask(runnable_at=self.machine.now)
        assert t.layout is not None
        t.set_u32(t.layout.weight, scx_weight(NICE_TO_WEIGHT[t.nice + 20]))
        t.slice = C.SCX_SLICE_DFL
        if "init_task" in self.ops:
            args = self.machine.scratch(16)
            args.buf[0] = int(fork)
            struct.pack_into("<Q", args.buf, 8, getattr(t.cgroup, "addr", 0))  # args->cgroup
            ret = _s32(self.call("init_task", t.cpu, t.addr, args.addr, tasks=(t,)))
            if ret:
                err = self.sanitize("init_task", ret)
                self.error(C.SCX_EXIT_ERROR, f"ops.init_task() failed ({err}) for {t.comm}[{t.pid}]")
                return False
        t.scx.state = TASK_READY
        return True

    def switch_in(self, t: Task) -> None:
        """A task enters the ext class (SX-T26); a queued one is enqueued through BPF."""
        m = self.machine
        was_queued = t.on_rq and not t.running
        if was_queued:
            m.fair.dequeue(t)
        t.sched_class = "scx"
        t.slice = C.SCX_SLICE_DFL
        self.call("enable", t.cpu, t.addr, tasks=(t,))
        t.scx.state = TASK_ENABLED
        if "set_weight" in self.ops:
            assert t.layout is not None
            w = struct.unpack_from("<I", t.kstruct.buf, t.layout.weight)[0]  # type: ignore[union-attr]
            self.call("set_weight", t.cpu, t.addr, w, tasks=(t,))
        if "set_cpumask" in self.ops:
            assert t.layout is not None
            self.call("set_cpumask", t.cpu, t.addr, t.addr + t.layout.cpus_mask, tasks=(t,))
        if was_queued:
            self.enqueue_task(t, 0)
        elif t.running:
            t.scx.queued = True

    def disable(self) -> None:
        """SX-R16: every task back to the fair class, exit_task, ``ops.exit(ei)``."""
        if self.disabled:
            return
        if self.exit.kind >= C.SCX_EXIT_ERROR and not self.exit.dump:  # SX-E5 step 3, before disabling
            from structops.kernel.subsys.sched_ext.dump import debug_dump

            self.exit.dump = debug_dump(self, self.exit_cpu)
        self.disabled = True
        if not self.exit.kind:
            self.exit = ExitInfo(C.SCX_EXIT_UNREG, 0, C.EXIT_REASONS[C.SCX_EXIT_UNREG], "")
        m = self.machine
        from structops.kernel.subsys.sched_ext.cgroup import cgroup_exit_all

        cgroup_exit_all(self)  # SX-R16 step 5
        for t in m.live_tasks():
            st: ScxTask | None = t.scx
            if st is None:
                continue
            if st.dsq is not None:
                st.dsq.remove(t)
                st.dsq = None
            st.owned = False
            if st.state == TASK_ENABLED:
                self.call("disable", t.cpu, t.addr, tasks=(t,))
            if st.state >= TASK_INIT:
                args = m.scratch(8)
                self.call("exit_task", t.cpu, t.addr, args.addr, tasks=(t,))
            t.scx = None
            if t.sched_class == "scx":
                t.sched_class = "fair"
                if t.on_rq and not t.running:
                    m.fair.enqueue(t, wakeup=False)
        self._call_exit()
        sev = "error" if self.exit.kind >= C.SCX_EXIT_ERROR else "info"
        self.log.append(f'sched_ext: BPF scheduler "{self.name}" disabled ({self.exit.reason}) [{sev}]')
        m.scheduler_gone(self)

    def _call_exit(self) -> None:
        m = self.machine
        from structops import btf as btflib

        ei_t = m.kernel.vmlinux.spec.find("scx_exit_info", btflib.Struct)
        ei = m.scratch(ei_t.size)
        reason = m.scratch(128)
        raw = self.exit.reason.encode()[:127]
        reason.buf[: len(raw)] = raw
        msg = m.scratch(C.SCX_EXIT_MSG_LEN)
        raw = self.exit.msg.encode()[: C.SCX_EXIT_MSG_LEN - 1]
        msg.buf[: len(raw)] = raw
        dump = m.scratch(max(1, self.exit_dump_len))
        raw = self.exit.dump.encode()[: self.exit_dump_len - 1]
        dump.buf[: len(raw)] = raw
        offs = {mm.name: mm.offset for mm in ei_t.members}
        struct.pack_into("<I", ei.buf, offs["kind"], self.exit.kind)
        struct.pack_into("<q", ei.buf, offs["exit_code"], _s64(self.exit.exit_code))
        struct.pack_into("<Q", ei.buf, offs["flags"], self.exit.flags)
        struct.pack_into("<Q", ei.buf, offs["reason"], reason.addr)
        struct.pack_into("<Q", ei.buf, offs["msg"], msg.addr)
        struct.pack_into("<Q", ei.buf, offs["dump"], dump.addr)
        self.call("exit", 0, ei.addr)

    # -- enqueue / dequeue ---------------------------------------------------------------
    def select_cpu(self, t: Task, prev: int, wake_flags: int) -> int:
        """``select_task_rq_scx`` (SX-T8-SX-T10)."""
        if len(t.affinity) <= 1 or self.bypass:
            return prev if t.allowed(prev) else t.affinity[0]
        if "select_cpu" in self.ops:
            st = t.scx
            st.ddsp = None
            cpu = _s32(self.call("select_cpu", prev, t.addr, prev, wake_flags, tasks=(t,), ddsp=t))
            if not 0 <= cpu < self.machine.nr_cpus:
                self.error(C.SCX_EXIT_ERROR, f"invalid CPU {cpu} from ops.select_cpu()")
                cpu = prev
            assert t.layout is not None
            t.set_u32(t.layout.selected_cpu, cpu)
            if not t.allowed(cpu):
                cpu = prev if t.allowed(prev) else t.affinity[0]
            return cpu
        cpu, is_idle = self.select_cpu_dfl(t, prev, wake_flags)
        if is_idle:
            t.slice = C.SCX_SLICE_DFL
            t.scx.ddsp = (C.SCX_DSQ_LOCAL, 0)
        return cpu

    def enqueue_task(self, t: Task, enq_flags: int) -> None:
        """``enqueue_task_scx`` (SX-T11)."""
        st: ScxTask = t.scx
        if st.queued:
            return
        st.queued = True
        st.runnable_at = self.machine.now
        self.call("runnable", t.cpu, t.addr, enq_flags, tasks=(t,))
        self.do_enqueue(t, enq_flags)

    def do_enqueue(self, t: Task, enq_flags: int) -> None:
        """``do_enqueue_task``: the first matching rule of SX-T12."""
        st: ScxTask = t.scx
        if self.bypass or self.exit.kind:
            self._refill(t)
            self.dispatch_enqueue(t, C.SCX_DSQ_GLOBAL, enq_flags, t.cpu)
            return
        if st.ddsp is not None:
            dsq_id, flags = st.ddsp
            st.ddsp = None
            self.dispatch_enqueue(t, dsq_id, flags | enq_flags, t.cpu)
            return
        if "enqueue" not in self.ops:
            self._refill(t)
            self.dispatch_enqueue(t, C.SCX_DSQ_GLOBAL, enq_flags, t.cpu)
            return
        st.owned = True
        st.qseq += 1
        self.call("enqueue", t.cpu, t.addr, enq_flags, tasks=(t,), ddsp=t)
        if st.ddsp is not None:
            dsq_id, flags = st.ddsp
            st.ddsp = None
            st.owned = False
            self.dispatch_enqueue(t, dsq_id, flags | enq_flags, t.cpu)

    def _refill(self, t: Task) -> None:
        t.slice = C.SCX_SLICE_DFL
        self.events["SCX_EV_REFILL_SLICE_DFL"] = self.events.get("SCX_EV_REFILL_SLICE_DFL", 0) + 1

    def dequeue(self, t: Task, deq_flags: int) -> None:
        """``dequeue_task_scx`` (SX-T14)."""
        st: ScxTask = t.scx
        if not st.queued:
            return
        if st.owned:
            self.call("dequeue", t.cpu, t.addr, deq_flags, tasks=(t,))
            st.owned = False
        if t.running:
            self.call("stopping", t.cpu, t.addr, 0, tasks=(t,))
        self.call("quiescent", t.cpu, t.addr, deq_flags, tasks=(t,))
        if st.dsq is not None:
            st.dsq.remove(t)
            st.dsq = None
        st.queued = False

    # -- inserting into DSQs ---------------------------------------------------------------
    def insert(self, t: Task, dsq_id: int, slice_ns: int, enq_flags: int, vtime: int | None) -> None:
        """``scx_bpf_dsq_insert[_vtime]`` (SX-K5, SX-K6, SX-D11-SX-D13)."""
        if enq_flags & C.SCX_ENQ_INTERNAL_MASK:
            self.error(C.SCX_EXIT_ERROR, f"invalid enq_flags {enq_flags:#x}")
            return
        if slice_ns:
            t.slice = slice_ns
        elif not t.slice:
            t.slice = 1
        if vtime is not None:
            t.dsq_vtime = vtime
            enq_flags |= 1 << 57  # SCX_ENQ_DSQ_PRIQ
        ctx = self.ctx[-1]
        if ctx.ddsp_task is not None and ctx.op in ("select_cpu", "enqueue"):
            if t is not ctx.ddsp_task:
                s = ctx.ddsp_task
                self.error(
                    C.SCX_EXIT_ERROR,
                    f"scheduling for {s.comm}[{s.pid}] but trying to direct-dispatch {t.comm}[{t.pid}]",
                )
                return
            if t.scx.ddsp is not None:
                self.error(C.SCX_EXIT_ERROR, f"{t.comm}[{t.pid}] already direct-dispatched")
                return
            t.scx.ddsp = (dsq_id, enq_flags)
            return
        if len(self.dsp_buf) >= self.max_batch:
            self.error(C.SCX_EXIT_ERROR, "dispatch buffer overflow")
            return
        self.dsp_buf.append((t, t.scx.qseq, dsq_id, enq_flags))

    def flush_dispatch(self, cpu: int) -> None:
        """Apply buffered dispatch inserts; stale ones are dropped silently (SX-D13)."""
        buf, self.dsp_buf = self.dsp_buf, []
        for t, qseq, dsq_id, flags in buf:
            st = t.scx
            if st is None or not st.owned or st.qseq != qseq or t.running:
                continue
            st.owned = False
            self.dispatch_enqueue(t, dsq_id, flags, cpu)
            self.dsp_progress += 1

    def find_dsq(self, t: Task, dsq_id: int, cpu: int) -> Dsq:
        """SX-D9: resolve a target id; bad targets fall back to the global DSQ with an error."""
        if dsq_id == C.SCX_DSQ_LOCAL:
            return self.local[cpu]
        if dsq_id & C.SCX_DSQ_LOCAL_ON == C.SCX_DSQ_LOCAL_ON:
            c = dsq_id & C.SCX_DSQ_LOCAL_CPU_MASK
            if c >= self.machine.nr_cpus:
                self.error(C.SCX_EXIT_ERROR, f"invalid CPU {c} in SCX_DSQ_LOCAL_ON dispatch verdict")
                return self.global_dsq
            return self.local[c]
        if dsq_id == C.SCX_DSQ_GLOBAL:
            return self.global_dsq
        d = self.dsqs.get(dsq_id)
        if d is None or d.dead:
            self.error(C.SCX_EXIT_ERROR, f"non-existent DSQ {dsq_id:#x} for {t.comm}[{t.pid}]")
            return self.global_dsq
        return d

    def dispatch_enqueue(self, t: Task, dsq_id: int, enq_flags: int, cpu: int) -> None:
        """Put ``t`` on the DSQ ``dsq_id`` names (migrating for remote local DSQs, SX-D10)."""
        d = self.find_dsq(t, dsq_id, cpu)
        target = d.cpu
        if target >= 0 and target != t.cpu:
            if not t.allowed(target):
                self.error(
                    C.SCX_EXIT_ERROR, f"SCX_DSQ_LOCAL[_ON] target CPU {target} not allowed for {t.comm}[{t.pid}]"
                )
                d = self.global_dsq
            else:
                self.machine.migrate(t, target)
        vt = bool(enq_flags & (1 << 57))
        if vt and d.builtin:
            self.error(C.SCX_EXIT_ERROR, "cannot use vtime ordering for built-in DSQs")
            vt = False
        elif vt and d.tasks and not d.priq:
            self.error(C.SCX_EXIT_ERROR, f"DSQ ID {d.id:#018x} already had FIFO-enqueued tasks")
        elif not vt and d.priq:
            self.error(C.SCX_EXIT_ERROR, f"DSQ ID {d.id:#018x} already had PRIQ-enqueued tasks")
            vt = True
        if vt:
            d.insert_vtime(t, t.dsq_vtime)
        else:
            d.insert_fifo(t, bool(enq_flags & (C.SCX_ENQ_HEAD | C.SCX_ENQ_PREEMPT)))
        t.scx.dsq = d
        c = d.cpu
        if c >= 0:
            curr = self.machine.cpus[c].curr
            if curr is None:
                self.machine.resched(c)
            elif enq_flags & C.SCX_ENQ_PREEMPT and curr is not t and curr.sched_class == "scx":
                curr.slice = 0
                self.machine.resched(c)

    # -- balance / pick ------------------------------------------------------------------
    def _eligible(self, t: Task, cpu: int) -> bool:
        return t.allowed(cpu) and not t.running

    def consume(self, d: Dsq, cpu: int) -> bool:
        """Move the first task of ``d`` that may run on ``cpu`` to its local DSQ."""
        for t in d.tasks:
            if self._eligible(t, cpu):
                d.remove(t)
                t.scx.dsq = None
                if t.cpu != cpu:
                    self.machine.migrate(t, cpu)
                self.local[cpu].insert_fifo(t, False)
                t.scx.dsq = self.local[cpu]
                return True
        return False

    def balance(self, cpu: int, prev: Task | None) -> bool:
        """SX-D14: True keeps ``prev`` running; otherwise the local DSQ has the next task or is empty."""
        prev_scx = prev is not None and prev.sched_class == "scx" and prev.scx is not None
        prev_on_rq = prev_scx and prev is not None and prev.scx.queued
        if prev_on_rq and prev is not None and prev.slice > 0 and not self.bypass:
            return True
        if self.local[cpu].tasks or self.consume(self.global_dsq, cpu):
            return False
        if "dispatch" in self.ops and not self.bypass and not self.exit.kind:
            for _ in range(C.SCX_DSP_MAX_LOOPS):
                self.dsp_progress = 0
                self.call("dispatch", cpu, cpu, prev.addr if prev_scx and prev is not None else 0)
                self.flush_dispatch(cpu)
                if prev_on_rq and prev is not None and prev.slice > 0:
                    return True
                if self.local[cpu].tasks or self.consume(self.global_dsq, cpu):
                    return False
                if not self.dsp_progress or self.exit.kind:
                    break
        if prev_on_rq and prev is not None and (not self.flags & C.SCX_OPS_ENQ_LAST or self.bypass):
            if not prev.slice:
                self._refill(prev)
            return True
        return False

    def put_prev(self, cpu: int, prev: Task, *, cpu_will_idle: bool) -> None:
        """SX-T16: a still-runnable ``prev`` is switched out."""
        self.call("stopping", cpu, prev.addr, 1, tasks=(prev,))
        prev.scx.runnable_at = self.machine.now
        if self.exit.kind:
            self._refill(prev)
            self.dispatch_enqueue(prev, C.SCX_DSQ_GLOBAL, 0, cpu)
        elif prev.slice > 0 and not self.bypass:
            self.dispatch_enqueue(prev, C.SCX_DSQ_LOCAL, C.SCX_ENQ_HEAD, cpu)
        elif cpu_will_idle and self.flags & C.SCX_OPS_ENQ_LAST:
            self.do_enqueue(prev, C.SCX_ENQ_LAST)
        else:
            self.do_enqueue(prev, 0)

    def pick(self, cpu: int) -> Task | None:
        """Take the head of the local DSQ (SX-D16) and call ``ops.running``."""
        d = self.local[cpu]
        if not d.tasks:
            return None
        t = d.pop(0)
        t.scx.dsq = None
        if not t.slice:
            self._refill(t)
        return t

    def running(self, cpu: int, t: Task) -> None:
        """``ops.running(p)`` as ``t`` becomes current."""
        self.call("running", cpu, t.addr, tasks=(t,))

    def tick(self, cpu: int, t: Task) -> None:
        """SX-T17: ``ops.tick``; a zero slice reschedules."""
        self.call("tick", cpu, t.addr, tasks=(t,))
        if t.slice == 0:
            self.machine.resched(cpu)

    def kick(self, cpu: int, flags: int) -> None:
        """``scx_bpf_kick_cpu`` (SX-K17)."""
        if not 0 <= cpu < self.machine.nr_cpus:
            self.error(C.SCX_EXIT_ERROR, f"invalid cpu {cpu}")
            return
        if flags & C.SCX_KICK_IDLE and flags & (C.SCX_KICK_PREEMPT | C.SCX_KICK_WAIT):
            self.error(C.SCX_EXIT_ERROR, "PREEMPT/WAIT cannot be used with SCX_KICK_IDLE")
            return
        if self.bypass:
            return
        curr = self.machine.cpus[cpu].curr
        if flags & C.SCX_KICK_IDLE:
            if curr is None:
                self.machine.resched(cpu)
            return
        if flags & C.SCX_KICK_PREEMPT and curr is not None and curr.sched_class == "scx":
            curr.slice = 0
        self.machine.resched(cpu)

    # -- watchdog ------------------------------------------------------------------------
    def watchdog(self) -> None:
        """SX-E7: a runnable task that has not run within the timeout ejects the scheduler."""
        now = self.machine.now
        for t in self.machine.live_tasks():
            st = t.scx
            if st is None or not st.queued or t.running or t.sched_class != "scx":
                continue
            waited = now - st.runnable_at
            if waited > self.timeout_ns:
                ms = waited // 1_000_000
                self.error(C.SCX_EXIT_ERROR_STALL, f"{t.comm}[{t.pid}] failed to run for {ms // 1000}.{ms % 1000:03d}s")
                return


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v
