"""Benchmark of the TCP simulator: simulated seconds per wall second and events/s.

The reference scenario of docs/tcp-sim.md: 100 bulk flows with native Reno share a
100 Mbit/s bottleneck, 20 ms base RTT, 1 BDP (167 packets) of drop-tail buffer,
delayed ACKs, 100 ms trace sampling.  Prints one line per scenario.

    python benchmarks/tcp_sim.py [--seconds 10] [--flows 100] [--cc reno|cubic]

With ``--baseline REV`` it compares against the simulator of git revision ``REV``
(e.g. ``4e77e1d^``, the tree before the fidelity work of issue 15) in the same run: the
revision's ``src`` is exported to a temporary directory (``git archive``, nothing in the
working tree changes) and both trees run the same native scenario in fresh
subprocesses, alternating ``--rounds`` times; each subprocess runs it ``--repeat`` times
and reports the least process time (CPU seconds, steadier than wall time on a shared
machine).  Prints the minimum per tree, events, simulated s per CPU s and the ratio
current / baseline (below 1: the current tree is faster).

    python benchmarks/tcp_sim.py --baseline 4e77e1d^ --seconds 2

``--bpf`` (with ``--baseline``) runs the same scenario driven by BPF reno instead: this
tree's ``testdata/reno.bpf.o`` loaded on a fresh embedded kernel of each tree, attached,
and the simulator given kernel-backed sockets (``structops.kernel.tcp_bridge``), as
``benchmarks/tcp_sim_bpf.py`` does; the before/after figure of issue 15 for the BPF path.

``--instructions`` (with ``--baseline``) counts machine instructions instead of CPU time,
with valgrind (callgrind, no cache model): each tree runs the scenario once for 0 and once
for ``--seconds`` simulated seconds (``PYTHONHASHSEED=0``), and the difference is the run's
count.  It takes about a minute and, unlike CPU time on a shared VM, gives the same
figure every time: the way to see a change of a few percent.

``--in-process`` (with ``--baseline``, native only) loads both trees' simulators into
this one process (each under its own module table, swapped in for its runs) and
alternates 2-tree rounds of one run each, so both see the same machine, process and
moment; prints the least and median CPU time per tree and the median of the paired
ratios.  On a shared VM whose processes run at different speeds this is steadier
than separate processes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from structops.sim import LinkConfig, SimConfig, Simulator, cubic

ROOT = Path(__file__).resolve().parents[1]


def build(flows: int, cc: str, trace_ops: bool) -> Simulator:
    """The reference scenario, ready to run."""
    link = LinkConfig(bandwidth_bps=100_000_000, buffer_pkts=167)
    sim = Simulator(SimConfig(link=link, sample_interval_us=100_000, trace_ops=trace_ops))
    if cc != "reno":
        sim.register_cc(cubic())
        sim.set_default_cc(cc)
    for i in range(flows):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 100)
    return sim


def run(flows: int, seconds: float, cc: str, trace_ops: bool) -> dict[str, float]:
    """Run one scenario and return its measurements."""
    sim = build(flows, cc, trace_ops)
    t0 = time.perf_counter()
    sim.run(int(seconds * 1_000_000))
    wall = time.perf_counter() - t0
    return {
        "sim_s_per_wall_s": seconds / wall,
        "events_per_s": sim.events / wall,
        "events": sim.events,
        "wall_s": wall,
        "utilisation": sim.utilisation(),
        "jain": sim.jain_fairness(),
        "drops": sim.link_drops,
    }


def build_bpf(flows: int) -> tuple[Simulator, list[Any]]:
    """The reference scenario driven by BPF reno on a fresh embedded kernel; the
    simulator and what to close afterwards (bridge, link, collection)."""
    from structops.api import Collection
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.tcp_bridge import kernel_simulator

    kernel = EmulatedKernel()
    coll = Collection.open(ROOT / "testdata" / "reno.bpf.o").load(kernel)
    link = coll.maps["so_reno"].attach_struct_ops()
    config = SimConfig(link=LinkConfig(bandwidth_bps=100_000_000, buffer_pkts=167), sample_interval_us=100_000)
    sim, bridge = kernel_simulator(kernel, config)
    for i in range(flows):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 100, cc="so_reno")
    return sim, [bridge, link, coll]


def child(flows: int, seconds: float, cc: str, repeat: int, bpf: bool) -> None:
    """Subprocess side of ``--baseline``: the least process time of ``repeat`` runs as JSON.

    Only the simulator's public API is used, so a baseline tree runs this same code."""
    best = float("inf")
    events = 0
    for _ in range(repeat):
        closing: list[Any] = []
        if bpf:
            sim, closing = build_bpf(flows)
        else:
            sim = build(flows, cc, False)
        c0 = time.process_time()
        sim.run(int(seconds * 1_000_000))
        best = min(best, time.process_time() - c0)
        events = sim.events
        for obj in closing:
            obj.close()
    print(json.dumps({"cpu_s": best, "events": events}))


