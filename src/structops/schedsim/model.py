"""Tasks and CPUs of the CPU-scheduling simulator, with their ``task_struct`` in kernel memory.

Each :class:`Task` owns a ``struct task_struct`` allocation laid out by the embedded
kernel's BTF: BPF schedulers read ``pid``, ``comm``, ``cpus_ptr``, ``nr_cpus_allowed``
and ``scx.*`` there and may write ``scx.slice``, ``scx.dsq_vtime`` and ``scx.disallow``
(SX-R5).  Python reads ``slice`` and ``dsq_vtime`` from the same bytes, so there is one
copy of the state.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.btfview import field_path

if TYPE_CHECKING:
    from structops.kernel.kmem import Allocation, KernelMemory

__all__ = ["Cpu", "Task", "TaskLayout", "task_layout"]

_Q = struct.Struct("<Q")
_I = struct.Struct("<I")
_i = struct.Struct("<i")
_Q_unpack = _Q.unpack_from
_Q_pack = _Q.pack_into


@dataclass(frozen=True)
class TaskLayout:
    """Offsets of the ``task_struct`` fields the simulator keeps up to date."""

    size: int
    pid: int
    comm: int
    flags: int
    prio: int
    static_prio: int
    policy: int
    nr_cpus_allowed: int
    cpus_ptr: int
    cpus_mask: int
    weight: int
    slice: int
    dsq_vtime: int
    scx_flags: int
    sticky_cpu: int
    holding_cpu: int
    selected_cpu: int
    ddsp_dsq_id: int
    runnable_at: int
    disallow: int
    sum_exec_runtime: int


@cache
def task_layout(task_struct: btflib.Struct) -> TaskLayout:
    """The :class:`TaskLayout` of one ``struct task_struct`` type."""

    def off(path: str) -> int:
        return field_path(task_struct, path).offset

    return TaskLayout(
        size=task_struct.size,
        pid=off("pid"),
        comm=off("comm"),
        flags=off("flags"),
        prio=off("prio"),
        static_prio=off("static_prio"),
        policy=off("policy"),
        nr_cpus_allowed=off("nr_cpus_allowed"),
        cpus_ptr=off("cpus_ptr"),
        cpus_mask=off("cpus_mask"),
        weight=off("scx.weight"),
        slice=off("scx.slice"),
        dsq_vtime=off("scx.dsq_vtime"),
        scx_flags=off("scx.flags"),
        sticky_cpu=off("scx.sticky_cpu"),
        holding_cpu=off("scx.holding_cpu"),
        selected_cpu=off("scx.selected_cpu"),
        ddsp_dsq_id=off("scx.ddsp_dsq_id"),
        runnable_at=off("scx.runnable_at"),
        disallow=off("scx.disallow"),
        sum_exec_runtime=off("se.sum_exec_runtime"),
    )


@dataclass(eq=False)
class Task:
    """A simulated task: its workload behaviour, its statistics and its kernel struct."""

    pid: int
    comm: str
    group: str
    nice: int
    load_weight: int
    affinity: tuple[int, ...]
    run_ns: int | None  # None: CPU-bound
    sleep_ns: int
    start_ns: int
    exit_ns: int | None
    # scheduling state
    cpu: int = 0
    on_rq: bool = False
    running: bool = False
    dead: bool = False
    started: bool = False
    sched_class: str = "fair"
    burst_left: int = 0
    run_token: int = 0
    wait_since: int | None = None
    # statistics
    runtime_ns: int = 0
    wait_ns: int = 0
    waits: list[int] = field(default_factory=list)
    nr_switches: int = 0
    nr_migrations: int = 0
    # fair class
    vruntime: int = 0
    fair_slice_start: int = 0
    # a user-space program (e.g. scx_userland's scheduler half): called each time the task
    # starts running, returns the CPU time the pass took; the task then calls sched_yield()
    user_fn: Any = None
    cgroup: Any = None  # schedsim.cgroups.Cgroup (the root when None)
    # sched_ext
    scx: Any = None
    kstruct: Allocation | None = None
    layout: TaskLayout | None = None
    _buf: bytearray = field(default_factory=bytearray, repr=False)  # kstruct.buf once attached
    _slice_off: int = 0
    _vtime_off: int = 0
    _sum_off: int = -1

    # -- the task_struct -----------------------------------------------------------------
    def attach_struct(self, kmem: KernelMemory, layout: TaskLayout) -> None:
        """Allocate and fill the task's ``struct task_struct``."""
        a = kmem.alloc(layout.size, f"task_struct {self.comm}[{self.pid}]")
        self.kstruct, self.layout = a, layout
        buf = a.buf
        self._buf, self._slice_off, self._vtime_off = buf, layout.slice, layout.dsq_vtime
        self._sum_off = layout.sum_exec_runtime
        _i.pack_into(buf, layout.pid, self.pid)
        name = self.comm.encode()[:15]
        buf[layout.comm : layout.comm + len(name)] = name
        _i.pack_into(buf, layout.prio, 120 + self.nice)
        _i.pack_into(buf, layout.static_prio, 120 + self.nice)
        _i.pack_into(buf, layout.nr_cpus_allowed, len(self.affinity))
        _Q.pack_into(buf, layout.cpus_ptr, a.addr + layout.cpus_mask)
        for c in self.affinity:
            word = layout.cpus_mask + 8 * (c // 64)
            _Q.pack_into(buf, word, _Q.unpack_from(buf, word)[0] | (1 << (c % 64)))
        _i.pack_into(buf, layout.sticky_cpu, -1)
        _i.pack_into(buf, layout.holding_cpu, -1)
        _Q.pack_into(buf, layout.ddsp_dsq_id, 1 << 63)

    @property
    def addr(self) -> int:
        """Kernel address of the ``task_struct`` (what BPF programs receive)."""
        assert self.kstruct is not None
        return self.kstruct.addr

    def _get(self, off: int) -> int:
        assert self.kstruct is not None
        return int(_Q.unpack_from(self.kstruct.buf, off)[0])

    def _set(self, off: int, v: int) -> None:
        assert self.kstruct is not None
        _Q.pack_into(self.kstruct.buf, off, v & 0xFFFF_FFFF_FFFF_FFFF)

    # ``slice`` and ``dsq_vtime`` are read and written in the struct on every scheduling
    # decision: straight to the buffer at offsets cached by attach_struct.
    @property
    def slice(self) -> int:
        """``p->scx.slice``."""
        return int(_Q_unpack(self._buf, self._slice_off)[0])

    @slice.setter
    def slice(self, v: int) -> None:
        _Q_pack(self._buf, self._slice_off, v & 0xFFFF_FFFF_FFFF_FFFF)

    @property
    def dsq_vtime(self) -> int:
        """``p->scx.dsq_vtime``."""
        return int(_Q_unpack(self._buf, self._vtime_off)[0])

    @dsq_vtime.setter
    def dsq_vtime(self, v: int) -> None:
        _Q_pack(self._buf, self._vtime_off, v & 0xFFFF_FFFF_FFFF_FFFF)

    def add_exec_runtime(self, delta: int) -> None:
        """Runtime was charged: ``p->se.sum_exec_runtime`` follows ``runtime_ns`` (all classes)."""
        if self._sum_off >= 0:
            _Q_pack(self._buf, self._sum_off, self.runtime_ns & 0xFFFF_FFFF_FFFF_FFFF)

    def set_u32(self, off: int, v: int) -> None:
        """Write a 32-bit field of the struct."""
        assert self.kstruct is not None
        _I.pack_into(self.kstruct.buf, off, v & 0xFFFFFFFF)

    def allowed(self, cpu: int) -> bool:
        """``cpu`` is in the task's affinity."""
        return cpu in self.affinity


@dataclass(eq=False)
class Cpu:
    """One simulated CPU: its current task, its topology and busy time."""

    id: int
    core: int
    llc: int
    curr: Task | None = None
    last_account: int = 0
    busy_ns: int = 0
    need_resched: bool = False
    # fair runqueue (tasks waiting, not running)
    fair_rq: list[Task] = field(default_factory=list)
    min_vruntime: int = 0
    timeline: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, pid)
    run_start: int = 0
