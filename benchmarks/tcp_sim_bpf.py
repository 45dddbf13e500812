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

Speeds are per wall second and per CPU second of this process (the CPU figure is less
disturbed by other jobs on a shared machine); with ``--repeat`` each side keeps its best.
To compare two trees (before/after a change), run the script from each with
``PYTHONPATH=<tree>/src`` back to back.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.sim import LinkConfig, SimConfig, Simulator

RENO_OBJ = Path(__file__).resolve().parent.parent / "testdata" / "reno.bpf.o"


def _config() -> SimConfig:
    return SimConfig(link=LinkConfig(bandwidth_bps=100_000_000, buffer_pkts=167), sample_interval_us=100_000)


def _measure(sim: Simulator, flows: int, seconds: float, cc: str) -> tuple[float, float, float]:
    """(simulated s per wall s, events per wall s, simulated s per CPU s)."""
    for i in range(flows):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 100, cc=cc)
    t0 = time.perf_counter()
    c0 = time.process_time()
    sim.run(int(seconds * 1_000_000))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return seconds / wall, sim.events / wall, seconds / cpu


def main() -> None:
    """Run native then BPF reno and print both speeds and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="simulated seconds per run")
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1, help="runs per side; the best is kept")
    args = ap.parse_args()

    best_n = best_b = (0.0, 0.0, 0.0)
    same = True
    for _ in range(max(1, args.repeat)):
        native = Simulator(_config())
        nm = _measure(native, args.flows, args.seconds, "reno")
        best_n = max(best_n, nm)

        kernel = EmulatedKernel()
        coll = Collection.open(RENO_OBJ).load(kernel)
        link = coll.maps["so_reno"].attach_struct_ops()
        sim, bridge = kernel_simulator(kernel, _config())
        bm = _measure(sim, args.flows, args.seconds, "so_reno")
        best_b = max(best_b, bm)
        same = same and all(a.trace == b.trace for a, b in zip(sim.flows, native.flows, strict=True))
        bridge.close()
        link.close()
        coll.close()
    n_speed, n_evs, n_cpu = best_n
    b_speed, b_evs, b_cpu = best_b

    print(f"{args.flows} flows, 100 Mbit/s, 20 ms RTT, {args.seconds:g} s simulated, {sim.events} events")
    print(f"native reno : {n_speed:6.2f} simulated s / wall s  ({n_evs:,.0f} events/s), {n_cpu:6.2f} per CPU s")
    print(f"BPF reno    : {b_speed:6.2f} simulated s / wall s  ({b_evs:,.0f} events/s), {b_cpu:6.2f} per CPU s")
    print(f"ratio native/BPF: {n_speed / b_speed:.2f}x   identical cwnd traces: {same}")


if __name__ == "__main__":
    main()
