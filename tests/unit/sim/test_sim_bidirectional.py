"""Server-to-client data: the accepted socket sends with the CC it inherited (issue 14).

Linux: the accepted socket of a passive open runs its listener's congestion control for
the data it sends; the client socket, which chose its own CC at connect time, is then
the receiver.  Each socket holds one reference on a BPF CC's struct_ops map (refcnt =
1 + the listener + each client + each accepted socket), whichever way data flows, and a
listener set up before a struct_ops link update keeps handing out the old ops.  The
simulated link is full duplex: the down direction queues on its own FIFO.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from structops.api import Collection
from structops.api.map import Map
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import KernelTcpSock, kernel_simulator
from structops.sim import LinkConfig, SimConfig, Simulator, TcpFlow, cubic

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"
CFG = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=20), sample_interval_us=50_000)


def _refcnt(m: Map) -> int:
    return int(struct.unpack_from("<I", m.lookup(0), 0)[0])


def _cwnds(flow: TcpFlow) -> list[int]:
    return [row[1] for row in flow.trace]


def _native() -> Simulator:
    sim = Simulator(CFG)
    sim.register_cc(cubic())
    return sim


def _one_way(cc: str) -> list[int]:
    sim = _native()
    flow = sim.add_flow(cc=cc)
    sim.run(2_000_000)
    return _cwnds(flow)


def test_down_data_is_sent_with_the_listener_cc_not_the_client_cc() -> None:
    """Listener reno, client cubic: the down direction's cwnd evolution is reno's."""
    sim = _native()
    lst = sim.listen("reno")
    down = sim.add_flow(cc="cubic", listener=lst, direction="down")
    sim.run(2_000_000)
    assert down.direction == "down" and down.ops is not None and down.ops.name == "reno"
    assert down.rcv is not None and down.rcv.sk.icsk_ca_ops.name == "cubic"  # the client receives
    reno_trace, cubic_trace = _one_way("reno"), _one_way("cubic")
    assert reno_trace != cubic_trace  # the scenario tells the two apart (losses at a 20-packet buffer)
    assert _cwnds(down) == reno_trace
    assert sim.down.tx > 0 and sim.up.tx == 0  # server-to-client data uses the reverse queue
    assert [s.direction for s in sim.summary()] == ["down"]
    assert sim.utilisation() == sim.utilisation("down") > 0.5  # only the down direction is in use


def test_both_directions_share_two_sockets_and_each_direction_of_the_link_fairly() -> None:
    sim = _native()
    lst = sim.listen("reno")
    flows = [sim.add_flow(cc="reno", listener=lst, direction="both", start_us=i * 10_000) for i in range(2)]
    sim.run(8_000_000)
    for up in flows:
        down = up.peer
        assert down is not None and down.peer is up and down.flow_id == up.flow_id + 1
        assert up.rcv is not None and down.rcv is not None
        assert down.tp is up.rcv.sk and down.rcv.sk is up.tp  # one connection, two sockets
    assert [f.direction for f in sim.flows] == ["up", "down", "up", "down"]
    assert sim.utilisation("up") > 0.9 and sim.utilisation("down") > 0.9
    assert 0.9 < sim.utilisation() <= 1.0
    assert sim.jain_fairness() > 0.95
    summaries = {(s.flow_id, s.direction): s.throughput_bps for s in sim.summary()}
    assert len(summaries) == 4
    for way in ("up", "down"):  # each direction adds up to at most the link rate
        assert sum(v for (_, d), v in summaries.items() if d == way) <= 20_000_000


def test_a_finished_direction_leaves_the_sockets_to_the_other_one() -> None:
    released: list[str] = []
    sim = _native()
    base = sim.registry.find("reno")
    assert base is not None
    base.release = lambda sk: released.append(sk.sim_role)
    lst = sim.listen("reno")
    up = sim.add_flow(cc="reno", listener=lst, direction="both", size_bytes=50_000)
    down = up.peer
    assert down is not None
    sim.drop_segment(down, 3)  # the down direction finishes later
    sim.run(3_000_000)
    assert up.closed and down.closed
    assert up.end_us is not None and down.end_us is not None and up.end_us < down.end_us
    assert sorted(released) == ["rcv", "snd"]  # each socket released once, after the last direction


def test_direction_needs_a_listener_and_a_known_name() -> None:
    sim = _native()
    with pytest.raises(ValueError, match="needs a listener"):
        sim.add_flow(direction="down")
    with pytest.raises(ValueError, match="direction must be one of"):
        sim.add_flow(listener=sim.listen(), direction="sideways")


def test_csv_files_name_the_direction_only_for_two_way_runs() -> None:
    one = _native()
    one.add_flow(cc="reno")
    one.run(200_000)
    two = _native()
    two.add_flow(cc="reno", listener=two.listen("reno"), direction="both")
    two.run(200_000)
    heads = []
    for sim in (one, two):
        trace, summary = io.StringIO(), io.StringIO()
        sim.write_trace_csv(trace)
        sim.write_summary_csv(summary)
        heads.append((trace.getvalue().splitlines(), summary.getvalue().splitlines()))
    assert "direction" not in heads[0][0][0] and "direction" not in heads[0][1][0]
    assert heads[1][0][0].endswith(",direction") and heads[1][1][0].endswith(",direction")
    assert heads[1][1][2].endswith(",down")


def _loaded(kernel: EmulatedKernel) -> tuple[Collection, Collection, Map, Map]:
    old = Collection.open(TESTDATA / "reno.bpf.o").load(kernel)
    new = Collection.open(TESTDATA / "reno_v2.bpf.o").load(kernel)
    m_new = next(m for m in new.maps.values() if m.spec.struct_ops is not None)
    return old, new, old.maps["so_reno"], m_new


def test_bpf_refcounts_one_per_socket_whichever_way_data_flows() -> None:
    """refcnt = 1 + listener + each client + each accepted socket, as measured on 6.18."""
    kernel = EmulatedKernel()
    old, new, m_reno, _ = _loaded(kernel)
    link = m_reno.attach_struct_ops()
    base = _refcnt(m_reno)
    sim, bridge = kernel_simulator(kernel, CFG)
    lst = sim.listen("so_reno")
    both = sim.add_flow(cc="so_reno", listener=lst, direction="both")  # a BPF client: 2 sockets
    down = sim.add_flow(cc="reno", listener=lst, direction="down", start_us=10_000)  # native client: 1
    up = sim.add_flow(cc="reno", listener=lst, start_us=20_000)  # 1 (the accepted socket)
    sim.run(1_500_000)
    assert _refcnt(m_reno) == base + 1 + 2 + 1 + 1
    assert isinstance(down.tp, KernelTcpSock) and down.tp.holds is not None
    assert down.tp.holds.kdata is not None and down.tp.holds.kdata.map.id == m_reno.id
    assert both.peer is not None and both.peer.ops is not None and both.peer.ops.name == "so_reno"
    assert down.ops is not None and down.ops.name == "so_reno"  # the accepted socket's BPF reno sends
    assert up.ops is not None and up.ops.name == "reno"  # the client's native reno sends
    lst.close()
    assert _refcnt(m_reno) == base + 4
    bridge.close()
    assert _refcnt(m_reno) == base
    link.close()
    new.close()
    old.close()


def test_bpf_down_data_after_a_link_update_uses_the_listeners_old_ops() -> None:
    kernel = EmulatedKernel()
    old, new, m_old, m_new = _loaded(kernel)
    link = m_old.attach_struct_ops()
    base_old, base_new = _refcnt(m_old), _refcnt(m_new)
    sim, bridge = kernel_simulator(kernel, SimConfig(sample_interval_us=0, trace_ops=True))
    lst = sim.listen("so_reno")
    sim.at(50_000, lambda s: link.update_map(m_new))
    late = sim.add_flow(cc="so_reno", listener=lst, direction="down", start_us=60_000)
    sim.run(400_000)
    assert isinstance(late.tp, KernelTcpSock) and isinstance(late.rcv.sk if late.rcv else None, KernelTcpSock)
    assert late.tp.holds is not None and late.tp.holds.kdata is not None
    assert late.tp.holds.kdata.map.id == m_old.id  # the sender: old ops from the listener
    client = late.rcv.sk if late.rcv is not None else None
    assert isinstance(client, KernelTcpSock) and client.holds is not None and client.holds.kdata is not None
    assert client.holds.kdata.map.id == m_new.id  # the client chose by name after the update
    assert late.oplog is not None
    assert any(op == "cong_avoid" and role == "snd" for _, role, op, _ in late.oplog)
    assert not any(op == "cong_avoid" and role == "rcv" for _, role, op, _ in late.oplog)
    assert _refcnt(m_old) == base_old - 1 + 2 and _refcnt(m_new) == base_new + 1 + 1
    lst.close()
    bridge.close()
    assert _refcnt(m_old) == base_old - 1 and _refcnt(m_new) == base_new + 1
    link.close()
    new.close()
    old.close()
