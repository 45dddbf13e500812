"""sched_ext simulator speed: the weighted-vtime BPF example vs the same policy in Python.

8 CPUs, 64 mixed tasks (32 CPU-bound at nice 0/5/10/-5, 32 interactive 1-3 ms bursts with
2-20 ms sleeps), 10 simulated seconds.  Prints simulated seconds per wall second for the
BPF scheduler (``testdata/sched/sx_vtime.bpf.o`` through the VM) and for
:class:`VtimePy` (the same callbacks written in Python on the same core and kfuncs),
their ratio, and whether both made the same decisions (identical per-task runtimes).
With ``--repeat N`` the two runs alternate N times and the medians are printed, wall
and CPU time (the CPU figure is steadier on a shared machine); each ratio is taken
within one repetition.

    python3 benchmarks/sched_sim.py [--seconds 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
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


def run(kind: str, seconds: float) -> tuple[float, list[int], float]:
    """One run; (wall seconds, per-task runtimes, CPU seconds)."""
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
    t0, c0 = time.perf_counter(), time.process_time()
    m.run(int(seconds * 1e9))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert not m.exits, m.exits
    runtimes = [t.runtime_ns for t in m.tasks]
    if link is not None:
        link.close()
    if coll is not None:
        coll.close()
    m.close()
    return wall, runtimes, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="simulated seconds (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating BPF/Python runs, medians printed (default 3)")
    args = ap.parse_args()
    sec = args.seconds
    bpf, py, same = [], [], True
    for _ in range(max(1, args.repeat)):
        b_wall, b_rt, b_cpu = run("bpf", sec)
        p_wall, p_rt, p_cpu = run("python", sec)
        bpf.append((b_wall, b_cpu))
        py.append((p_wall, p_cpu))
        same = same and b_rt == p_rt
    med = statistics.median
    bw, bc = med(w for w, _ in bpf), med(c for _, c in bpf)
    pw, pc = med(w for w, _ in py), med(c for _, c in py)
    ratios = [b[0] / p[0] for b, p in zip(bpf, py, strict=True)]
    cpu_ratios = [b[1] / p[1] for b, p in zip(bpf, py, strict=True)]
    print(f"workload: 8 CPUs, 64 tasks, {sec:g} simulated s, weighted vtime; medians of {len(bpf)} runs")
    print(f"BPF (sx_vtime.bpf.o via the VM): {bw:7.2f} s wall  {sec / bw:6.2f} sim-s/wall-s (target >= 5)", end="")
    print(f"  [{sec / bc:.2f} sim-s/cpu-s]")
    print(f"Python (VtimePy, same core):     {pw:7.2f} s wall  {sec / pw:6.2f} sim-s/wall-s", end="")
    print(f"  [{sec / pc:.2f} sim-s/cpu-s]")
    print(f"ratio BPF/Python: {med(ratios):.2f}x (target <= 3x)  [cpu {med(cpu_ratios):.2f}x]", end="")
    print(f"  per run: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"same decisions (per-task runtimes identical): {same}")


if __name__ == "__main__":
    main()
