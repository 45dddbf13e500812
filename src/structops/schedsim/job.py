"""One ``structops sched`` job: load a sched_ext scheduler, attach it, run a workload.

:func:`run_sched` builds an embedded kernel with a simulated machine, creates the
workload's tasks (they start on the fair class), loads the object (its ``.rodata``
``__SCX_*`` enum constants are filled from the kernel's BTF as ``SCX_ENUM_INIT`` does,
and ``nr_cpu_ids``-style tunables are set), attaches the ``sched_ext_ops`` map through a
link, runs for the requested simulated time and detaches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structops import btf as btflib
from structops.kernel.subsys.sched_ext import consts as C
from structops.schedsim.machine import Machine
from structops.schedsim.model import Task
from structops.schedsim.workload import Group, default_workload

__all__ = ["SchedConfig", "SchedResult", "load_scheduler", "run_sched", "scx_enum_init"]

_TUNABLES = ("nr_cpu_ids", "nr_cpus", "num_possible_cpus")
#: ``.rodata`` slice settings the upstream tools set to SCX_SLICE_DFL (scx_central.c, scx_qmap.c,
#: scx_nest.c: ``slice_ns``; scx_flatcg.c: ``cgrp_slice_ns``) unless given on the command line.
_SLICE_TUNABLES = ("slice_ns", "cgrp_slice_ns")


@dataclass(frozen=True)
class SchedConfig:
    """What to run: object, map, machine size, duration, workload and seed."""

    obj: Path
    map_name: str | None = None
    cpus: int = 4
    duration_ns: int = 1_000_000_000
    workload: tuple[Group, ...] | None = None
    seed: int = 1
    smt: int = 1


@dataclass
class SchedResult:
    """The finished run: the machine (tasks, CPUs, trace), the scheduler name, its exit, its maps."""

    machine: Machine
    scheduler: str
    cpus: int
    duration_ns: int
    exit: Any
    maps: dict[str, Any] = field(default_factory=dict)


def scx_enum_init(coll: Any, kernel: Any) -> list[str]:
    """Set every ``.rodata`` ``__SCX_NAME`` global to the kernel's enum value ``SCX_NAME``."""
    from structops.loader import globals as gv

    values: dict[str, int] = {}
    for t in kernel.vmlinux.spec.types:
        if isinstance(t, btflib.Enum | btflib.Enum64):
            for v in t.values:
                values.setdefault(v.name, v.value)
    done = []
    for name in gv.global_vars(coll.spec):
        if name.startswith("__SCX_") and name[2:] in values:
            coll.set_global(name, values[name[2:]] & 0xFFFF_FFFF_FFFF_FFFF)
            done.append(name)
    return done


def load_scheduler(kernel: Any, obj: Path, nr_cpus: int, before_load: Callable[[Any], None] | None = None) -> Any:
    """Open ``obj``, fill the scx enum and CPU-count tunables, load it on ``kernel``
    (``before_load(coll)`` may set more of the object's configuration first)."""
    from structops.api import Collection
    from structops.loader import globals as gv
    from structops.loader.resize import resize_cpu_arrays

    coll = Collection.open(obj)
    if before_load is not None:
        before_load(coll)
    scx_enum_init(coll, kernel)
    names = gv.global_vars(coll.spec)
    for tun in _TUNABLES:
        if tun in names:
            coll.set_global(tun, nr_cpus)
    for tun in _SLICE_TUNABLES:  # the scx tools write SCX_SLICE_DFL there before load
        if tun in names and not coll.get_global(tun):
            coll.set_global(tun, C.SCX_SLICE_DFL)
    resize_cpu_arrays(coll.spec, nr_cpus)  # RESIZE_ARRAY(skel, data, arr, nr_cpu_ids)
    return coll.load(kernel)


def _ops_map(coll: Any, kernel: Any, wanted: str | None) -> str:
    maps: list[str] = [str(name) for name, m in coll.maps.items() if _is_scx_map(m, kernel)]
    if wanted is not None:
        if wanted not in coll.maps:
            raise ValueError(f"--map {wanted}: no such map (sched_ext_ops maps: {', '.join(maps) or 'none'})")
        if wanted not in maps:
            raise ValueError(f"--map {wanted}: not a sched_ext_ops struct_ops map")
        return wanted
    if not maps:
        raise ValueError("the object has no sched_ext_ops struct_ops map (is it a sched_ext scheduler?)")
    if len(maps) > 1:
        raise ValueError(f"the object has several sched_ext_ops maps ({', '.join(maps)}): pick one with --map")
    return maps[0]


