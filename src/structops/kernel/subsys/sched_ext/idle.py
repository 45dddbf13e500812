"""Built-in idle tracking and the default CPU selection of sched_ext (SX-I1-SX-I6).

A mixin of :class:`~structops.kernel.subsys.sched_ext.core.ScxSched`: the idle CPU set
(all online CPUs at enable, updated when a CPU switches to or from the idle task),
claiming (test-and-clear), SMT-core awareness, ``scx_pick_idle_cpu`` and
``scx_select_cpu_dfl`` on the simulated topology (one LLC, one node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structops.kernel.subsys.sched_ext import consts as C

if TYPE_CHECKING:
    from structops.schedsim.machine import Machine
    from structops.schedsim.model import Task

__all__ = ["IdleTracking"]


class IdleTracking:
    """Idle CPU mask, claims and the built-in CPU selection."""

    machine: Machine
    idle: set[int]
    ops: frozenset[str]
    bypass: int
    _order_cache: dict[tuple[tuple[int, ...], int | None], list[int]]

    def call(self, op: str, cpu: int, *args: int, tasks: tuple[Any, ...] = (), ddsp: Any = None) -> int:
        raise NotImplementedError

    def set_idle(self, cpu: int, idle: bool, *, notify: bool) -> None:
        """The CPU switched to (or from) the idle task."""
        if idle:
            self.idle.add(cpu)
        else:
            self.idle.discard(cpu)
        if notify and "update_idle" in self.ops and not self.bypass:
            self.call("update_idle", cpu, cpu, int(idle))

    def claim(self, cpu: int) -> bool:
        """Test-and-clear the idle bit of ``cpu``."""
        if cpu in self.idle:
            self.idle.discard(cpu)
            return True
        return False

    def core_idle(self, cpu: int) -> bool:
        """Every SMT sibling of ``cpu`` is idle."""
        return all(c in self.idle for c in self.machine.siblings(cpu))

    def pick_idle(self, allowed: tuple[int, ...] | list[int], flags: int, near: int | None = None) -> int:
        """``scx_pick_idle_cpu``: a fully idle core first, then any idle CPU; claims it."""
        order = self._pick_order(tuple(allowed), near)
        if self.machine.smt:
            for c in order:
                if self.core_idle(c) and self.claim(c):
                    return c
            if flags & C.SCX_PICK_IDLE_CORE:
                return -16
        for c in order:
            if self.claim(c):
                return c
        return -16  # -EBUSY

    def _pick_order(self, allowed: tuple[int, ...], near: int | None) -> list[int]:
        """``allowed`` in search order: CPUs sharing ``near``'s LLC first, each part by id (cached)."""
        cpus = self.machine.cpus
        llc = cpus[near].llc if near is not None else None
        order = self._order_cache.get((allowed, llc))
        if order is None:
            order = self._order_cache[(allowed, llc)] = sorted(
                allowed, key=lambda c: (llc is not None and cpus[c].llc != llc, c)
            )
        return order

    def select_cpu_dfl(self, t: Task, prev: int, wake_flags: int) -> tuple[int, bool]:
        """``scx_select_cpu_dfl`` on the simulated topology (SX-I3)."""
        allowed = t.affinity
        if self.machine.smt and t.allowed(prev) and self.core_idle(prev) and self.claim(prev):
            return prev, True
        if self.machine.smt:
            c = self.pick_idle(allowed, C.SCX_PICK_IDLE_CORE, near=prev)
            if c >= 0:
                return c, True
        if t.allowed(prev) and self.claim(prev):
            return prev, True
        c = self.pick_idle(allowed, 0, near=prev)
        if c >= 0:
            return c, True
        return prev, False
