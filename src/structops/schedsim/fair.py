"""A CFS-like fair class: per-CPU runqueues ordered by weighted vruntime, idle pulls.

Used when no BPF scheduler is attached and for every task after a scheduler exits
(SX-R17).  vruntime advances by ``delta * 1024 / load_weight``; a waking task is placed
no further back than ``min_vruntime - sched_latency/2``; the tick preempts the current
task once it ran its share of the 6 ms latency period (at least 0.75 ms) and a waiting
task has less vruntime; idle CPUs pull from the busiest runqueue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from structops.schedsim.machine import Machine
    from structops.schedsim.model import Cpu, Task

__all__ = ["FairClass"]

LATENCY_NS = 6_000_000
MIN_GRAN_NS = 750_000
WAKEUP_GRAN_NS = 1_000_000


class FairClass:
    """The fair class of one :class:`~structops.schedsim.machine.Machine`."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine

    def select_cpu(self, t: Task, prev: int) -> int:
        """Wake-up placement: an idle allowed CPU (prev first), else the least loaded."""
        cpus = self.m.cpus
        if t.allowed(prev) and cpus[prev].curr is None and not cpus[prev].fair_rq:
            return prev
        for c in t.affinity:
            if cpus[c].curr is None and not cpus[c].fair_rq:
                return c
        return min(t.affinity, key=lambda c: (len(cpus[c].fair_rq) + (cpus[c].curr is not None), c != prev, c))

    def enqueue(self, t: Task, *, wakeup: bool) -> None:
        """Queue ``t`` on its CPU's runqueue."""
        rq = self.m.cpus[t.cpu]
        if wakeup:
            t.vruntime = max(t.vruntime, rq.min_vruntime - LATENCY_NS // 2)
        rq.fair_rq.append(t)

    def dequeue(self, t: Task) -> None:
        """Remove a waiting ``t`` from its runqueue."""
        rq = self.m.cpus[t.cpu]
        if t in rq.fair_rq:
            rq.fair_rq.remove(t)

    def charge(self, t: Task, delta: int) -> None:
        """Advance ``t``'s vruntime for ``delta`` ns of running."""
        t.vruntime += delta * 1024 // max(1, t.load_weight)

    def pick(self, cpu: Cpu) -> Task | None:
        """The waiting task with the least vruntime (pulling one when the runqueue is empty)."""
        if not cpu.fair_rq:
            self._pull(cpu)
        if not cpu.fair_rq:
            return None
        t = min(cpu.fair_rq, key=lambda x: (x.vruntime, x.pid))
        cpu.fair_rq.remove(t)
        cpu.min_vruntime = max(cpu.min_vruntime, t.vruntime)
        return t

    def _pull(self, cpu: Cpu) -> None:
        best = None
        for other in self.m.cpus:
            if other is cpu or not other.fair_rq:
                continue
            cand = [t for t in other.fair_rq if t.allowed(cpu.id)]
            if cand and (best is None or len(other.fair_rq) > len(best[0].fair_rq)):
                best = (other, min(cand, key=lambda x: (x.vruntime, x.pid)))
        if best is not None:
            other, t = best
            other.fair_rq.remove(t)
            t.vruntime += cpu.min_vruntime - other.min_vruntime
            self.m.migrate(t, cpu.id)
            cpu.fair_rq.append(t)

    def should_preempt_tick(self, cpu: Cpu, curr: Task) -> bool:
        """Tick preemption: the current task used its share and someone waits with less vruntime."""
        if not cpu.fair_rq:
            return False
        total = curr.load_weight + sum(t.load_weight for t in cpu.fair_rq)
        share = max(MIN_GRAN_NS, LATENCY_NS * curr.load_weight // total)
        ran = self.m.now - curr.fair_slice_start
        best = min(t.vruntime for t in cpu.fair_rq)
        return ran >= share and best < curr.vruntime

    def wakeup_preempt(self, cpu: Cpu, t: Task) -> bool:
        """A waking fair task preempts a fair current task far enough ahead in vruntime."""
        curr = cpu.curr
        if curr is None:
            return True
        if curr.sched_class != "fair":
            return False
        return t.vruntime + WAKEUP_GRAN_NS < curr.vruntime
