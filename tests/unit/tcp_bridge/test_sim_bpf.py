"""BPF congestion controls of the embedded kernel driving the TCP simulator.

Covers: identical cwnd traces of BPF reno (kfuncs through the VM) and the native Python
Reno; per-socket map references (F2, T6: +1 ``common.refcnt`` per socket, unregister
while in use); setsockopt(TCP_CONGESTION) selection semantics; BPF_LINK_UPDATE hot swap
(T7); cubic_like (CO-RE, ack_sample) and dctcp_like (sk_storage) behaviour.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

import pytest

from structops.api import Collection
from structops.api.map import Map
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.maps.sk_storage import SkStorageMap
from structops.kernel.tcp_bridge import kernel_simulator
from structops.sim import LinkConfig, SimConfig, Simulator
from structops.sim.consts import TCP_CA_Recovery

Loader = Callable[[str], Collection]


def common(m: Map) -> tuple[int, int]:
    """``(common.refcnt, common.state)`` of a struct_ops map lookup (L4)."""
    refcnt, state = struct.unpack_from("<II", m.lookup(0), 0)
    return refcnt, state


LOSSY = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=40, loss_prob=0.002), seed=7)


def _flows(sim: Simulator, cc: str, n: int = 4) -> None:
    for i in range(n):
        sim.add_flow(base_rtt_us=10_000 + 5_000 * i, start_us=i * 1_000, cc=cc)


def test_bpf_reno_trace_is_identical_to_native_reno(kernel: EmulatedKernel, load: Loader) -> None:
    """Same seeded scenario (4 flows, random loss, tail drops, ECN off): identical traces."""
    coll = load("reno")
    link = coll.maps["so_reno"].attach_struct_ops()
    sim, bridge = kernel_simulator(kernel, LOSSY)
    _flows(sim, "so_reno")
    sim.run(2_500_000)
    native = Simulator(LOSSY)
    _flows(native, "reno")
    native.run(2_500_000)
    assert sim.link_drops > 10  # the scenario really exercises loss recovery
    assert any(row[6] == TCP_CA_Recovery for f in native.flows for row in f.trace)
    for bpf_flow, py_flow in zip(sim.flows, native.flows, strict=True):
        assert bpf_flow.trace == py_flow.trace
    assert [s.retransmits for s in sim.summary()] == [s.retransmits for s in native.summary()]
    bridge.close()
    link.close()


def test_each_socket_holds_a_map_reference(kernel: EmulatedKernel, load: Loader) -> None:
    """F2: lookup refcnt grows by one per socket using the CC and drops back on close."""
    coll = load("reno")
    m = coll.maps["so_reno"]
    link = m.attach_struct_ops()
    before = common(m)[0]
    sim, bridge = kernel_simulator(kernel, LOSSY)
    _flows(sim, "so_reno", 3)
    sim.add_flow(cc="reno")  # a native CC holds nothing
    sim.run(50_000)
    assert common(m)[0] == before + 3
    assert [sk.holds is not None for sk in bridge.live_sockets() if sk.sim_role == "snd"] == [True] * 3 + [False]
    bridge.close()
    assert common(m)[0] == before
    assert bridge.live_sockets() == []
    link.close()


def test_sized_flow_releases_and_frees_its_socket_when_done(kernel: EmulatedKernel, load: Loader) -> None:
    """A finished flow runs release, drops the reference and frees its struct tcp_sock."""
    coll = load("reno")
    m = coll.maps["so_reno"]
    link = m.attach_struct_ops()
    before = common(m)[0]
    sim, bridge = kernel_simulator(kernel, LOSSY)
    flow = sim.add_flow(cc="so_reno", size_bytes=50_000)
    sim.run(1_000_000)
    assert flow.closed
    assert common(m)[0] == before
    assert bridge.live_sockets() == [] or all(sk.sim_flow_id != flow.flow_id for sk in bridge.live_sockets())
    bridge.close()
    link.close()


def test_unregister_while_in_use_keeps_sockets_working(kernel: EmulatedKernel, load: Loader) -> None:
    """T6: detaching the link removes the name for new sockets; old ones keep the ops."""
    coll = load("reno")
    m = coll.maps["so_reno"]
    link = m.attach_struct_ops()
    sim, bridge = kernel_simulator(kernel, LOSSY)
    flow = sim.add_flow(cc="so_reno")
    sim.at(300_000, lambda s: link.detach())
    sim.run(1_500_000)
    assert "so_reno" not in kernel.tcp_congestion.available()  # type: ignore[attr-defined]
    assert common(m)[0] == 1  # only the socket holds the map now (the fd is a user ref)
    assert flow.trace[-1][4] > flow.trace[len(flow.trace) // 2][4]  # still delivering
    with pytest.raises(BpfError) as exc:
        sim.add_flow(start_us=1_600_000, cc="so_reno")
    assert exc.value.errno == errno.ENOENT
    bridge.close()
    assert common(m)[0] == 0
    link.close()


def test_selection_errors_follow_setsockopt(kernel: EmulatedKernel) -> None:
    """Unknown names: ENOENT; bbr (listed, not modelled): EOPNOTSUPP; reno/cubic: native."""
    sim, bridge = kernel_simulator(kernel, LOSSY)
    with pytest.raises(BpfError) as exc:
        sim.add_flow(cc="nope")
    assert exc.value.errno == errno.ENOENT
    with pytest.raises(BpfError) as exc:
        sim.add_flow(cc="bbr")
    assert exc.value.errno == errno.EOPNOTSUPP
    assert bridge.registry.default.name == "reno"  # the kernel default bbr falls back to reno
    flow = sim.add_flow(cc="cubic")
    sim.run(200_000)
    assert flow.ops is not None and flow.ops.name == "cubic" and flow.ops.cong_avoid is not None
    with pytest.raises(BpfError) as exc:
        bridge.registry.set_default("nope")
    assert exc.value.errno == errno.ENOENT
    bridge.close()


def test_link_update_hot_swap_old_sockets_keep_old_version(kernel: EmulatedKernel, load: Loader) -> None:
    """T7: after BPF_LINK_UPDATE new sockets get reno_v2, old ones keep (and hold) reno."""
    v1 = load("reno")
    v2 = load("reno_v2")
    m1, m2 = v1.maps["so_reno"], v2.maps["so_reno_v2"]
    link = m1.attach_struct_ops()
    sim, bridge = kernel_simulator(kernel, LOSSY)
    for i in range(2):
        sim.add_flow(start_us=i * 1_000, cc="so_reno")
    sim.at(800_000, lambda s: link.update_map(m2))
    for i in range(3):
        sim.add_flow(start_us=1_000_000 + i * 1_000, cc="so_reno")
    sim.run(2_000_000)
    used = [f.ops.owner.kdata.map.name for f in sim.flows if f.ops is not None]
    assert used == ["so_reno", "so_reno", "so_reno_v2", "so_reno_v2", "so_reno_v2"]
    assert common(m1)[0] == 2  # the two old sockets; the link moved to m2
    assert common(m2)[0] == 1 + 3  # the link + three new sockets
    v2_init, v2_cong_avoid = struct.unpack_from("<QQ", v2.maps[".bss"].lookup(0), 0)
    assert v2_init == 3 and v2_cong_avoid > 0
    bridge.close()
    assert (common(m1)[0], common(m2)[0]) == (0, 1)
    link.close()


def test_cubic_like_runs_and_reacts_to_loss(kernel: EmulatedKernel, load: Loader) -> None:
    """CO-RE cubic_like (private area, ack_sample): no faults, link used, cwnd cut on loss."""
    coll = load("cubic_like")
    link = coll.maps["so_cubic"].attach_struct_ops()
    cfg = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=60), seed=3)
    sim, bridge = kernel_simulator(kernel, cfg)
    for i in range(3):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 1_000, cc="so_cubic")
    sim.run(2_500_000)
    assert sim.utilisation() > 0.9
    assert sim.link_drops > 0
    for f in sim.flows:
        cwnds = [row[1] for row in f.trace]
        peak = cwnds.index(max(cwnds))
        assert min(cwnds[peak:]) < max(cwnds)  # a loss cut the window after the peak
    bridge.close()
    link.close()


def test_dctcp_like_uses_sk_storage_and_ecn(kernel: EmulatedKernel, load: Loader) -> None:
    """dctcp_like: storage per socket (created in init, deleted in release), CE marks cut cwnd."""
    coll = load("dctcp_like")
    link = coll.maps["so_dctcp"].attach_struct_ops()
    stg = [o for o in kernel.ids["map"] if isinstance(o, SkStorageMap)]
    assert len(stg) == 1
    cfg = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=60, ecn_threshold_pkts=15), seed=3)
    sim, bridge = kernel_simulator(kernel, cfg)
    for i in range(2):
        sim.add_flow(base_rtt_us=20_000, start_us=i * 1_000, cc="so_dctcp")
    sim.run(2_000_000)
    senders = [sk for sk in bridge.live_sockets() if sk.sim_role == "snd"]
    assert sorted(stg[0].owners()) >= sorted(sk.addr for sk in senders)
    for sk in senders:
        value = stg[0].value_of(sk.addr)
        assert value is not None
        alpha, _, _, _, updates = struct.unpack_from("<5I", value)
        assert updates > 0 and alpha < 1024
    assert sim.link_marks > 0 and sim.link_drops == 0
    assert sim.utilisation() > 0.9
    assert struct.unpack_from("<Q", coll.maps[".bss"].lookup(0), 0)[0] == 0  # n_storage_miss
    bridge.close()
    assert len(stg[0]) == 0
    link.close()