def export(rev: str, dest: Path) -> Path:
    """``git archive`` the ``src`` tree of ``rev`` into ``dest``; returns its src path."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"tcp_sim: git archive {rev!r} failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def _instructions(src: Path, args: argparse.Namespace, seconds: float) -> tuple[int, int]:
    """Machine instructions of one child process (valgrind callgrind) and its events."""
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", os.path.realpath(sys.executable)]
    cmd += [__file__, "--child", "--flows", str(args.flows), "--seconds", str(seconds), "--cc", args.cc]
    cmd += ["--repeat", "1"]
    cmd += ["--bpf"] if args.bpf else []
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    collected = [line for line in proc.stderr.splitlines() if "Collected :" in line]
    if not collected:
        raise SystemExit(f"tcp_sim: no instruction count from valgrind: {proc.stderr[-500:]}")
    return int(collected[-1].split()[-1]), json.loads(proc.stdout.strip().splitlines()[-1])["events"]


def compare_instructions(args: argparse.Namespace) -> None:
    """``--instructions``: callgrind counts of both trees (run minus start-up), in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    if shutil.which("valgrind") is None:
        raise SystemExit("tcp_sim: --instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="tcp_sim_base_") as tmp:
        trees = {f"baseline {args.baseline}": export(args.baseline, Path(tmp)), "current": ROOT / "src"}
        jobs = [(name, src, secs) for name, src in trees.items() for secs in (0.0, args.seconds)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            got = dict(zip(jobs, pool.map(lambda j: _instructions(j[1], args, j[2]), jobs), strict=True))
    side = "BPF reno (embedded kernel)" if args.bpf else f"native {args.cc}"
    print(f"{args.flows} flows {side}, {args.seconds:g} s simulated, machine instructions of the run:")
    base = 0
    for name, src in trees.items():
        start, _ = got[(name, src, 0.0)]
        total, events = got[(name, src, args.seconds)]
        run = total - start
        base = base or run
        print(
            f"  {name:>22}: {run / 1e6:,.1f} M, {events:,} events, {run / events:,.0f} per event, "
            f"ratio {run / base:.3f}"
        )


def _load_tree(src: Path) -> tuple[Any, dict[str, Any]]:
    """``structops.sim`` of the tree at ``src`` and that tree's module table, taken out
    of ``sys.modules`` so that another tree can be loaded beside it."""

    def ours() -> list[str]:
        return [k for k in sys.modules if k == "structops" or k.startswith("structops.")]

    saved = {k: sys.modules.pop(k) for k in ours()}
    sys.path.insert(0, str(src))
    try:
        mod = importlib.import_module("structops.sim")
    finally:
        sys.path.remove(str(src))
    mods = {k: sys.modules.pop(k) for k in ours()}
    sys.modules.update(saved)
    return mod, mods


def compare_in_process(args: argparse.Namespace) -> None:
    """``--in-process``: both trees' simulators in this process, alternating runs."""
    import statistics

    if args.bpf:
        raise SystemExit("tcp_sim: --in-process compares the native simulator only")
    with tempfile.TemporaryDirectory(prefix="tcp_sim_base_") as tmp:
        trees = {f"baseline {args.baseline}": _load_tree(export(args.baseline, Path(tmp)))}
        trees["current"] = _load_tree(ROOT / "src")
    names = list(trees)
    times: dict[str, list[float]] = {name: [] for name in names}
    events: dict[str, int] = {}
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            mod, mods = trees[name]
            saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.startswith("structops")}
            sys.modules.update(mods)  # imports made while running resolve within the tree
            try:
                link = mod.LinkConfig(bandwidth_bps=100_000_000, buffer_pkts=167)
                sim = mod.Simulator(mod.SimConfig(link=link, sample_interval_us=100_000))
                if args.cc != "reno":
                    sim.register_cc(mod.cubic())
                    sim.set_default_cc(args.cc)
                for i in range(args.flows):
                    sim.add_flow(base_rtt_us=20_000, start_us=i * 100)
                c0 = time.process_time()
                sim.run(int(args.seconds * 1_000_000))
                times[name].append(time.process_time() - c0)
                events[name] = sim.events
            finally:
                for k in mods:
                    sys.modules.pop(k, None)
                sys.modules.update(saved)
    base = times[names[0]]
    paired = statistics.median(c / b for b, c in zip(base, times["current"], strict=True))
    print(f"{args.flows} flows native {args.cc}, {args.seconds:g} s simulated, {args.rounds} rounds in one process:")
    for name in names:
        t = times[name]
        print(
            f"  {name:>22}: least {min(t):.3f} s, median {statistics.median(t):.3f} s, {events[name]:,} events, "
            f"ratio of least {min(t) / min(base):.3f}"
        )
    print(f"  median of paired ratios (current / baseline): {paired:.3f}")


def compare(args: argparse.Namespace) -> None:
    """Alternate the baseline revision and this tree in subprocesses; print both and the ratio."""
    with tempfile.TemporaryDirectory(prefix="tcp_sim_base_") as tmp:
        trees = {f"baseline {args.baseline}": export(args.baseline, Path(tmp)), "current": ROOT / "src"}
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            for name, src in trees.items():
                env = dict(os.environ, PYTHONPATH=str(src))
                cmd = [sys.executable, __file__, "--child", "--flows", str(args.flows)]
                cmd += ["--seconds", str(args.seconds), "--cc", args.cc, "--repeat", str(args.repeat)]
                cmd += ["--bpf"] if args.bpf else []
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                got = json.loads(out.strip().splitlines()[-1])
                if name not in best or got["cpu_s"] < best[name]["cpu_s"]:
                    best[name] = got
    base = best[next(iter(trees))]["cpu_s"]
    side = "BPF reno (embedded kernel)" if args.bpf else f"native {args.cc}"
    print(f"{args.flows} flows {side} 100Mbit/s 20ms, {args.seconds:g} s simulated, least process time:")
    for name, got in best.items():
        print(
            f"  {name:>22}: {got['cpu_s']:.3f} s, {args.seconds / got['cpu_s']:.2f} sim s/cpu s, "
            f"{got['events']:,} events, ratio {got['cpu_s'] / base:.3f}"
        )


def main() -> None:
    """Parse arguments and print the measurements."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--cc", default="reno", choices=["reno", "cubic"])
    ap.add_argument("--baseline", metavar="REV", help="compare with git revision REV's simulator in this run")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of baseline and current (--baseline)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per subprocess, the least time counts (--baseline)")
    ap.add_argument("--bpf", action="store_true", help="with --baseline: BPF reno instead of the native CC")
    ap.add_argument("--instructions", action="store_true", help="with --baseline: count instructions (valgrind)")
    ap.add_argument("--in-process", action="store_true", help="with --baseline: both trees in one process")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.flows, args.seconds, args.cc, args.repeat, args.bpf)
        return
    if args.baseline:
        if args.instructions:
            compare_instructions(args)
        elif args.in_process:
            compare_in_process(args)
        else:
            compare(args)
        return
    for trace_ops in (False, True):
        r = run(args.flows, args.seconds, args.cc, trace_ops)
        print(
            f"{args.flows} flows {args.cc} 100Mbit/s 20ms trace_ops={trace_ops}: "
            f"{r['sim_s_per_wall_s']:.2f} sim s/wall s, {r['events_per_s']:,.0f} events/s "
            f"({r['events']:,.0f} events in {r['wall_s']:.2f} s), "
            f"utilisation {r['utilisation']:.3f}, jain {r['jain']:.3f}, drops {r['drops']:,.0f}"
        )


if __name__ == "__main__":
    main()
