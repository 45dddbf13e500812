"""Scoreboard invariants hold in random small scenarios (loss, ECN, finite flows)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from structops.sim import LinkConfig, SimConfig, Simulator, cubic


def check(sim: Simulator) -> None:
    for f in sim.flows:
        tp = f.tp
        if f.ops is None:
            continue
        for name in ("packets_out", "sacked_out", "lost_out", "retrans_out", "snd_cwnd"):
            assert 0 <= getattr(tp, name) <= 0xFFFFFFFF, (name, getattr(tp, name))
        assert tp.sacked_out + tp.lost_out <= tp.packets_out
        assert tp.retrans_out <= tp.packets_out
        assert f.una <= f.nxt and tp.packets_out == f.nxt - f.una
        assert tp.snd_una == (f.isn + f.una * f.mss) & 0xFFFFFFFF
        assert tp.delivered >= f.una  # every cumulatively acked segment was delivered
        assert 0 <= tp.icsk_ca_state <= 4


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    flows=st.integers(1, 4),
    buffer=st.integers(2, 60),
    loss=st.sampled_from([0.0, 0.001, 0.02]),
    ecn_k=st.sampled_from([None, 3]),
    use_cubic=st.booleans(),
    delayed=st.booleans(),
)
def test_counters_stay_consistent(
    seed: int, flows: int, buffer: int, loss: float, ecn_k: int | None, use_cubic: bool, delayed: bool
) -> None:
    link = LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=buffer, loss_prob=loss, ecn_threshold_pkts=ecn_k)
    sim = Simulator(SimConfig(link=link, seed=seed, ecn=ecn_k is not None, delayed_ack=delayed, sample_interval_us=0))
    sim.register_cc(cubic())
    for i in range(flows):
        size = None if i % 2 == 0 else 200 * 1448
        sim.add_flow(base_rtt_us=5_000 + 3_000 * i, size_bytes=size, cc="cubic" if use_cubic else None)
    for t in range(1, 9):
        sim.at(t * 50_000, check)
    sim.run(400_000)
    check(sim)
    # tiny buffers can starve a flow in backed-off RTOs, but the link carries data
    assert sum(s.bytes_acked for s in sim.summary()) > 0
