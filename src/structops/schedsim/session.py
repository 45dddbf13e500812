"""The Python API for sched_ext schedulers on the simulated machine.

:class:`SchedSim` bundles an embedded kernel, a :class:`~structops.schedsim.machine.Machine`
and the scheduler objects loaded on it::

    with SchedSim(cpus=4, seed=1) as sim:
        sim.add_group("hog", count=8)
        sched = sim.load("testdata/sched/sx_vtime.bpf.o")
        sim.attach(sched)                      # the sched_ext_ops map, through a link
        sim.run("200ms")
        sim.dsq(0)                             # tasks waiting in user DSQ 0, in order
        sched.get_global("nr_queued")          # the scheduler's globals, mid-run
        sim.detach()
        sim.exit                               # ExitInfo of the last exit (kind, reason, msg)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys.sched_ext.core import ExitInfo, ScxSched
from structops.schedsim.job import _ops_map, add_workload, load_scheduler
from structops.schedsim.machine import Machine
from structops.schedsim.model import Task
from structops.schedsim.workload import Group

__all__ = ["SchedSim"]


def _ns(t: int | float | str) -> int:
    if isinstance(t, str):
        from structops.run import parse_time_us

        return parse_time_us(t, default_unit="s") * 1000
    return int(t * 1_000_000_000) if isinstance(t, float) else int(t)


class SchedSim:
    """A simulated machine with an embedded kernel; schedulers attach to it as on Linux."""

    def __init__(self, cpus: int = 4, *, smt: int = 1, seed: int = 1) -> None:
        self.kernel = EmulatedKernel()
        self.machine = Machine(self.kernel, cpus, smt=smt, seed=seed)
        self.kernel.sched_ext.machine = self.machine  # type: ignore[attr-defined]
        self._colls: list[Any] = []
        self._link: Any = None

    # -- workload ------------------------------------------------------------------------
    def add_group(self, name: str, count: int = 1, **kw: Any) -> list[Task]:
        """Add ``count`` tasks (see :class:`~structops.schedsim.workload.Group` for ``kw``)."""
        return add_workload(self.machine, [Group(name, count, **kw)])

    def add_workload(self, groups: list[Group]) -> list[Task]:
        """Add the tasks of a workload (e.g. from :func:`~structops.schedsim.workload.load_workload`)."""
        return add_workload(self.machine, groups)

    # -- schedulers ----------------------------------------------------------------------
    def load(self, obj: str | Path) -> Any:
        """Load a scheduler object (``__SCX_*`` enums and CPU-count tunables filled in)."""
        coll = load_scheduler(self.kernel, Path(obj), self.machine.nr_cpus)
        self._colls.append(coll)
        return coll

    def attach(self, coll: Any, map_name: str | None = None) -> Any:
        """Attach the object's ``sched_ext_ops`` map through a link (EBUSY if one is attached)."""
        name = _ops_map(coll, self.kernel, map_name)
        link = coll.maps[name].attach_struct_ops()
        self._link = link
        return link

    def detach(self) -> None:
        """Detach the attached scheduler (SCX_EXIT_UNREG unless it already exited)."""
        if self._link is not None:
            self._link.close()
            self._link = None

    # -- running and inspecting ------------------------------------------------------------------
    def run(self, duration: int | float | str) -> None:
        """Advance simulated time (ns as int, seconds as float, or ``"20ms"``)."""
        self.machine.run(_ns(duration))

    @property
    def now(self) -> int:
        """Simulated time in ns."""
        return self.machine.now

    @property
    def tasks(self) -> list[Task]:
        """Every task (runtime_ns, wait_ns, nr_switches, sched_class, cpu, slice, dsq_vtime ...)."""
        return list(self.machine.tasks)

    @property
    def scheduler(self) -> ScxSched | None:
        """The loaded scheduler instance (None when none is enabled)."""
        sch: ScxSched | None = self.kernel.sched_ext.sch  # type: ignore[attr-defined]
        return sch if sch is not None and not sch.disabled else None

    def dsq(self, dsq_id: int) -> list[Task]:
        """Tasks queued on DSQ ``dsq_id`` (user id, SCX_DSQ_GLOBAL or SCX_DSQ_LOCAL_ON|cpu), in order."""
        sch = self.scheduler
        if sch is None:
            return []
        from structops.kernel.subsys.sched_ext import consts as C

        if dsq_id == C.SCX_DSQ_GLOBAL:
            return list(sch.global_dsq.tasks)
        if dsq_id & C.SCX_DSQ_LOCAL_ON == C.SCX_DSQ_LOCAL_ON:
            return list(sch.local[dsq_id & C.SCX_DSQ_LOCAL_CPU_MASK].tasks)
        d = sch.dsqs.get(dsq_id)
        return list(d.tasks) if d is not None else []

    @property
    def exit(self) -> ExitInfo | None:
        """The most recent scheduler exit (None before any)."""
        return self.machine.exits[-1] if self.machine.exits else None

    def close(self) -> None:
        """Detach, close every object, free the machine."""
        self.detach()
        for c in self._colls:
            c.close()
        self._colls = []
        self.machine.close()

    def __enter__(self) -> SchedSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
