"""Host script: run a BPF congestion control on simulated TCP flows, swap it live.

Everything happens in this process on the embedded kernel (no root, no clang): the
shipped example objects are loaded, ``so_reno`` is registered through a struct_ops
link, four flows start, and at 2 s ``BPF_LINK_UPDATE`` replaces it with ``reno_v2``
(same name, faster growth).  Flows that connect afterwards get the new version; the
old ones keep theirs, each socket holding a reference on its map.

    python examples/bpf_cc_sim.py
"""

from __future__ import annotations

import struct

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.run import example_path
from structops.sim import LinkConfig, SimConfig


def refcnt(m: object) -> int:
    """``common.refcnt`` of a struct_ops map lookup (+1 per socket using it)."""
    return int(struct.unpack_from("<I", m.lookup(0), 0)[0])  # type: ignore[attr-defined]


def main() -> None:
    """Load, attach, simulate, swap, report."""
    kernel = EmulatedKernel()
    v1 = Collection.open(example_path("reno")).load(kernel)
    v2 = Collection.open(example_path("reno_v2")).load(kernel)
    link = v1.maps["so_reno"].attach_struct_ops()
    print("available:", kernel.tcp_congestion.available())  # type: ignore[attr-defined]

    cfg = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=33), sample_interval_us=100_000)
    sim, bridge = kernel_simulator(kernel, cfg)
    for i in range(2):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 10_000, cc="so_reno")
    sim.at(2_000_000, lambda s: link.update_map(v2.maps["so_reno_v2"]))
    for i in range(2):
        sim.add_flow(base_rtt_us=20_000, start_us=2_010_000 + i * 10_000, cc="so_reno")
    sim.run(4_000_000)

    for s in sim.summary():
        owner = sim.flows[s.flow_id].ops.owner  # type: ignore[union-attr]
        print(f"flow {s.flow_id}: {owner.kdata.map.name:<11} {s.throughput_bps / 1e6:6.2f} Mbit/s")
    print(f"utilisation {sim.utilisation():.3f}, Jain {sim.jain_fairness():.3f}")
    print("refcnt v1/v2 while running:", refcnt(v1.maps["so_reno"]), refcnt(v2.maps["so_reno_v2"]))
    bridge.close()
    print("refcnt v1/v2 after close:  ", refcnt(v1.maps["so_reno"]), refcnt(v2.maps["so_reno_v2"]))
    link.close()
    v2.close()
    v1.close()


if __name__ == "__main__":
    main()
