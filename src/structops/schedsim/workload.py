"""Workload files of the CPU-scheduling simulator (TOML).

A workload is a list of task groups::

    [[group]]
    name = "batch"        # task comm prefix and group name
    count = 4             # tasks in the group (1)
    nice = 0              # -20..19 (0), or weight = CFS load weight (nice 0 = 1024)
    affinity = "0-3"      # CPU list "0-3,6" or [0, 1, 2] (all CPUs)
    run_ms = 5            # CPU burst before sleeping; omitted: CPU-bound
    sleep_ms = 10         # sleep between bursts (0)
    start_ms = 0          # first wakeup (0)
    exit_ms = 5000        # exit time (never)
    cgroup_weight = 100   # cpu.weight of the group's cgroup, 1..10000 (100)

Each group is a cgroup of its own (``/name``), which schedulers with cgroup callbacks see.

Unknown keys and bad values raise :class:`WorkloadError` naming the group and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from structops._toml import read_toml

__all__ = ["Group", "WorkloadError", "default_workload", "load_workload", "parse_workload"]

_KEYS = {"name", "count", "nice", "weight", "affinity", "run_ms", "sleep_ms", "start_ms", "exit_ms", "cgroup_weight"}


class WorkloadError(ValueError):
    """A workload file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Group:
    """One task group of a workload."""

    name: str
    count: int = 1
    nice: int = 0
    weight: int | None = None
    affinity: tuple[int, ...] | None = None
    run_ns: int | None = None
    sleep_ns: int = 0
    start_ns: int = 0
    exit_ns: int | None = None
    cgroup_weight: int = 100


def _cpus(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        cpus = set(value)
    elif isinstance(value, str):
        cpus = set()
        for part in value.split(","):
            part = part.strip()
            lo, _, hi = part.partition("-")
            try:
                a, b = int(lo), int(hi or lo)
            except ValueError:
                raise WorkloadError(f'{where}: bad CPU list {value!r} (examples: "0-3", "0,2")') from None
            cpus.update(range(a, b + 1))
    else:
        raise WorkloadError(f"{where}: affinity must be a CPU list string or a list of CPU numbers")
    if not cpus or min(cpus) < 0:
        raise WorkloadError(f"{where}: affinity {value!r} names no CPU or a negative one")
    return tuple(sorted(cpus))


def _ms(value: Any, where: str, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and value <= 0):
        raise WorkloadError(f"{where} must be a {'positive' if positive else 'non-negative'} number of milliseconds")
    return int(value * 1_000_000)


def parse_workload(data: dict[str, Any]) -> list[Group]:
    """Groups from a parsed TOML document."""
    unknown = set(data) - {"group"}
    if unknown:
        raise WorkloadError(f"unknown top-level key(s) {', '.join(sorted(unknown))}: a workload has [[group]] tables")
    groups = data.get("group")
    if not isinstance(groups, list) or not groups:
        raise WorkloadError("a workload needs at least one [[group]] table")
    out = []
    names = set()
    for i, g in enumerate(groups):
        if not isinstance(g, dict):
            raise WorkloadError(f"group {i + 1} must be a table")
        name = g.get("name", f"group{i + 1}")
        where = f"group {name!r}"
        if not isinstance(name, str) or not name or len(name) > 12:
            raise WorkloadError(f"group {i + 1}: name must be 1 to 12 characters")
        if name in names:
            raise WorkloadError(f"{where} appears twice")
        names.add(name)
        bad = set(g) - _KEYS
        if bad:
            raise WorkloadError(f"{where}: unknown key(s) {', '.join(sorted(bad))} (known: {', '.join(sorted(_KEYS))})")
        count = g.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 4096:
            raise WorkloadError(f"{where}: count must be an integer from 1 to 4096")
        nice = g.get("nice", 0)
        if isinstance(nice, bool) or not isinstance(nice, int) or not -20 <= nice <= 19:
            raise WorkloadError(f"{where}: nice must be an integer from -20 to 19")
        weight = g.get("weight")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 88761):
            raise WorkloadError(f"{where}: weight must be a CFS load weight from 1 to 88761 (nice 0 = 1024)")
        if weight is not None and "nice" in g:
            raise WorkloadError(f"{where}: give nice or weight, not both")
        cgw = g.get("cgroup_weight", 100)
        if isinstance(cgw, bool) or not isinstance(cgw, int) or not 1 <= cgw <= 10000:
            raise WorkloadError(f"{where}: cgroup_weight must be a cpu.weight from 1 to 10000 (default 100)")
        out.append(
            Group(
                name=name,
                count=count,
                nice=nice,
                weight=weight,
                affinity=_cpus(g["affinity"], f"{where}: affinity") if "affinity" in g else None,
                run_ns=_ms(g["run_ms"], f"{where}: run_ms", positive=True) if "run_ms" in g else None,
                sleep_ns=_ms(g.get("sleep_ms", 0), f"{where}: sleep_ms"),
                start_ns=_ms(g.get("start_ms", 0), f"{where}: start_ms"),
                exit_ns=_ms(g["exit_ms"], f"{where}: exit_ms") if "exit_ms" in g else None,
                cgroup_weight=cgw,
            )
        )
    return out


def load_workload(path: str | Path) -> list[Group]:
    """Read and check a workload file."""
    data = read_toml(
        Path(path),
        WorkloadError,
        "cannot read workload {path}: {reason}",
        "workload {path} is not valid TOML: {reason}",
    )
    return parse_workload(data)


def default_workload(nr_cpus: int) -> list[Group]:
    """Two CPU-bound tasks per CPU (nice 0) and one interactive task per CPU (2 ms run, 8 ms sleep)."""
    return [
        Group("cpu", count=2 * nr_cpus),
        Group("io", count=nr_cpus, run_ns=2_000_000, sleep_ns=8_000_000),
    ]
