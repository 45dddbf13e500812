"""The shipped BPF CUBIC (testdata/cubic.bpf.c) runs exactly like the native model.

With one simulated clock (bpf_jiffies64 and tcp_mstamp from simulated time) the BPF
program and structops.sim.cubic must produce the same cwnd trace and the same
``icsk_ca_priv`` bytes (struct bictcp's field order) on the same seed (issue 15).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.sim import LinkConfig, SimConfig, Simulator, cubic

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


@pytest.mark.parametrize(("flows", "buffer_pkts"), [(1, 33), (2, 16)])
def test_bpf_cubic_matches_native(flows: int, buffer_pkts: int) -> None:
    cfg = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=buffer_pkts), seed=11)
    native = Simulator(cfg)
    native.register_cc(cubic())
    for _ in range(flows):
        native.add_flow(base_rtt_us=20_000, cc="cubic")
    native.run(4_000_000)

    kernel = EmulatedKernel()
    with Collection.open(TESTDATA / "cubic.bpf.o").load(kernel) as coll:
        link = coll.maps["bpf_cubic"].attach_struct_ops()
        sim, bridge = kernel_simulator(kernel, cfg)
        for _ in range(flows):
            sim.add_flow(base_rtt_us=20_000, cc="bpf_cubic")
        sim.run(4_000_000)
        assert sum(f.tp.total_retrans for f in sim.flows) > 0  # losses were exercised
        for n, b in zip(native.flows, sim.flows, strict=True):
            assert b.trace == n.trace
            assert bytes(b.tp.icsk_ca_priv[:60]) == bytes(n.tp.icsk_ca_priv[:60])
        bridge.close()
        link.close()
