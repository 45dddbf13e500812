"""Benchmark: the TCP simulator driven by BPF reno (embedded kernel VM) vs native Python Reno.

Scenario of docs/tcp-sim.md: 100 bulk flows share a 100 Mbit/s bottleneck, 20 ms base
RTT, 167-packet drop-tail buffer, delayed ACKs, 100 ms trace sampling.  The BPF run loads
testdata/reno.bpf.o on an embedded kernel, attaches its struct_ops link and gives the
simulator kernel-backed sockets (structops.kernel.tcp_bridge): every op call syncs the
fields the programs may touch into the socket's ``struct tcp_sock`` (issue 17 sync plan),
enters the trampoline and runs the program on the VM (the reno kfuncs run on the
simulated socket).  The cwnd traces of both sides must be identical.

    python benchmarks/tcp_sim_bpf.py [--seconds 2] [--flows 100] [--repeat 3]

Two measurements, each side keeping its best of ``--repeat`` runs, in thread CPU time:

* separate processes: each side runs alone in a fresh process (alternating), the
  figure a user running one simulation sees (also as the ratio of the medians: on a
  shared machine one lucky run of a side moves the best-of ratio);
* interleaved: both simulators in one process, alternating every ``--slice`` simulated
  seconds, so both see the same machine load (the native side is a little slower
  there: the BPF side's working set and socket type share its caches and call sites).

Traces are compared in both (digests across processes).  To compare two trees
(before/after a change), run the script from each with ``PYTHONPATH=<tree>/src``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.sim import LinkConfig, SimConfig, Simulator

RENO_OBJ = Path(__file__).resolve().parent.parent / "testdata" / "reno.bpf.o"


def _config() -> SimConfig:
    return SimConfig(link=LinkConfig(bandwidth_bps=100_000_000, buffer_pkts=167), sample_interval_us=100_000)


def _native(flows: int) -> Simulator:
    """The native simulator with the scenario's flows."""
    native = Simulator(_config())
    for i in range(flows):
        native.add_flow(base_rtt_us=20_000, start_us=i * 100, cc="reno")
    return native


def _setup(flows: int) -> tuple[Simulator, Simulator, Callable[[], None]]:
    """The native simulator, the BPF one (reno.bpf.o attached on a fresh embedded kernel)
    with the same flows, and the BPF side's teardown."""
    native = _native(flows)
    kernel = EmulatedKernel()
    coll = Collection.open(RENO_OBJ).load(kernel)
    link = coll.maps["so_reno"].attach_struct_ops()
    sim, bridge = kernel_simulator(kernel, _config())
    for i in range(flows):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 100, cc="so_reno")

    def close() -> None:
        bridge.close()
        link.close()
        coll.close()

    return native, sim, close


def _run_sliced(sims: tuple[Simulator, Simulator], seconds: float, slice_s: float) -> list[tuple[float, float]]:
    """Run both simulators slice by slice, alternating, so both see the same machine load;
    (native CPU s, BPF CPU s) per slice (``Simulator.run`` continues where it stopped)."""
    out = []
    n = max(1, round(seconds / slice_s))
    for i in range(1, n + 1):
        until = int(seconds * 1_000_000 * i / n)
        took = []
        for s in sims:
            c0 = time.thread_time()
            s.run(until)
            took.append(time.thread_time() - c0)
        out.append((took[0], took[1]))
    return out


def _nothing() -> None:
    pass


def _one_side(side: str, flows: int, seconds: float) -> None:
    """Child process: run one side alone; print its thread CPU time, events and trace digest."""
    close: Callable[[], None] = _nothing
    if side == "native":  # no kernel in this process
        s = _native(flows)
    else:
        _, s, close = _setup(flows)
    c0 = time.thread_time()
    s.run(int(seconds * 1_000_000))
    cpu = time.thread_time() - c0
    digest = hashlib.sha256(repr([f.trace for f in s.flows]).encode()).hexdigest()[:16]
    print(json.dumps({"cpu": cpu, "events": s.events, "traces": digest}))
    close()


#: Per-run CPU seconds of the last :func:`_processes`, by side (for the median ratio).
RUNS: dict[str, list[float]] = {"native": [], "bpf": []}


def _processes(flows: int, seconds: float, repeat: int) -> tuple[float, float, int, bool]:
    """Each side alone in its own process (no shared caches or call sites), alternating;
    (best native CPU s, best BPF CPU s, events, identical traces)."""
    seen: dict[str, set[tuple[int, str]]] = {"native": set(), "bpf": set()}
    for runs in RUNS.values():
        runs.clear()
    for _ in range(max(1, repeat)):
        for side in ("native", "bpf"):
            cmd = [sys.executable, __file__, "--side", side, "--flows", str(flows), "--seconds", str(seconds)]
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            RUNS[side].append(out["cpu"])
            seen[side].add((out["events"], out["traces"]))
    same = len(seen["native"] | seen["bpf"]) == 1
    return min(RUNS["native"]), min(RUNS["bpf"]), next(iter(seen["bpf"]))[0], same


def _interleaved(flows: int, seconds: float, repeat: int, slice_s: float) -> tuple[float, float, int, bool]:
    """Both sides in this process, alternating per slice; (native CPU s, BPF CPU s, events, same)."""
    best: list[list[float]] = []
    same = True
    events = 0
    for _ in range(max(1, repeat)):
        native, sim, close = _setup(flows)
        slices = _run_sliced((native, sim), seconds, slice_s)
        if not best:
            best = [list(t) for t in slices]
        for b, t in zip(best, slices, strict=True):
            b[0], b[1] = min(b[0], t[0]), min(b[1], t[1])
        same = same and all(a.trace == b.trace for a, b in zip(sim.flows, native.flows, strict=True))
        same = same and sim.events == native.events
        events = sim.events
        close()
    return sum(b[0] for b in best), sum(b[1] for b in best), events, same


def main() -> None:
    """Run native and BPF reno (separate processes, then interleaved) and print speeds and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="simulated seconds per run")
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="runs per side; the best is kept")
    ap.add_argument("--slice", type=float, default=0.05, help="simulated seconds per alternation")
    ap.add_argument("--side", choices=("native", "bpf"), help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    if args.side:
        _one_side(args.side, args.flows, args.seconds)
        return

    print(f"{args.flows} flows, 100 Mbit/s, 20 ms RTT, {args.seconds:g} s simulated")
    for mode, (n_cpu, b_cpu, events, same) in (
        ("separate processes", _processes(args.flows, args.seconds, args.repeat)),
        ("interleaved", _interleaved(args.flows, args.seconds, args.repeat, args.slice)),
    ):
        print(f"[{mode}] {events} events")
        for name, cpu in (("native reno", n_cpu), ("BPF reno   ", b_cpu)):
            print(f"  {name} : {args.seconds / cpu:6.2f} simulated s / CPU s  ({events / cpu:,.0f} events/s)")
        print(f"  ratio BPF/native: {b_cpu / n_cpu:.2f}x   identical cwnd traces: {same}")
        if mode == "separate processes":  # one lucky run of a side moves the best-of ratio
            median = statistics.median(RUNS["bpf"]) / statistics.median(RUNS["native"])
            print(f"  ratio of the medians of {len(RUNS['bpf'])} runs per side: {median:.2f}x")


if __name__ == "__main__":
    main()