def _is_scx_map(m: Any, kernel: Any) -> bool:
    so = m.spec.struct_ops
    return so is not None and so.type_name == "sched_ext_ops"


def add_workload(machine: Machine, groups: list[Group] | tuple[Group, ...]) -> list[Task]:
    """Create the tasks of ``groups`` on ``machine``."""
    tasks = []
    for g in groups:
        if g.affinity is not None and max(g.affinity) >= machine.nr_cpus:
            raise ValueError(
                f"group {g.name!r}: affinity names CPU {max(g.affinity)} but the machine has {machine.nr_cpus}"
            )
        cgroup = machine.cgroups.get(g.name) or machine.cgroups.add(g.name, weight=g.cgroup_weight)
        for i in range(g.count):
            tasks.append(
                machine.add_task(
                    f"{g.name}{i}" if g.count > 1 else g.name,
                    group=g.name,
                    nice=g.nice,
                    load_weight=g.weight,
                    affinity=g.affinity,
                    run_ns=g.run_ns,
                    sleep_ns=g.sleep_ns,
                    start_ns=g.start_ns,
                    exit_ns=g.exit_ns,
                    cgroup=cgroup,
                )
            )
    return tasks


def run_sched(cfg: SchedConfig, progress: Callable[[int], None] | None = None) -> SchedResult:
    """Run one job; the kernel objects are released before returning."""
    from structops.kernel.emulated import EmulatedKernel

    kernel = EmulatedKernel()
    machine = Machine(kernel, cfg.cpus, smt=cfg.smt, seed=cfg.seed)
    kernel.sched_ext.machine = machine  # type: ignore[attr-defined]
    groups = cfg.workload if cfg.workload is not None else tuple(default_workload(cfg.cpus))
    add_workload(machine, groups)
    halves: list[Any] = []

    def user_half(coll: Any) -> None:  # a scheduler with a user-space half gets the Python one
        from structops.schedsim.pair_half import pair_half_for
        from structops.schedsim.userland import userland_half_for

        half: Any = userland_half_for(coll) or pair_half_for(coll)
        if half is not None:
            half.prepare(machine)
            halves.append(half)

    coll = load_scheduler(kernel, cfg.obj, cfg.cpus, user_half)
    for half in halves:
        half.start()
    try:
        name = _ops_map(coll, kernel, cfg.map_name)
        link = coll.maps[name].attach_struct_ops()
        try:
            sch = kernel.sched_ext.sch  # type: ignore[attr-defined]
            sched_name = sch.name if sch is not None else name
            machine.run(cfg.duration_ns, progress)
            maps = map_stats(coll)
        finally:
            link.close()
        ejected = next((e for e in machine.exits if e.kind != 64), None)
        machine.flush_timeline()
        return SchedResult(machine, sched_name, cfg.cpus, cfg.duration_ns, ejected, maps)
    finally:
        coll.close()
        machine.close()


def map_stats(coll: Any) -> dict[str, Any]:
    """The scheduler's counters as the scx tools print them: globals and per-CPU sums."""
    from structops.loader import globals as gv

    out: dict[str, Any] = {}
    for name, var in gv.global_vars(coll.spec).items():
        if var.map_name.endswith((".bss", ".data")) and not name.startswith("__") and var.size in (1, 2, 4, 8):
            try:
                value = coll.get_global(name)
            except (OSError, KeyError, ValueError):
                continue
            if isinstance(value, int):
                out[name] = value
    kernel = coll.kernel
    for mname, m in coll.maps.items():
        if m.spec.type == 6:  # PERCPU_ARRAY: per index, summed over CPUs
            obj = _kernel_map(kernel, m)
            if obj is None:
                continue
            sums = []
            for i in range(min(obj.max_entries, 16)):
                vals = obj.percpu_values(i)
                sums.append(sum(int.from_bytes(v[:8], "little") for v in vals))
            out[mname] = sums
    return out


def _kernel_map(kernel: Any, m: Any) -> Any:
    try:
        obj, _ = kernel.root.get_map(m.fd)
    except (AttributeError, OSError):
        return None
    return obj if hasattr(obj, "percpu_values") else None
