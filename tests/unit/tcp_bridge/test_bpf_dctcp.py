"""The shipped BPF DCTCP (testdata/dctcp.bpf.c) runs exactly like the native model
(same traces and ``icsk_ca_priv`` bytes on sender and receiver; issue 15)."""

from __future__ import annotations

from pathlib import Path

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.sim import LinkConfig, SimConfig, Simulator
from structops.sim.dctcp import dctcp

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def test_bpf_dctcp_matches_native() -> None:
    cfg = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=60, ecn_threshold_pkts=10), seed=3)
    native = Simulator(cfg)
    native.register_cc(dctcp())
    for _ in range(2):
        native.add_flow(base_rtt_us=20_000, cc="dctcp")
    native.run(2_000_000)
    kernel = EmulatedKernel()
    with Collection.open(TESTDATA / "dctcp.bpf.o").load(kernel) as coll:
        link = coll.maps["bpf_dctcp"].attach_struct_ops()
        sim, bridge = kernel_simulator(kernel, cfg)
        for _ in range(2):
            sim.add_flow(base_rtt_us=20_000, cc="bpf_dctcp")
        sim.run(2_000_000)
        assert sim.link_marks > 0
        for n, b in zip(native.flows, sim.flows, strict=True):
            assert b.trace == n.trace
            assert bytes(b.tp.icsk_ca_priv[:28]) == bytes(n.tp.icsk_ca_priv[:28])
            assert n.rcv is not None and b.rcv is not None
            assert bytes(b.rcv.sk.icsk_ca_priv[:28]) == bytes(n.rcv.sk.icsk_ca_priv[:28])
        bridge.close()
        link.close()
