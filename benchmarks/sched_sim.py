"""sched_ext simulator speed: the weighted-vtime BPF example vs the same policy in Python.

8 CPUs, 64 mixed tasks (32 CPU-bound at nice 0/5/10/-5, 32 interactive 1-3 ms bursts with
2-20 ms sleeps), 10 simulated seconds.  Prints simulated seconds per wall second for the
BPF scheduler (``testdata/sched/sx_vtime.bpf.o`` through the VM) and for
:class:`VtimePy` (the same callbacks written in Python on the same core and kfuncs),
their ratio, and whether both made the same decisions (identical per-task runtimes).

    python3 benchmarks/sched_sim.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.schedsim.job import add_workload
from structops.schedsim.machine import Machine
from structops.schedsim.policies import VtimePy
from structops.schedsim.pyops import attach_python
from structops.schedsim.workload import Group

OBJ = Path(__file__).resolve().parents[1] / "testdata" / "sched" / "sx_vtime.bpf.o"


def workload() -> list[Group]:
    """64 mixed tasks."""
    groups = [Group(f"cpu{n}", count=8, nice=n) for n in (0, 5, 10, -5)]
    for i in range(4):
        groups.append(Group(f"io{i}", count=8, run_ns=(1 + i % 3) * 1_000_000, sleep_ns=(2 + 6 * i) * 1_000_000))
    return groups


def run(kind: str, seconds: float) -> tuple[float, list[int]]:
    """One run; (wall seconds, per-task runtimes)."""
    k = EmulatedKernel()
    m = Machine(k, 8, seed=1)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    add_workload(m, workload())
    m.run(1_000_000)
    coll = link = None
    if kind == "bpf":
        coll = Collection.open(OBJ).load(k)
        link = coll.maps["sx_vtime"].attach_struct_ops()
    else:
        attach_python(m, VtimePy(m))
    t0 = time.perf_counter()
    m.run(int(seconds * 1e9))
    wall = time.perf_counter() - t0
    assert not m.exits, m.exits
    runtimes = [t.runtime_ns for t in m.tasks]
    if link is not None:
        link.close()
    if coll is not None:
        coll.close()
    m.close()
    return wall, runtimes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="simulated seconds (default 10)")
    args = ap.parse_args()
    bpf_wall, bpf_rt = run("bpf", args.seconds)
    py_wall, py_rt = run("python", args.seconds)
    print(f"workload: 8 CPUs, 64 tasks, {args.seconds:g} simulated s, weighted vtime")
    rate = args.seconds / bpf_wall
    print(f"BPF (sx_vtime.bpf.o via the VM): {bpf_wall:7.2f} s wall  {rate:6.2f} sim-s/wall-s (target >= 5)")
    print(f"Python (VtimePy, same core):     {py_wall:7.2f} s wall  {args.seconds / py_wall:6.2f} sim-s/wall-s")
    print(f"ratio BPF/Python: {bpf_wall / py_wall:.2f}x (target <= 3x)")
    print(f"same decisions (per-task runtimes identical): {bpf_rt == py_rt}")


if __name__ == "__main__":
    main()
