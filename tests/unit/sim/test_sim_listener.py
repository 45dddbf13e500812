"""Listening sockets: accepted sockets inherit the listener's CC and hold a reference (issue 14).

Linux: the child of a passive open copies the listener's ``icsk_ca_ops`` and takes a
module reference (for a BPF CC, one on its struct_ops map: refcnt = 1 + listener +
each client + each accepted socket); ``tcp_init_transfer`` runs ``init`` on it.  A
listener set up before a struct_ops link update still hands out the old ops.
"""

from __future__ import annotations

import struct
from pathlib import Path

from structops.api import Collection
from structops.api.map import Map
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import KernelTcpSock, kernel_simulator
from structops.sim import SimConfig, Simulator, TcpCongestionOps, reno

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def _refcnt(m: Map) -> int:
    return int(struct.unpack_from("<I", m.lookup(0), 0)[0])


def test_native_accepted_socket_inherits_and_initialises_the_listener_cc() -> None:
    calls: list[str] = []

    def init(sk: object) -> None:
        calls.append("rcv-init" if getattr(sk, "sim_role", "") == "rcv" else "init")

    base = reno()
    traced = TcpCongestionOps(
        name="traced", ssthresh=base.ssthresh, cong_avoid=base.cong_avoid, undo_cwnd=base.undo_cwnd, init=init
    )
    sim = Simulator(SimConfig(sample_interval_us=0))
    sim.register_cc(traced)
    lst = sim.listen("traced")
    accepted = sim.add_flow(cc="reno", listener=lst)
    plain = sim.add_flow(cc="reno", start_us=10)
    sim.run(100_000)
    assert accepted.rcv is not None and accepted.rcv.sk.icsk_ca_ops is traced
    assert accepted.rcv.sk.icsk_ca_initialized == 1
    assert accepted.tp.icsk_ca_ops.name == "reno"  # the client keeps its own choice
    assert plain.rcv is not None and plain.rcv.sk.icsk_ca_ops is None
    assert len(calls) == 1
    lst.close()
    assert lst.closed and lst.sk.icsk_ca_ops is None


def test_bpf_listener_and_accepted_sockets_hold_map_references_across_a_link_update() -> None:
    kernel = EmulatedKernel()
    old = Collection.open(TESTDATA / "reno.bpf.o").load(kernel)
    new = Collection.open(TESTDATA / "reno_v2.bpf.o").load(kernel)
    m_old = old.maps["so_reno"]
    m_new = next(m for m in new.maps.values() if m.spec.struct_ops is not None)
    link = m_old.attach_struct_ops()
    base_old, base_new = _refcnt(m_old), _refcnt(m_new)
    sim, bridge = kernel_simulator(kernel, SimConfig(sample_interval_us=0))
    lst = sim.listen("so_reno")
    assert _refcnt(m_old) == base_old + 1  # the listener
    sim.add_flow(cc="reno", listener=lst)
    sim.at(50_000, lambda s: link.update_map(m_new))
    late = sim.add_flow(cc="reno", listener=lst, start_us=60_000)
    client = sim.add_flow(cc="so_reno", start_us=70_000)
    sim.run(200_000)
    # the update moves the registration's reference from the old map to the new one;
    # the listener and both accepted sockets keep the old map, the new client the new one
    assert _refcnt(m_old) == base_old - 1 + 3
    assert _refcnt(m_new) == base_new + 1 + 1
    assert late.rcv is not None and late.rcv.sk.icsk_ca_ops.name == "so_reno"
    held = late.rcv.sk.holds if isinstance(late.rcv.sk, KernelTcpSock) else None
    assert held is not None and held.kdata is not None
    assert held.kdata.map.id == m_old.id  # accepted after the update: still the old ops
    assert client.tp.icsk_ca_ops is not late.rcv.sk.icsk_ca_ops
    lst.close()
    assert _refcnt(m_old) == base_old - 1 + 2
    bridge.close()
    assert _refcnt(m_old) == base_old - 1 and _refcnt(m_new) == base_new + 1
    link.close()
    new.close()
    old.close()
