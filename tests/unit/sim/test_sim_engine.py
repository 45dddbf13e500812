"""Whole-simulation properties: determinism, fairness, utilisation, scale, export."""

from __future__ import annotations

import io

import pytest

from structops.errors import NotFound
from structops.sim import LinkConfig, SimConfig, Simulator, cubic, jain_fairness
from structops.sim.consts import U32
from structops.sim.trace import TRACE_COLUMNS, write_oplog_csv


def lossy_sim(seed: int) -> Simulator:
    cfg = SimConfig(
        link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=30, loss_prob=0.002),
        seed=seed,
        trace_ops=True,
        sample_interval_us=5_000,
    )
    sim = Simulator(cfg)
    sim.register_cc(cubic())
    for i in range(4):
        sim.add_flow(base_rtt_us=10_000 + 7_000 * i, start_us=i * 30_000, cc="cubic" if i % 2 else None)
    sim.run(1_500_000)
    return sim


def fingerprint(sim: Simulator) -> tuple[object, ...]:
    out = io.StringIO()
    sim.write_trace_csv(out)
    ops = io.StringIO()
    write_oplog_csv(sim.flows, ops)
    return (out.getvalue(), ops.getvalue(), sim.events, sim.link_drops, sim.summary())


def test_same_seed_same_everything() -> None:
    a, b = lossy_sim(7), lossy_sim(7)
    assert fingerprint(a) == fingerprint(b)
    assert a.link_drops > 0  # the runs did exercise loss recovery


def test_other_seed_other_run() -> None:
    assert fingerprint(lossy_sim(7))[0] != fingerprint(lossy_sim(8))[0]


def delivered_between(flow: object, t0: int, t1: int) -> int:
    rows = {r[0]: r[4] for r in flow.trace}  # type: ignore[attr-defined]
    return rows[t1] - rows[t0]


def test_two_reno_flows_converge_to_fair_share() -> None:
    """A late starter catches up with an established flow (AIMD converges)."""
    link = LinkConfig(bandwidth_bps=10_000_000, buffer_pkts=20)
    sim = Simulator(SimConfig(link=link, sample_interval_us=100_000))
    a = sim.add_flow(base_rtt_us=20_000)
    b = sim.add_flow(base_rtt_us=20_000, start_us=2_000_000)
    sim.run(40_000_000)
    share = [delivered_between(f, 20_000_000, 40_000_000) for f in (a, b)]
    assert jain_fairness(share) > 0.95
    assert sum(share) * 8 / 20 > 0.9 * 10_000_000 * 1448 / 1500


def test_single_flow_with_bdp_buffer_uses_the_link() -> None:
    link = LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=34)  # ~1 BDP at 20 ms
    sim = Simulator(SimConfig(link=link, sample_interval_us=0))
    sim.add_flow(base_rtt_us=20_000)
    sim.run(6_000_000)
    assert 0.9 < sim.utilisation() <= 1.0


def test_hundred_flows_share_a_bottleneck() -> None:
    link = LinkConfig(bandwidth_bps=100_000_000, buffer_pkts=200)
    sim = Simulator(SimConfig(link=link, sample_interval_us=50_000))
    for i in range(100):
        sim.add_flow(base_rtt_us=20_000 + 100 * i, start_us=i * 1_000)
    sim.run(1_500_000)
    summary = sim.summary()
    assert len(summary) == 100
    assert all(s.bytes_acked > 0 for s in summary)
    assert sum(s.throughput_bps for s in summary) <= 100_000_000
    assert sim.utilisation() > 0.8
    assert 0.0 < sim.jain_fairness() <= 1.0
    assert sim.max_queue <= 200


def test_jain_index_bounds() -> None:
    assert jain_fairness([5.0, 5.0, 5.0]) == pytest.approx(1.0)
    assert jain_fairness([1.0, 0.0, 0.0, 0.0]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        jain_fairness([])


def test_trace_and_summary_csv() -> None:
    sim = Simulator(SimConfig(sample_interval_us=10_000, start_jitter_us=0))
    sim.add_flow()
    sim.add_flow(start_us=50_000)
    sim.run(100_000)
    out = io.StringIO()
    rows = sim.write_trace_csv(out)
    lines = out.getvalue().splitlines()
    assert lines[0].split(",") == list(TRACE_COLUMNS)
    # samples every 10 ms from the first tick after each start (a start at t runs
    # before the sample at t, which was scheduled later)
    assert rows == len(lines) - 1 == 10 + 6
    summ = io.StringIO()
    assert sim.write_summary_csv(summ) == 2
    assert summ.getvalue().splitlines()[0].startswith("flow_id,cc,")


def test_sequence_numbers_wrap_around_u32() -> None:
    """A flow whose ISN is just below 2**32 keeps working across the wrap."""
    sim = Simulator(SimConfig(random_isn=False, sample_interval_us=0))
    flow = sim.add_flow()
    flow.isn = U32 - 50 * 1448
    sim.run(500_000)
    tp = flow.tp
    assert flow.una > 100
    assert tp.snd_una == (flow.isn + flow.una * 1448) & U32 < flow.isn
    assert 0 <= tp.snd_nxt <= U32


@pytest.mark.parametrize(
    "kw",
    [
        {"bandwidth_bps": 0},
        {"buffer_pkts": 0},
        {"loss_prob": 1.0},
        {"loss_prob": -0.1},
        {"ecn_threshold_pkts": -1},
    ],
)
def test_bad_link_config_is_rejected(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LinkConfig(**kw)  # type: ignore[arg-type]


def test_bad_flow_and_time_arguments() -> None:
    sim = Simulator()
    with pytest.raises(NotFound):
        sim.add_flow(cc="nope")
    with pytest.raises(ValueError):
        sim.add_flow(base_rtt_us=0)
    sim.run(1000)
    with pytest.raises(ValueError):
        sim.at(10, lambda s: None)
    with pytest.raises(ValueError):
        sim.run(10)
    with pytest.raises(ValueError):
        SimConfig(mss=0)
