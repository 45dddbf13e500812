"""Swapping congestion control mid-run: link update, default change, per-socket setsockopt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from structops.errors import NotFound
from structops.sim import LinkConfig, SimConfig, Simulator, TcpCongestionOps, cubic

FAST = LinkConfig(bandwidth_bps=1_000_000_000, buffer_pkts=10_000)


def test_link_update_at_time_t_new_sockets_get_new_ops_old_keep_theirs(
    make_recording: Callable[..., TcpCongestionOps],
) -> None:
    """At T a callback swaps 'mycc' v1 for v2 (BPF_LINK_UPDATE) and makes it default."""
    log1: list[Any] = []
    log2: list[Any] = []
    v1 = make_recording("mycc", log1)
    v2 = make_recording("mycc", log2)
    sim = Simulator(SimConfig(link=LinkConfig(bandwidth_bps=50_000_000), sample_interval_us=0, start_jitter_us=0))
    sim.register_cc(v1)
    sim.set_default_cc("mycc")
    early = sim.add_flow(base_rtt_us=10_000)
    late = sim.add_flow(base_rtt_us=10_000, start_us=200_000)
    by_name = sim.add_flow(base_rtt_us=10_000, start_us=200_000, cc="mycc")
    swapped_at: list[int] = []
    una_at_swap: list[int] = []

    def swap(s: Simulator) -> None:
        s.registry.update(v2, v1)
        s.set_default_cc("mycc")
        swapped_at.append(s.now)
        una_at_swap.append(early.una)

    sim.at(100_000, swap)
    sim.run(400_000)
    assert swapped_at == [100_000_000]
    assert early.ops is v1 and late.ops is v2 and by_name.ops is v2
    assert early.una > una_at_swap[0] > 0 and late.una > 0  # everyone kept going
    assert [e[2]["t"] for e in log2 if e[0] == "init"] == [200_000, 200_000]
    assert all(e[2]["t"] < 100_000 or e[0] != "init" for e in log1)
    assert log1[-1][2]["t"] > 300_000  # the old socket still runs v1 after the swap


def test_default_after_update_is_still_old_until_set_again(
    make_recording: Callable[..., TcpCongestionOps],
) -> None:
    v1 = make_recording("mycc", [])
    v2 = make_recording("mycc", [])
    sim = Simulator(SimConfig(link=FAST, sample_interval_us=0))
    sim.register_cc(v1)
    sim.set_default_cc("mycc")
    sim.registry.update(v2, v1)
    f = sim.add_flow()
    sim.run(1000)
    assert f.ops is v1  # net->ipv4.tcp_congestion_control still points at the old ops


def test_setsockopt_on_live_flow_releases_old_and_inits_new(
    make_recording: Callable[..., TcpCongestionOps],
) -> None:
    log_a: list[Any] = []
    log_b: list[Any] = []
    sim = Simulator(SimConfig(link=FAST, sample_interval_us=0))
    sim.register_cc(make_recording("cca", log_a))
    sim.register_cc(make_recording("ccb", log_b))
    f = sim.add_flow(base_rtt_us=10_000, cc="cca")
    sim.run(50_000)
    f.tp.icsk_ca_priv[0] = 7
    sim.at(60_000, lambda s: s.set_flow_cc(f, "ccb"))
    sim.run(100_000)
    assert [e[0] for e in log_a].count("release") == 1
    assert log_a[-1][0] == "release"
    assert log_b[0][0] == "init" and log_b[0][2]["t"] == 60_000
    assert f.tp.icsk_ca_priv[0] == 0  # private area cleared for the new CC
    with pytest.raises(NotFound):
        sim.set_flow_cc(f, "nope")


def test_cubic_and_reno_flows_run_side_by_side() -> None:
    sim = Simulator(SimConfig(link=LinkConfig(bandwidth_bps=50_000_000, buffer_pkts=100), sample_interval_us=0))
    sim.register_cc(cubic())
    r = sim.add_flow(base_rtt_us=20_000)
    c = sim.add_flow(base_rtt_us=20_000, cc="cubic")
    sim.run(5_000_000)
    assert r.ops is not None and r.ops.name == "reno"
    assert c.ops is not None and c.ops.name == "cubic"
    assert sim.utilisation() > 0.85
    assert c.tp.total_retrans > 0 and r.tp.total_retrans > 0
    # CUBIC keeps its state in icsk_ca_priv: W_max was recorded at a loss
    last_max = int.from_bytes(c.tp.icsk_ca_priv[4:8], "little")
    assert last_max > 0
