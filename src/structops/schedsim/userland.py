"""User-space scheduler halves written in Python on the structops API.

Some sched_ext schedulers make their decisions in a user-space process: the BPF side
hands runnable tasks to user space through a map and dispatches what user space sends
back.  scx_userland is the upstream example (its ``.bpf.c`` queues
``struct scx_userland_enqueued_task {pid, sum_exec_runtime, weight}`` records on the
QUEUE map ``enqueued`` and inserts the pids it pops from the QUEUE map ``dispatched``
into the global DSQ).  Its user half, modelled here from the behaviour its C source
documents: one single-threaded loop that

1. drains ``enqueued``, charging each task ``delta(sum_exec_runtime) * 100 / weight`` of
   virtual time (never less than the last dispatched task's, so a sleeper gains no credit),
   and keeps the tasks ordered by virtual time (ties: the newer after the older);
2. sends up to ``batch`` of the lowest-vruntime tasks down through ``dispatched``;
3. publishes ``nr_queued = 0`` and ``nr_scheduled`` (tasks it still holds), which the BPF
   side's ``update_idle`` reads to decide whether to wake it, and calls ``sched_yield()``.

On the simulated machine the process is a task of its own (its pid goes into the
object's ``usersched_pid`` before load, as the C program writes ``getpid()``): each
time it gets a CPU, :meth:`UserlandHalf.run_pass` runs and the task then yields.
"""

from __future__ import annotations

import bisect
import errno
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from structops.abi.attrs import MapElemAttr
from structops.abi.consts import Cmd

if TYPE_CHECKING:
    from structops.schedsim.machine import Machine
    from structops.schedsim.model import Task

__all__ = ["PASS_NS", "UserlandHalf", "userland_half_for"]

#: Modelled CPU time of one pass of the user-space loop (drain, dispatch a batch, yield).
PASS_NS = 5_000
_ENQUEUED = struct.Struct("<iIQQ")  # pid, pad, sum_exec_runtime, weight


def userland_half_for(coll: Any) -> UserlandHalf | None:
    """The Python user half an opened object needs (scx_userland's layout), or None."""
    from structops.loader import globals as gv

    names = gv.global_vars(coll.spec)
    if "usersched_pid" in names and {"enqueued", "dispatched"} <= set(coll.spec.maps):
        return UserlandHalf(coll)
    return None


@dataclass
class _Entry:
    pid: int
    sum_exec_runtime: int = 0
    vruntime: float = 0.0


@dataclass(eq=False)
class UserlandHalf:
    """scx_userland's user-space scheduler: a vruntime-ordered list fed and drained via maps."""

    coll: Any
    batch: int = 8
    pass_ns: int = PASS_NS
    task: Task | None = None
    entries: dict[int, _Entry] = field(default_factory=dict)
    queue: list[tuple[float, int, int]] = field(default_factory=list)  # (vruntime, seq, pid)
    min_vruntime: float = 0.0
    nr_enqueues: int = 0
    nr_dispatches: int = 0
    nr_failed: int = 0
    passes: int = 0
    _seq: int = 0
    _published: dict[str, int] = field(default_factory=dict)

    def prepare(self, machine: Machine) -> Task:
        """Before load: create the scheduler process's task and name it in ``usersched_pid``."""
        t = machine.add_task("scx_userland", group="usersched")
        machine.run(0)  # the process exists (runs on fair) before it loads the scheduler
        self.task = t
        self.coll.set_global("usersched_pid", t.pid)
        return t

    def start(self) -> None:
        """After load: the task runs :meth:`run_pass` whenever it is on a CPU."""
        assert self.task is not None, "prepare() first"
        self.task.user_fn = self.run_pass

    # -- one pass of the main loop ----------------------------------------------------------
    def run_pass(self) -> int:
        """Drain ``enqueued``, dispatch one batch, publish the counters; the modelled cost."""
        self.passes += 1
        self._drain()
        self._dispatch_batch()
        return self.pass_ns

    def _bpf(self, cmd: Cmd, attr: MapElemAttr) -> int:
        return int(self.coll.kernel.bpf(cmd, attr))

    def _drain(self) -> None:
        m = self.coll.maps["enqueued"]
        while True:
            out = bytearray(m.value_size)
            try:
                self._bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(m.fd, key=None, value=out))
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
                break
            pid, _, runtime, weight = _ENQUEUED.unpack_from(out)
            self._enqueue(pid, runtime, weight)
        self._publish("nr_queued", 0)
        self._publish("nr_scheduled", len(self.queue))

    def _publish(self, name: str, value: int) -> None:
        """``skel->bss->name = value`` (only user space writes these two: skip unchanged ones)."""
        if self._published.get(name) != value:
            self.coll.set_global(name, value)
            self._published[name] = value

    def _enqueue(self, pid: int, runtime: int, weight: int) -> None:
        e = self.entries.setdefault(pid, _Entry(pid))
        delta = (runtime - e.sum_exec_runtime) & 0xFFFF_FFFF_FFFF_FFFF
        e.vruntime += delta / (max(weight, 1) / 100.0)
        e.vruntime = max(e.vruntime, self.min_vruntime)
        e.sum_exec_runtime = runtime
        self.nr_enqueues += 1
        self._seq += 1
        # an equal vruntime goes before the queued one (the C list inserts before the first >=)
        bisect.insort(self.queue, (e.vruntime, -self._seq, pid))

    def _dispatch_batch(self) -> None:
        m = self.coll.maps["dispatched"]
        for _ in range(self.batch):
            if not self.queue:
                break
            vr, seq, pid = self.queue.pop(0)
            self.min_vruntime = vr
            try:
                self._bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(m.fd, key=None, value=struct.pack("<i", pid)))
            except OSError:
                self.nr_failed += 1
                self.queue.insert(0, (vr, seq, pid))
                break
            self.nr_dispatches += 1
        self._publish("nr_scheduled", len(self.queue))
