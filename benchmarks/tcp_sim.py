"""Benchmark of the TCP simulator: simulated seconds per wall second and events/s.

The reference scenario of docs/tcp-sim.md: 100 bulk flows with native Reno share a
100 Mbit/s bottleneck, 20 ms base RTT, 1 BDP (167 packets) of drop-tail buffer,
delayed ACKs, 100 ms trace sampling.  Prints one line per scenario.

    python benchmarks/tcp_sim.py [--seconds 10] [--flows 100] [--cc reno|cubic]
"""

from __future__ import annotations

import argparse
import time

from structops.sim import LinkConfig, SimConfig, Simulator, cubic


def run(flows: int, seconds: float, cc: str, trace_ops: bool) -> dict[str, float]:
    """Run one scenario and return its measurements."""
    link = LinkConfig(bandwidth_bps=100_000_000, buffer_pkts=167)
    sim = Simulator(SimConfig(link=link, sample_interval_us=100_000, trace_ops=trace_ops))
    if cc != "reno":
        sim.register_cc(cubic())
        sim.set_default_cc(cc)
    for i in range(flows):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 100)
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


def main() -> None:
    """Parse arguments and print the measurements."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--cc", default="reno", choices=["reno", "cubic"])
    args = ap.parse_args()
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
