"""The simulated machine: CPUs, tasks and one simulated clock, scheduled by fair or sched_ext.

Discrete events in time order (ties broken by insertion order, so a seed gives one trace):
task start/exit, the end of a run burst (the task sleeps), wakeups, the scheduler tick
(every 1/HZ on every CPU), the sched_ext watchdog (every timeout/2) and reschedules.
BPF programs see this clock through every time helper and ``scx_bpf_now`` (the VM's
``clock_ns`` is bound to it while the machine lives), as time since boot: the machine has
been up :data:`BOOT_NS` when the simulation starts (a scheduler is never loaded at
``sched_clock() == 0``; scx_pair's first batch expiry relies on it).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structops.kernel.subsys.sched_ext import consts as C
from structops.schedsim.fair import FairClass
from structops.schedsim.model import Cpu, Task, task_layout

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.kmem import Allocation
    from structops.kernel.subsys.sched_ext.core import ScxSched

__all__ = ["BOOT_NS", "Machine"]

TICK_NS = 1_000_000_000 // C.HZ
#: Uptime at simulated time 0: what ``bpf_ktime_get_ns`` / ``scx_bpf_now`` read then.
BOOT_NS = 10_000_000_000
#: Events run per RCU read-side section (bounds how long ``call_rcu`` frees wait).
_BATCH = 256


class Machine:
    """``nr_cpus`` CPUs (``smt`` threads per core, ``llc_size`` CPUs per LLC) on ``kernel``."""

    #: Uptime at simulated time 0 (what BPF clocks read then).
    boot_ns: int = BOOT_NS

    def __init__(
        self, kernel: EmulatedKernel, nr_cpus: int = 4, *, smt: int = 1, llc_size: int = 0, seed: int = 0
    ) -> None:
        if nr_cpus < 1 or nr_cpus > 256:
            raise ValueError(f"cpus must be between 1 and 256 (NR_CPUS), not {nr_cpus}")
        if smt < 1 or nr_cpus % smt:
            raise ValueError(f"smt {smt} must divide the number of CPUs {nr_cpus}")
        self.kernel = kernel
        self.nr_cpus = nr_cpus
        self.smt = smt > 1
        llc = llc_size or nr_cpus
        self.cpus = [Cpu(i, i // smt, i // llc) for i in range(nr_cpus)]
        self._siblings = {c.id: tuple(o.id for o in self.cpus if o.core == c.core) for c in self.cpus}
        self.tasks: list[Task] = []
        self._by_addr: dict[int, Task] = {}
        self.now = 0
        self.rng = random.Random(seed)
        self._events: list[tuple[int, int, str, Any]] = []
        self._seq = 0
        self.fair = FairClass(self)
        self.scx: ScxSched | None = None
        self._pending_disable: ScxSched | None = None
        self._scratch: list[Allocation] = []
        self.trace: list[tuple[int, int, int, int]] = []  # (cpu, start, end, pid)
        self.exits: list[Any] = []
        self.layout = task_layout(kernel.vmlinux.spec.find("task_struct", _struct()))
        from structops.schedsim.cgroups import CgroupTree

        self.cgroups = CgroupTree(kernel)
        self._next_pid = 1000
        self._tick_armed = False
        #: True while events run inside the machine's RCU read-side section (see :meth:`run`).
        self.in_rcu = False
        self._watchdog_armed = False
        self._handlers: dict[str, Callable[[Any], None]] = {
            "tick": self._ev_tick,
            "watchdog": self._ev_watchdog,
            "start": self._ev_start,
            "exit": self._ev_exit,
            "burst": self._ev_burst,
            "wake": self._ev_wake,
            "user": self._ev_user,
            "yield": self._ev_yield,
        }
        self._bind_clock()
        self._push(0, "tick", None)

    # -- plumbing ------------------------------------------------------------------------
    def _bind_clock(self) -> None:
        vm = getattr(getattr(self.kernel, "executor", None), "vm", None)
        self.vm: Any = vm
        self._saved_clock: Callable[[], int] | None = None
        self._saved_random: Any = None
        if vm is not None:
            self._saved_clock = vm.clock_ns
            vm.clock_ns = lambda: self.now + self.boot_ns  # ktime since boot (bpf_ktime_get_ns, timers)
            self._saved_random = vm.random
            vm.random = random.Random(self.rng.getrandbits(64))
            from structops.kernel.maps.timer import drive_timers  # bpf_timer callbacks on this clock

            def arm(when: int) -> None:  # a deadline on the BPF clock, an event on the machine's
                self._push(max(when - self.boot_ns, self.now), "bpf_timer", 0)

            self._handlers["bpf_timer"] = drive_timers(vm, arm)

    def close(self) -> None:
        """Give the VM its clock back and free every kernel allocation of the machine."""
        if self.vm is not None and self._saved_clock is not None:
            self.vm.clock_ns = self._saved_clock
            self.vm.random = self._saved_random
            self._saved_clock = None
            from structops.kernel.maps.timer import timers_of

            timers_of(self.vm).on_arm = None
        for t in self.tasks:
            if t.kstruct is not None:
                self.kernel.kmem.free(t.kstruct)
        for a in self._scratch:
            self.kernel.kmem.free(a)
        self._scratch = []
        self.cgroups.close()

    def scratch(self, size: int) -> Allocation:
        """A zeroed kernel allocation for op arguments (freed with the machine)."""
        a = self.kernel.kmem.alloc(size, "sched scratch")
        self._scratch.append(a)
        if len(self._scratch) > 64:
            self.kernel.kmem.free(self._scratch.pop(0))
        return a

    def _push(self, when: int, kind: str, data: Any) -> None:
        self._seq += 1
        heapq.heappush(self._events, (when, self._seq, kind, data))

    def siblings(self, cpu: int) -> tuple[int, ...]:
        """SMT siblings of ``cpu`` (itself included)."""
        return self._siblings[cpu]

    def live_tasks(self) -> list[Task]:
        """Tasks that started and have not exited."""
        return [t for t in self.tasks if t.started and not t.dead]

    def task_by_addr(self, addr: int) -> Task | None:
        """The task whose ``task_struct`` is at ``addr``."""
        return self._by_addr.get(addr)

    def task_by_pid(self, pid: int) -> Task | None:
        """The live task with ``pid``."""
        for t in self.tasks:
            if t.pid == pid and t.started and not t.dead:
                return t
        return None

    # -- tasks ---------------------------------------------------------------------------
    def add_task(
        self,
        comm: str,
        *,
        group: str = "",
        nice: int = 0,
        affinity: tuple[int, ...] | None = None,
        run_ns: int | None = None,
        sleep_ns: int = 0,
        start_ns: int = 0,
        exit_ns: int | None = None,
        load_weight: int | None = None,
        cgroup: Any = None,
    ) -> Task:
        """Create a task that starts at ``start_ns`` (CPU-bound when ``run_ns`` is None)."""
        aff = tuple(sorted(set(affinity))) if affinity else tuple(range(self.nr_cpus))
        if any(not 0 <= c < self.nr_cpus for c in aff):
            raise ValueError(f"affinity {list(aff)} names a CPU outside 0..{self.nr_cpus - 1}")
        if not -20 <= nice <= 19:
            raise ValueError(f"nice {nice} is outside -20..19")
        self._next_pid += 1
        w = load_weight if load_weight is not None else C.NICE_TO_WEIGHT[nice + 20]
        t = Task(self._next_pid, comm, group or comm, nice, w, aff, run_ns, sleep_ns, start_ns, exit_ns)
        t.cpu = aff[(self._next_pid) % len(aff)]
        t.cgroup = cgroup if cgroup is not None else self.cgroups.root
        t.attach_struct(self.kernel.kmem, self.layout)
        self._by_addr[t.addr] = t
        self.tasks.append(t)
        self._push(start_ns, "start", t)
        if exit_ns is not None:
            self._push(exit_ns, "exit", t)
        return t

    def migrate(self, t: Task, cpu: int) -> None:
        """Move ``t`` to ``cpu`` (counts a migration)."""
        if t.cpu != cpu:
            t.cpu = cpu
            t.nr_migrations += 1

    def resched(self, cpu: int) -> None:
        """Ask ``cpu`` to reschedule after the current event."""
        self.cpus[cpu].need_resched = True

    # -- sched_ext hooks -----------------------------------------------------------------
    def defer_disable(self, sch: ScxSched) -> None:
        """An exit was requested: disable once the current event is done."""
        self._pending_disable = sch

    def attach_scx(self, sch: ScxSched) -> None:
        """A scheduler was registered: enable it on this machine."""
        self.scx = sch
        sch.enable()
        if not self._watchdog_armed:
            self._watchdog_armed = True
            self._push(self.now + sch.timeout_ns // 2, "watchdog", sch)
        self._after_event()

    def detach_scx(self, sch: ScxSched) -> None:
        """Unregistration (SX-R13): disable synchronously."""
        sch.error(C.SCX_EXIT_UNREG, "")
        self._pending_disable = None
        sch.disable()
        self._after_event()

    def scheduler_gone(self, sch: ScxSched) -> None:
        """The disable sequence finished: everything runs on fair again."""
        self.exits.append(sch.exit)
        if self.scx is sch:
            self.scx = None
        for c in self.cpus:
            c.need_resched = True

    # -- the event loop ------------------------------------------------------------------
    def run(self, duration_ns: int, progress: Callable[[int], None] | None = None) -> None:
        """Advance the simulated clock by ``duration_ns``.

        Events run in batches inside one RCU read-side section (the kernel calls
        scheduler ops with the runqueue lock held, which is one too), so the ops they
        call do not each take and drop it; ``progress`` is called outside it.
        """
        end = self.now + duration_ns
        events = self._events
        rcu = getattr(self.kernel, "rcu", None)
        while events and events[0][0] <= end:
            if rcu is None:
                tick = self._run_batch(end, progress is not None)
            else:
                with rcu.read_lock():
                    self.in_rcu = True
                    try:
                        tick = self._run_batch(end, progress is not None)
                    finally:
                        self.in_rcu = False
            if tick is not None and progress is not None:
                progress(tick)
        self.now = end
        for c in self.cpus:
            self._account(c)

    def _run_batch(self, end: int, report: bool) -> int | None:
        """Run up to ``_BATCH`` events due by ``end``; a tick at a 100 ms mark to report ends it."""
        events = self._events
        handlers = self._handlers
        pop = heapq.heappop
        after = self._after_event
        for _ in range(_BATCH):
            if not events or events[0][0] > end:
                return None
            when, _, kind, data = pop(events)
            self.now = when
            handlers[kind](data)
            after()
            if report and kind == "tick" and when % 100_000_000 == 0:
                return when
        return None

    def flush_timeline(self) -> None:
        """Close the running slices so every CPU's timeline reaches ``now``."""
        for c in self.cpus:
            if c.curr is not None and c.run_start < self.now:
                c.timeline.append((c.run_start, self.now, c.curr.pid))
                c.run_start = self.now

    def _after_event(self) -> None:
        for _ in range(4):
            if self._pending_disable is not None:
                sch, self._pending_disable = self._pending_disable, None
                sch.disable()
            busy = False
            for c in self.cpus:
                if c.need_resched:
                    busy = True
                    c.need_resched = False
                    self._schedule(c)
            if not busy and self._pending_disable is None:
                return

    def _account(self, cpu: Cpu) -> None:
        t = cpu.curr
        delta = self.now - cpu.last_account
        cpu.last_account = self.now
        if t is None or delta <= 0:
            return
        t.runtime_ns += delta
        t.add_exec_runtime(delta)
        cpu.busy_ns += delta
        if t.sched_class == "scx":
            s = t.slice
            if s != C.SCX_SLICE_INF:
                t.slice = max(0, s - delta)
        else:
            self.fair.charge(t, delta)
        if t.run_ns is not None:
            t.burst_left = max(0, t.burst_left - delta)

    def _ev_tick(self, _: Any) -> None:
        for c in self.cpus:
            t = c.curr
            if t is None:
                if (
                    c.fair_rq
                    or any(o.fair_rq for o in self.cpus)
                    or (self.scx is not None and self.scx.global_dsq.tasks)
                ):
                    c.need_resched = True
                continue
            self._account(c)
            if t.sched_class == "scx" and self.scx is not None:
                self.scx.tick(c.id, t)
            elif self.fair.should_preempt_tick(c, t):
                c.need_resched = True
        self._push(self.now + TICK_NS, "tick", None)

    def _ev_watchdog(self, sch: ScxSched) -> None:
        if self.scx is sch and not sch.disabled:
            sch.watchdog()
            self._push(self.now + sch.timeout_ns // 2, "watchdog", sch)
        else:
            self._watchdog_armed = False

    def _ev_start(self, t: Task) -> None:
        t.started = True
        if self.scx is not None and not self.scx.exit.kind:
            if not self.scx.init_task(t, fork=True):
                return
            if not self.scx.flags & C.SCX_OPS_SWITCH_PARTIAL:
                t.sched_class = "scx"
                self.scx.call("enable", t.cpu, t.addr, tasks=(t,))
                t.scx.state = 3
        self._wake(t, C.SCX_WAKE_FORK)

    def _ev_exit(self, t: Task) -> None:
        if t.dead or not t.started:
            t.dead = True
            return
        self._sleep(t, dead=True)

    def _ev_burst(self, data: tuple[Task, int]) -> None:
        t, token = data
        if t.run_token != token or not t.running or t.dead:
            return
        c = self.cpus[t.cpu]
        self._account(c)
        if t.burst_left > 0:
            self._arm_burst(t)
            return
        self._sleep(t, dead=False)

    def _ev_wake(self, t: Task) -> None:
        if not t.dead and not t.on_rq:
            self._wake(t, C.SCX_WAKE_TTWU)

    def _sleep(self, t: Task, *, dead: bool) -> None:
        c = self.cpus[t.cpu]
        if t.running:
            self._account(c)
        if t.on_rq:
            if t.sched_class == "scx" and self.scx is not None and t.scx is not None:
                self.scx.dequeue(t, C.SCX_DEQ_SLEEP)
            elif not t.running:
                self.fair.dequeue(t)
        t.on_rq = False
        if t.wait_since is not None:
            t.wait_since = None
        if t.running:
            self._stop_running(c, t)
            c.need_resched = True
        if dead:
            t.dead = True
            from structops.kernel.maps.sk_storage import TaskStorageMap

            TaskStorageMap.free_owner(self.kernel, t.addr)
            if t.scx is not None and self.scx is not None:
                st = t.scx
                if st.state == 3:
                    self.scx.call("disable", t.cpu, t.addr, tasks=(t,))
                args = self.scratch(8)
                self.scx.call("exit_task", t.cpu, t.addr, args.addr, tasks=(t,))
                t.scx = None
        elif t.run_ns is not None:
            self._push(self.now + max(1, t.sleep_ns), "wake", t)

    def _wake(self, t: Task, wake_flags: int) -> None:
        t.on_rq = True
        if t.run_ns is not None:
            t.burst_left = t.run_ns
        t.wait_since = self.now
        prev = t.cpu
        if t.sched_class == "scx" and self.scx is not None:
            cpu = self.scx.select_cpu(t, prev, wake_flags)
            self.migrate(t, cpu)
            # select_task_rq runs (WF_RQ_SELECTED -> SCX_ENQ_CPU_SELECTED) only for a task
            # allowed on more than one CPU
            selected = C.SCX_ENQ_CPU_SELECTED if len(t.affinity) > 1 else 0
            self.scx.enqueue_task(t, C.SCX_ENQ_WAKEUP | selected)
            if self.cpus[t.cpu].curr is None:
                self.resched(t.cpu)
        else:
            t.sched_class = "fair"
            cpu = self.fair.select_cpu(t, prev)
            self.migrate(t, cpu)
            self.fair.enqueue(t, wakeup=True)
            if self.fair.wakeup_preempt(self.cpus[cpu], t):
                self.resched(cpu)

    def _stop_running(self, c: Cpu, t: Task) -> None:
        t.running = False
        t.run_token += 1
        c.curr = None
        if c.run_start < self.now:
            c.timeline.append((c.run_start, self.now, t.pid))

    def _start_running(self, c: Cpu, t: Task) -> None:
        t.running = True
        t.run_token += 1
        t.nr_switches += 1
        if t.wait_since is not None:
            w = self.now - t.wait_since
            t.wait_ns += w
            t.waits.append(w)
            t.wait_since = None
        c.curr = t
        c.run_start = self.now
        c.last_account = self.now
        t.fair_slice_start = self.now
        if t.run_ns is not None:
            self._arm_burst(t)
        if t.user_fn is not None:
            self._push(self.now, "user", (t, t.run_token))

    def _ev_user(self, data: tuple[Task, int]) -> None:
        """A user-space task got the CPU: run one pass of its program, then it yields."""
        t, token = data
        if t.run_token != token or not t.running or t.dead or t.user_fn is None:
            return
        cost = max(1, int(t.user_fn()))
        self._push(self.now + cost, "yield", (t, token))

    def _ev_yield(self, data: tuple[Task, int]) -> None:
        """``sched_yield()``: sched_ext calls ``ops.yield`` or zeroes the slice (yield_task_scx)."""
        t, token = data
        if t.run_token != token or not t.running or t.dead:
            return
        c = self.cpus[t.cpu]
        self._account(c)
        sch = self.scx
        if t.sched_class == "scx" and sch is not None and not sch.disabled:
            if "yield" in sch.ops:
                sch.call("yield", c.id, t.addr, 0, tasks=(t,))
            else:
                t.slice = 0
        c.need_resched = True
        # sched_yield() returns once the task has the CPU again; if this reschedule keeps it
        # (its own dispatch refilled its slice), its loop goes on with the next pass
        self._push(self.now, "user", (t, token))

    def _arm_burst(self, t: Task) -> None:
        self._push(self.now + max(1, t.burst_left), "burst", (t, t.run_token))

    def _schedule(self, c: Cpu) -> None:
        """``__schedule`` on one CPU: balance, put the previous task, pick the next."""
        self._account(c)
        prev = c.curr
        sch = self.scx
        was_idle = prev is None
        if prev is not None and prev.sched_class == "scx" and sch is not None and prev.scx is not None:
            fair_next = bool(c.fair_rq)
            if not fair_next and sch.balance(c.id, prev):
                return  # keep running prev
            self._stop_running(c, prev)
            if prev.on_rq:
                prev.wait_since = self.now
                sch.put_prev(c.id, prev, cpu_will_idle=not sch.local[c.id].tasks)
        elif prev is not None:
            nxt = self.fair.pick(c) if c.fair_rq else None
            if nxt is None and prev.on_rq and not (sch is not None and sch.local[c.id].tasks):
                return
            self._stop_running(c, prev)
            if prev.on_rq:
                prev.wait_since = self.now
                self.fair.enqueue(prev, wakeup=False)
            if nxt is not None:
                self._start_running(c, nxt)
                return
        nxt = self.fair.pick(c)
        if nxt is None and sch is not None and not sch.disabled:
            if prev is None or prev.sched_class != "scx":
                sch.balance(c.id, None)
            nxt = sch.pick(c.id)
            if nxt is not None:
                self._start_running(c, nxt)
                if nxt is not prev:
                    sch.running(c.id, nxt)
                if was_idle:
                    sch.set_idle(c.id, False, notify=True)
                return
        if nxt is not None:
            self._start_running(c, nxt)
            if was_idle and sch is not None:
                sch.set_idle(c.id, False, notify=True)
            return
        if sch is not None:
            sch.set_idle(c.id, True, notify=not was_idle)


def _struct() -> type:
    from structops import btf as btflib

    return btflib.Struct
