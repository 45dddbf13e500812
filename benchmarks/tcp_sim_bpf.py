"""Benchmark: the TCP simulator driven by BPF reno (embedded kernel VM) vs native Python Reno.

Scenario of docs/tcp-sim.md: 100 bulk flows share a 100 Mbit/s bottleneck, 20 ms base
RTT, 167-packet drop-tail buffer, delayed ACKs, 100 ms trace sampling.  The BPF run loads
testdata/reno.bpf.o on an embedded kernel, attaches its struct_ops link and gives the
simulator kernel-backed sockets (structops.kernel.tcp_bridge): every op call syncs the
fields the programs may touch into the socket's ``struct tcp_sock`` (issue 17 sync plan),
enters the trampoline and runs the program on the VM (the reno kfuncs run on the
simulated socket).  Both runs are measured side by side in one process; the cwnd
traces are compared too (they must be identical).

    python benchmarks/tcp_sim_bpf.py [--seconds 2] [--flows 100] [--repeat 3]

Both simulators run in one process, alternating every ``--slice`` simulated seconds, and
each slice is timed in thread CPU time, so both sides see the same machine load (other
jobs on a shared machine); with ``--repeat`` every slice keeps its best time on each side
and the speeds are sums over the slices.  To compare two trees (before/after a change),
run the script from each with ``PYTHONPATH=<tree>/src`` back to back.
"""

from __future__ import annotations

import argparse
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


def _setup(flows: int) -> tuple[Simulator, Simulator, Callable[[], None]]:
    """The native simulator, the BPF one (reno.bpf.o attached on a fresh embedded kernel)
    with the same flows, and the BPF side's teardown."""
    native = Simulator(_config())
    kernel = EmulatedKernel()
    coll = Collection.open(RENO_OBJ).load(kernel)
    link = coll.maps["so_reno"].attach_struct_ops()
    sim, bridge = kernel_simulator(kernel, _config())
    for s, cc in ((native, "reno"), (sim, "so_reno")):
        for i in range(flows):
            s.add_flow(base_rtt_us=20_000, start_us=i * 100, cc=cc)

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


def main() -> None:
    """Run native and BPF reno side by side and print both speeds and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="simulated seconds per run")
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="runs per side; each slice keeps its best")
    ap.add_argument("--slice", type=float, default=0.05, help="simulated seconds per alternation")
    args = ap.parse_args()

    best: list[list[float]] = []
    same = True
    events = 0
    for _ in range(max(1, args.repeat)):
        native, sim, close = _setup(args.flows)
        slices = _run_sliced((native, sim), args.seconds, args.slice)
        if not best:
            best = [list(t) for t in slices]
        for b, t in zip(best, slices, strict=True):
            b[0], b[1] = min(b[0], t[0]), min(b[1], t[1])
        same = same and all(a.trace == b.trace for a, b in zip(sim.flows, native.flows, strict=True))
        same = same and sim.events == native.events
        events = sim.events
        close()
    n_cpu = sum(b[0] for b in best)
    b_cpu = sum(b[1] for b in best)

    print(f"{args.flows} flows, 100 Mbit/s, 20 ms RTT, {args.seconds:g} s simulated, {events} events")
    for name, cpu in (("native reno", n_cpu), ("BPF reno   ", b_cpu)):
        print(f"{name} : {args.seconds / cpu:6.2f} simulated s / CPU s  ({events / cpu:,.0f} events/s)")
    print(f"ratio BPF/native: {b_cpu / n_cpu:.2f}x   identical cwnd traces: {same}")


if __name__ == "__main__":
    main()
